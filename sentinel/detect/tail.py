"""Calibrating batch detectors: residual sizes -> scores on the DESIGN §2 scale.

A batch detector measures each residual in robust units (``|r| / scale``)
and then needs ``score = P(|Z| <= z)`` under the residuals it learned, so
that on normal data the fraction of scores >= t is 1 - t.  Gaussian
assumptions fail on real metrics (heavy tails, integer counts), so
:class:`TailCalibration` keeps, per series, the empirical quantiles of
``|z|`` up to the 95th percentile and an exponential tail beyond it whose
mean excess (capped, so one huge spike cannot inflate it) is shrunk towards the Gaussian one when few points exceed it
(a few hundred points cannot pin a 1-in-1000 tail on their own).

>>> import numpy as np
>>> z = np.abs(np.random.default_rng(1).normal(size=(1, 20000)))
>>> cal = TailCalibration().fit(z)
>>> np.round(cal.cdf(np.array([[0.6745, 1.96, 2.576]]), np.array([0])), 2).tolist()
[[0.5, 0.95, 0.99]]
"""

from __future__ import annotations

import warnings

import numpy as np

PROBS = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
TAIL_P = 1.0 - PROBS[-1]
# half-normal quantiles at PROBS and the mean excess of |N(0,1)| over its 95th percentile
_GAUSS_Q = np.array([0.0, 0.1257, 0.2533, 0.3853, 0.5244, 0.6745, 0.8416, 1.0364, 1.2816, 1.6449, 1.9600])
_GAUSS_BETA = 0.378
_PRIOR_COUNT = 20.0


def row_nanquantiles(a: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Quantiles of each row ignoring NaN, (rows, len(probs)); NaN for empty rows.

    One sort for all rows: numpy's ``nanquantile`` falls back to a Python
    loop over rows as soon as any NaN is present.

    >>> row_nanquantiles(np.array([[1.0, np.nan, 3.0, 2.0]]), np.array([0.0, 0.5, 1.0])).tolist()
    [[1.0, 2.0, 3.0]]
    """
    srt = np.sort(a, axis=1)  # NaN sort last
    n = np.isfinite(a).sum(1)
    pos = probs[None, :] * np.maximum(n - 1, 0)[:, None]
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0)[:, None])
    vlo, vhi = np.take_along_axis(srt, lo, 1), np.take_along_axis(srt, hi, 1)
    out = vlo + (pos - lo) * (vhi - vlo)
    return np.where((n > 0)[:, None], out, np.nan)


def robust_scale(resid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-row residual scale: 1.4826 MAD, else 1.2533 mean |dev|, floored relative to the level.

    The fallbacks keep mostly-constant series (MAD = 0) from dividing by zero
    while still making any change on a truly constant series look large.
    """
    half = np.array([0.5])
    med = row_nanquantiles(resid, half)
    dev = np.abs(resid - med)
    mad = 1.4826 * row_nanquantiles(dev, half)[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_ad = 1.2533 * np.nanmean(dev, axis=1)
    level = row_nanquantiles(np.abs(values), half)[:, 0]
    floor = 1e-9 + 1e-6 * np.nan_to_num(level)
    scale = np.where(mad > 0, mad, mean_ad)
    scale = np.where(np.isfinite(scale), scale, 1.0)
    return np.maximum(scale, floor)


class TailCalibration:
    """Per-row empirical CDF of residual sizes with an exponential tail."""

    def get_params(self) -> dict[str, object]:
        return {}

    def fit(self, z_abs: np.ndarray) -> TailCalibration:
        """Learn from ``z_abs`` (rows x samples, NaN = unusable)."""
        n = np.isfinite(z_abs).sum(1)
        q = row_nanquantiles(z_abs, PROBS)  # (rows, K)
        empty = n < 10
        q[empty] = _GAUSS_Q
        q = np.maximum.accumulate(np.nan_to_num(q), axis=1)
        over = np.where(np.isfinite(z_abs), z_abs - q[:, -1:], np.nan)
        over = np.where(over > 0, over, np.nan)
        n_over = np.isfinite(over).sum(1)
        # mean excess with each excess capped at 10 exponential scales estimated from the median
        # excess: as heavy-tailed as the data, yet unmoved by one 1e9 spike (a plain mean would be)
        cap = 10.0 / np.log(2.0) * np.nan_to_num(row_nanquantiles(over, np.array([0.5]))[:, 0])
        beta = np.nansum(np.minimum(over, cap[:, None]), axis=1) / np.maximum(n_over, 1)
        self.q_ = q
        self.beta_ = (n_over * beta + _PRIOR_COUNT * _GAUSS_BETA) / (n_over + _PRIOR_COUNT)
        self.beta_ = np.where(empty, _GAUSS_BETA, self.beta_)
        return self

    def cdf(self, z_abs: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``P(|Z| <= z)`` for ``z_abs`` (len(rows) x T); NaN stays NaN."""
        q = self.q_[rows][:, None, :]  # (R, 1, K)
        z = np.nan_to_num(z_abs, nan=0.0)
        below = (z[..., None] > q).sum(-1)  # table quantiles strictly below z
        upto = (z[..., None] >= q).sum(-1)
        k = len(PROBS)
        hi_i = np.clip(below, 0, k - 1)[..., None]
        lo_i = np.clip(below - 1, 0, k - 1)[..., None]
        lo, hi = np.take_along_axis(q, lo_i, -1)[..., 0], np.take_along_axis(q, hi_i, -1)[..., 0]
        gap = hi - lo
        frac = np.divide(z - lo, gap, out=np.zeros_like(gap), where=gap > 0)
        body = PROBS[lo_i[..., 0]] + frac * (PROBS[hi_i[..., 0]] - PROBS[lo_i[..., 0]])
        tied = (PROBS[np.clip(below, 0, k - 1)] + PROBS[np.clip(upto - 1, 0, k - 1)]) / 2
        body = np.where(upto > below, tied, np.where(below == 0, 0.0, body))
        beta = np.maximum(self.beta_[rows][:, None], 1e-12)
        with np.errstate(over="ignore"):  # far below the tail start (used only above it): exp overflows harmlessly
            tail = 1.0 - TAIL_P * np.exp(-(z - self.q_[rows][:, -1:]) / beta)
        p = np.where(below >= k, tail, body)
        return np.where(np.isnan(z_abs), np.nan, np.clip(p, 0.0, 1.0))

    def quantile(self, p: float) -> np.ndarray:
        """Per-row residual size whose CDF is ``p`` (inverse of :meth:`cdf`)."""
        if p >= PROBS[-1]:
            return self.q_[:, -1] + self.beta_ * np.log(TAIL_P / max(1.0 - p, 1e-300))
        j = int(np.searchsorted(PROBS, p, side="right")) - 1
        frac = (p - PROBS[j]) / (PROBS[j + 1] - PROBS[j])
        return self.q_[:, j] + frac * (self.q_[:, j + 1] - self.q_[:, j])
