"""Batch seasonal-decomposition detector, vectorised over series (retrained periodically).

``STLDetector().fit(history)`` splits every series into a trend, one seasonal
profile per period (daily, then weekly when the history holds at least
``min_cycles`` of them) and a residual; ``score(batch)`` then scores new data
on the calibrated scale of DESIGN §2.

Why not call statsmodels per series?  Its robust STL costs seconds per
two-week 5-minute series here (``benchmarks/batch_fit.py`` measures it), while
a fleet has thousands of series.  ``method="fast"`` (the default) runs the
same idea as STL's robust loop on all series at once: a weighted centred
moving-average trend, weighted mean profiles per phase bin, and bisquare
robustness weights, each a handful of array operations.
``method="statsmodels"`` runs STL/MSTL (``robust=True``) per series instead
and is kept as the reference.

Scoring is honest about what fitting overfits: the residuals the score is
calibrated on use leave-one-cycle-out seasonal profiles and a *trailing* level
(the mean of the deseasonalised previous ``trend_window``), which is exactly
how ``score`` predicts new data.  ``score`` tracks the level causally from the
end of the history through the batch, so a batch scores the same however it
is split from the history's end on, and a refit is what moves the baseline.

>>> import numpy as np
>>> from sentinel.series import Batch
>>> rng = np.random.default_rng(0)
>>> ts = np.arange(0, 14 * 86400, 300)
>>> day = np.sin(2 * np.pi * ts / 86400)
>>> hist = Batch.from_rows([{"s": "a"}], ts, 10 + 3 * day + rng.normal(0, 0.5, len(ts)))
>>> det = STLDetector().fit(hist)
>>> det.periods_
(288, 2016)
>>> nxt = ts[-1] + 300 * np.arange(1, 5)
>>> new = Batch.from_rows([{"s": "a"}], nxt, [10 + 3 * np.sin(2 * np.pi * nxt / 86400) + [0, 0, 6, 0]])
>>> (det.score(new).score[0] > 0.99).tolist()
[False, False, True, False]
"""

from __future__ import annotations

import time

import numpy as np
from prometheus_client import Histogram

from sentinel.detect.base import Scores
from sentinel.detect.tail import TailCalibration, robust_scale, row_nanquantiles
from sentinel.series import Batch, SeriesIndex

DAY = 86400
WEEK = 7 * DAY

FIT_SECONDS = Histogram("sentinel_batch_fit_seconds", "Time to fit a batch detector on a history, by detector",
                        ["detector"], buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300))


def _bins(timestamps: np.ndarray, step: int, period: int, n_bins: int) -> np.ndarray:
    """Phase bin of each timestamp, anchored to absolute time (so new data lines up)."""
    return ((timestamps // step) % period) * n_bins // period


def _binned_sums(y: np.ndarray, w: np.ndarray, b: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-series weighted sums and weights per bin, with one bincount over all series."""
    n = y.shape[0]
    idx = (np.arange(n)[:, None] * n_bins + b[None, :]).ravel()
    num = np.bincount(idx, weights=(w * y).ravel(), minlength=n * n_bins).reshape(n, n_bins)
    den = np.bincount(idx, weights=w.ravel(), minlength=n * n_bins).reshape(n, n_bins)
    return num, den


def _window_sums(a: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sums of ``a[:, lo:hi]`` for every column window, via one cumulative sum."""
    c = np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a, axis=1)], axis=1)
    return c[:, hi] - c[:, lo]


def _centred_mean(y: np.ndarray, w: np.ndarray, width: int) -> np.ndarray:
    """Weighted centred moving average; held constant over the first and last half window.

    Shrinking windows at the edges would average part of a seasonal cycle and
    leak it into the trend (and from there into the profiles).
    """
    n = y.shape[1]
    width = min(width, n)
    t = np.clip(np.arange(n), width // 2, n - (width - width // 2))
    lo, hi = t - width // 2, t + width - width // 2
    num, den = _window_sums(w * y, lo, hi), _window_sums(w, lo, hi)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _trailing_mean(y: np.ndarray, w: np.ndarray, width: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of the previous ``width`` columns, for columns ``start`` on, and its weight."""
    t = np.arange(start, y.shape[1])
    lo = np.maximum(t - width, 0)
    num, den = _window_sums(w * y, lo, t), _window_sums(w, lo, t)
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0), den


def _bisquare(r: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """STL's robustness weights: (1 - (r / 6 median|r|)^2)^2, zero for missing points."""
    h = 6.0 * np.nan_to_num(row_nanquantiles(np.where(ok, np.abs(r), np.nan), np.array([0.5])))
    u = np.abs(r) / np.maximum(h, 1e-12)
    return np.where(ok & (u < 1), (1 - u**2) ** 2, 0.0)


def _prescreen(x: np.ndarray, ok: np.ndarray, k: float = 10.0) -> np.ndarray:
    """First-pass weights: drop gross outliers (beyond ``k`` robust spreads of the whole series).

    Without it a single 1e9 spike leaks into the first pass's trend and
    profiles, whose errors can cancel in the residual and so survive the
    bisquare reweighting.
    """
    xs = np.where(ok, x, np.nan)
    q = row_nanquantiles(xs, np.array([0.25, 0.5, 0.75]))
    spread = np.maximum(np.nan_to_num(q[:, 2] - q[:, 0]), 1e-12)[:, None]
    return (ok & (np.abs(x - np.nan_to_num(q[:, 1:2])) <= k * spread)).astype(np.float64)


class STLDetector:
    """Seasonal decomposition + calibrated residual scores for many series at once.

    Parameters: ``periods`` ("auto" = daily and weekly from the step, each kept
    only when the history covers ``min_cycles`` of it; or explicit seconds),
    ``weekly_bins`` (resolution of every period after the first: the weekly
    profile models day-of-week and hour-of-week effects only, since two
    weeks cannot pin 2016 separate phases), ``trend_window`` (seconds),
    ``band_prob`` (the band is where the score stays below this),
    ``robust_iter`` (robustness passes) and ``method`` ("fast" or "statsmodels").
    """

    def __init__(self, periods: str | tuple[int, ...] = "auto", min_cycles: float = 2.0, weekly_bins: int = 168,
                 trend_window: int = DAY, band_prob: float = 0.99, robust_iter: int = 2,
                 method: str = "fast") -> None:
        self.periods = periods
        self.min_cycles = min_cycles
        self.weekly_bins = weekly_bins
        self.trend_window = trend_window
        self.band_prob = band_prob
        self.robust_iter = robust_iter
        self.method = method

    def get_params(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("periods", "min_cycles", "weekly_bins", "trend_window",
                                              "band_prob", "robust_iter", "method")}

    # -- fitting ----------------------------------------------------------------
    def _check_params(self) -> None:
        if self.method not in ("fast", "statsmodels"):
            raise ValueError(f"method must be 'fast' or 'statsmodels', got {self.method!r}")
        if not 0.5 <= self.band_prob < 1:
            raise ValueError(f"band_prob must be in [0.5, 1), got {self.band_prob}")
        if self.min_cycles < 1 or self.robust_iter < 1 or self.weekly_bins < 1 or self.trend_window <= 0:
            raise ValueError("min_cycles >= 1, robust_iter >= 1, weekly_bins >= 1 and trend_window > 0 are required")

    def _choose_periods(self, step: int, n: int) -> tuple[int, ...]:
        wanted = (DAY, WEEK) if self.periods == "auto" else tuple(int(p) for p in self.periods)  # type: ignore[union-attr]
        out = []
        for seconds in sorted(wanted):
            p = round(seconds / step)
            if p >= 4 and n >= self.min_cycles * p and p not in out:
                out.append(p)
        return tuple(out)

    def fit(self, history: Batch) -> STLDetector:
        """Learn profiles, scales and residual tails from ``history`` (series x time)."""
        self.fit_transform(history)
        return self

    def fit_transform(self, history: Batch) -> np.ndarray:
        """Fit, and return the history's honest standardised residuals (NaN where unusable).

        These are the out-of-sample-like residuals the score is calibrated on
        (leave-one-cycle-out profiles, trailing level), which is what a downstream
        model such as :mod:`sentinel.detect.multivariate` should learn from.
        """
        t0 = time.perf_counter()
        self._check_params()
        if not isinstance(history, Batch):
            raise TypeError(f"fit expects a Batch, got {type(history).__name__}")
        if history.n_steps < 2:
            raise ValueError(f"fit needs at least 2 time steps of history, got {history.n_steps}")
        x, ts, step = history.values, history.timestamps, history.step
        self.step_ = step
        self.index_ = SeriesIndex(history.labels)
        self.periods_ = self._choose_periods(step, history.n_steps)
        self.bins_ = tuple(p if i == 0 else min(p, self.weekly_bins) for i, p in enumerate(self.periods_))
        self.window_ = max(2, min(round(self.trend_window / step), history.n_steps // 2))
        ok = np.isfinite(x)
        xf = np.where(ok, x, 0.0)
        bins = [_bins(ts, step, p, nb) for p, nb in zip(self.periods_, self.bins_, strict=True)]
        parts, w = (self._decompose_fast if self.method == "fast" else self._decompose_sm)(xf, ok, bins)

        # profiles from the final parts; leave-one-cycle-out versions for honest calibration
        seas = np.zeros_like(xf)
        seas_loo = np.zeros_like(xf)
        self.profiles_ = []
        for d, b, p, nb in zip(parts, bins, self.periods_, self.bins_, strict=True):
            num, den = _binned_sums(d, w, b, nb)
            prof = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
            centre = (prof * den).sum(1, keepdims=True) / np.maximum(den.sum(1, keepdims=True), 1e-12)
            self.profiles_.append(prof - centre)
            seas += prof[:, b] - centre
            # leave the point's whole cycle out: a bin shared by neighbouring points of one cycle
            # would otherwise absorb their common noise and make residuals look calmer than new data
            cyc = (ts // step) // p
            cb = b + nb * (cyc - cyc[0])
            num_c, den_c = _binned_sums(d, w, cb, nb * int(cyc[-1] - cyc[0] + 1))
            rest = den[:, b] - den_c[:, cb]
            loo = np.divide(num[:, b] - num_c[:, cb], rest, out=prof[:, b].copy(), where=rest > 0.5)
            seas_loo += loo - centre
        y = xf - seas
        level, wsum = _trailing_mean(y, w, self.window_, 0)
        resid = xf - seas_loo - level
        usable = ok & (wsum >= max(1.0, self.window_ / 4))
        resid = np.where(usable, resid, np.nan)
        self.scale_ = robust_scale(resid, np.where(ok, x, np.nan))
        self.tail_ = TailCalibration().fit(np.abs(resid) / self.scale_[:, None])
        self.last_y_ = y[:, -self.window_:].copy()
        self.last_w_ = w[:, -self.window_:].copy()
        FIT_SECONDS.labels("stl").observe(time.perf_counter() - t0)
        return resid / self.scale_[:, None]

    def _decompose_fast(self, xf: np.ndarray, ok: np.ndarray, bins: list[np.ndarray]
                        ) -> tuple[list[np.ndarray], np.ndarray]:
        """STL's robust loop, vectorised: returns each period's detrended input and the weights."""
        w = _prescreen(xf, ok)
        width = self.periods_[0] if self.periods_ else self.window_
        comps = [np.zeros_like(xf) for _ in bins]
        parts = comps
        for _ in range(self.robust_iter):
            trend = _centred_mean(xf - sum(comps, np.zeros_like(xf)), w, width)
            parts = []
            for i, (b, nb) in enumerate(zip(bins, self.bins_, strict=True)):
                d = xf - trend - sum((c for k, c in enumerate(comps) if k != i), np.zeros_like(xf))
                num, den = _binned_sums(d, w, b, nb)
                prof = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
                comps[i] = prof[:, b]
                parts.append(d)
            w = _bisquare(xf - trend - sum(comps, np.zeros_like(xf)), ok)
        return parts, w

    def _decompose_sm(self, xf: np.ndarray, ok: np.ndarray, bins: list[np.ndarray]
                      ) -> tuple[list[np.ndarray], np.ndarray]:
        """The reference: statsmodels STL/MSTL (robust) per series, gaps linearly filled."""
        from statsmodels.tsa.seasonal import MSTL, STL

        n_s, n_t = xf.shape
        comps = np.zeros((len(bins), n_s, n_t))
        trend = np.zeros_like(xf)
        t = np.arange(n_t)
        usable = tuple(p for p in self.periods_ if 2 * p < n_t)  # MSTL drops longer ones itself, noisily
        for s in range(n_s):
            if not ok[s].any():
                continue
            v = np.interp(t, t[ok[s]], xf[s, ok[s]])
            if len(usable) == 1:
                res = STL(v, period=usable[0], robust=True).fit()
                comps[0, s] = res.seasonal
            elif usable:
                res = MSTL(v, periods=usable, stl_kwargs={"robust": True}).fit()
                seasonal = np.asarray(res.seasonal).reshape(n_t, -1)
                comps[: seasonal.shape[1], s] = seasonal.T
            else:
                trend[s] = _centred_mean(v[None], np.ones((1, n_t)), self.window_)[0]
                continue
            trend[s] = res.trend
        total = comps.sum(0)
        parts = [xf - trend - (total - comps[i]) for i in range(len(bins))]
        return parts, _bisquare(xf - trend - total, ok)

    # -- scoring ----------------------------------------------------------------
    def _check_fitted(self, batch: Batch) -> None:
        if not hasattr(self, "scale_"):
            raise RuntimeError("STLDetector is not fitted: call fit(history) first")
        if not isinstance(batch, Batch):
            raise TypeError(f"score expects a Batch, got {type(batch).__name__}")
        if batch.step != self.step_:
            raise ValueError(f"batch step {batch.step}s differs from the fitted step {self.step_}s")

    def seasonal(self, rows: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """The learned seasonal component of series ``rows`` at ``timestamps``."""
        out = np.zeros((len(rows), len(timestamps)))
        for prof, p, nb in zip(self.profiles_, self.periods_, self.bins_, strict=True):
            out += prof[rows][:, _bins(timestamps, self.step_, p, nb)]
        return out

    def residuals(self, batch: Batch) -> tuple[np.ndarray, Scores]:
        """Signed standardised residuals ``(x - expected) / scale`` and the scores.

        Series unknown to the fit get NaN everywhere (refit to add them).
        """
        self._check_fitted(batch)
        known = np.array([k in self.index_ for k in batch.labels], dtype=bool)
        rows = np.zeros(batch.n_series, dtype=np.intp)
        if known.any():
            rows[known] = self.index_.rows([k for k, kn in zip(batch.labels, known, strict=True) if kn])
        x = batch.values
        ok = np.isfinite(x) & known[:, None]
        seas = self.seasonal(rows, batch.timestamps)
        y = np.where(ok, x - seas, 0.0)
        scale = self.scale_[rows][:, None]
        lw = self.window_
        ycat = np.concatenate([self.last_y_[rows], y], axis=1)
        w = ok.astype(np.float64)
        for _ in range(2):  # second pass drops points the first pass found far off
            level, _ = _trailing_mean(ycat, np.concatenate([self.last_w_[rows], w], axis=1), lw, lw)
            z = (y - level) / scale
            w = (ok & (np.abs(z) < 4.0 * self.tail_.quantile(0.5)[rows][:, None] + 3.0)).astype(np.float64)
        expected = np.where(known[:, None], level + seas, np.nan)
        z = np.where(ok, (x - expected) / scale, np.nan)
        half = self.tail_.quantile(self.band_prob)[rows][:, None] * scale
        scores = Scores(self.tail_.cdf(np.abs(z), rows), expected, expected - half, expected + half)
        return z, scores

    def score(self, batch: Batch) -> Scores:
        """Calibrated scores, expected values and bands for ``batch`` (learns nothing)."""
        return self.residuals(batch)[1]
