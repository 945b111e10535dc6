"""Score calibration: one [0, 1] scale for every detector (DESIGN §2).

A detector produces a raw, signed statistic per point (a standardised
residual, a change statistic, ...).  Its meaning differs per series: a
residual of 4 scales is routine on a bursty tweet count and unheard of on a
smooth CPU curve.  :class:`TailCalibrator` learns, per series, the decayed
distribution of that statistic and maps a new value to

    score = 1 - p,   p = 2 * min(P(R >= r), P(R <= r))

the two-sided tail probability under what was learned, so that on normal
data the fraction of points with ``score >= t`` is close to ``1 - t``.

How (vectorised over series, small state):

- a cumulative histogram per side (up / down) in log-spaced bins of ``|r|``:
  ``tail[s, side, k]`` is the decayed weight of points on that side with
  ``|r| >= edge[k]``; a query is two gathers plus a log-log interpolation
  (tails fall off like a power inside a bin, not linearly);
- decay without touching every bin each step: increments grow by
  ``1/decay`` per learned point and rows are renormalised when they get
  large (same result as decaying every bin);
- learning only every ``stride``-th point of a series (by its own counter,
  so results do not depend on how a stream is cut into batches): the
  distribution needs a fair sample, not every point, and the histogram update
  is the one O(bins) operation per series;
- a conservative parametric tail: a power-law prior (``(1 + z/2)^-4`` by default) worth
  ``prior_weight`` points is blended in, so a fresh series is judged gently and
  values beyond anything observed get a finite, monotone tail probability.

>>> import numpy as np
>>> cal = TailCalibrator()
>>> st = cal.init_state(1)
>>> rng = np.random.default_rng(0)
>>> for r in rng.normal(size=4000):
...     cal.learn(st, np.array([r]), np.ones(1))
>>> [round(float(cal.score(st, np.array([r]))[0]), 3) for r in (0.0, 1.0, 2.6, -2.6, 8.0)]
[0.023, 0.7, 0.982, 0.994, 1.0]
"""

from __future__ import annotations

import numpy as np


def prior_tail(z: np.ndarray, scale: float = 2.0, power: float = 4.0) -> np.ndarray:
    """One-sided prior tail ``(1 + z/scale)^-power`` for a statistic in units of its mean absolute value.

    A power law, heavier than Gaussian or Laplace on purpose: before a series
    has shown its tail, a big value is judged gently.
    """
    return (1.0 + np.maximum(z, 0.0) * (1.0 / scale)) ** -power


class TailCalibrator:
    """Per-series calibration of a signed statistic to a [0, 1] score.

    ``edges`` are the bin edges of ``|r|`` (first edge 0).  ``half_life`` is
    in learned points; ``stride`` learns every n-th point of a series.
    """

    def __init__(
        self,
        prefix: str = "cal",
        n_bins: int = 18,
        z_min: float = 0.15,
        z_max: float = 200.0,
        half_life: float = 3000.0,
        stride: int = 1,
        prior_weight: float = 10.0,
        prior_scale: float = 2.0,
        prior_power: float = 4.0,
    ) -> None:
        self.prefix = prefix
        self.edges = np.concatenate([[0.0], np.geomspace(z_min, z_max, n_bins - 1)])
        self.log_edges = np.log(np.maximum(self.edges, 1e-300))
        self.n_bins = n_bins
        self.stride = stride
        self.grow = 0.5 ** (-stride / half_life)  # per learned point
        self.prior_weight = prior_weight
        self.prior_scale = prior_scale
        self.prior_power = prior_power
        widths = np.diff(self.log_edges[1:])
        self._inv_width = np.r_[0.0, 1.0 / widths, 0.0]
        self._inv_first = 1.0 / self.edges[1]

    # -- state ------------------------------------------------------------------
    def init_state(self, n: int, m: int = 1) -> dict[str, np.ndarray]:
        """State for ``n`` series and ``m`` statistics per series (e.g. ensemble members)."""
        p = self.prefix
        return {
            f"{p}.tail": np.zeros((n, m, 2 * self.n_bins), dtype=np.float32),
            f"{p}.inc": np.ones((n, m)),
            f"{p}.count": np.zeros((n, m), dtype=np.int64),
        }

    # -- scoring -----------------------------------------------------------------
    def pvalue(self, state: dict[str, np.ndarray], r: np.ndarray) -> np.ndarray:
        """Two-sided tail probability of ``r`` (shape ``(n,)`` or ``(n, m)``; NaN stays NaN)."""
        p = self.prefix
        tail = state[f"{p}.tail"]
        inc = state[f"{p}.inc"].reshape(-1)
        nb = self.n_bins
        shape = r.shape
        r = r.reshape(-1)
        z = np.minimum(np.abs(r), 1e300)  # an infinite residual is the most extreme, not missing
        k = np.minimum(np.searchsorted(self.edges, z, side="right") - 1, nb - 1)
        row = np.arange(len(r)) * (2 * nb)
        base = row + (r < 0) * nb
        flat = tail.reshape(-1)
        c_lo = np.take(flat, base + k)
        last = k == nb - 1
        c_hi = np.take(flat, base + np.minimum(k + 1, nb - 1))
        # interpolate in log |r| inside the bin (linearly in |r| in the first bin)
        lz = np.log(np.maximum(z, self.edges[1]))
        frac = np.where(k == 0, z * self._inv_first, (lz - self.log_edges[k]) * self._inv_width[k])
        pr = prior_tail(z, self.prior_scale, self.prior_power)
        frac = np.minimum(frac, 1.0)
        # tails fall off like a power of |r| inside a bin (log-log interpolation); past the
        # last occupied edge they decay like the prior
        with np.errstate(divide="ignore", invalid="ignore"):
            power = c_lo * (c_hi / c_lo) ** frac
            decay = c_lo * pr / prior_tail(self.edges[k], self.prior_scale, self.prior_power)
        emp = np.where(last | (c_hi <= 0), decay, np.where(k == 0, c_lo + (c_hi - c_lo) * frac, power))
        emp = np.where(c_lo > 0, emp, 0.0)
        total = np.take(flat, row) + np.take(flat, row + nb)
        w = self.prior_weight
        q = (emp / inc + (0.5 * w) * pr) / (total / inc + w)
        pv = 2.0 * np.minimum(q, 1.0 - q)
        return np.where(np.isnan(r), np.nan, pv).reshape(shape)

    def score(self, state: dict[str, np.ndarray], r: np.ndarray) -> np.ndarray:
        """Calibrated score ``1 - p`` (NaN where ``r`` is NaN)."""
        return 1.0 - self.pvalue(state, r)

    # -- learning ------------------------------------------------------------------
    def learn(self, state: dict[str, np.ndarray], r: np.ndarray, weight: np.ndarray) -> None:
        """Add ``r`` (shape as in :meth:`pvalue`) with per-series ``weight``; NaN and weight 0 are skipped."""
        p = self.prefix
        tail = state[f"{p}.tail"]
        nb = self.n_bins
        r2 = r.reshape(len(tail), -1)
        w2 = np.broadcast_to(weight.reshape(len(tail), -1), r2.shape)
        ok = ~np.isnan(r2) & (w2 > 0)
        count = state[f"{p}.count"]
        count += ok
        if self.stride > 1:
            ok &= count % self.stride == 1
        if not ok.any():
            return
        inc = state[f"{p}.inc"]
        add = np.where(ok, w2 * inc, 0.0) * np.where(r2 == 0, 0.5, 1.0)  # an exact 0 is half up, half down
        mask = np.abs(r2)[..., None] >= self.edges
        up, down = tail[..., :nb], tail[..., nb:]
        np.add(up, np.where(r2 >= 0, add, 0.0).astype(np.float32)[..., None], out=up, where=mask)
        np.add(down, np.where(r2 <= 0, add, 0.0).astype(np.float32)[..., None], out=down, where=mask)
        inc *= np.where(ok, self.grow, 1.0)
        big = inc > 1e18
        if big.any():
            tail[big] /= inc[big][:, None].astype(np.float32)
            inc[big] = 1.0

    def weight_seen(self, state: dict[str, np.ndarray]) -> np.ndarray:
        """Effective number of learned points per series and statistic (decayed)."""
        p = self.prefix
        tail = state[f"{p}.tail"]
        return (tail[..., 0].astype(np.float64) + tail[..., self.n_bins]) / state[f"{p}.inc"]
