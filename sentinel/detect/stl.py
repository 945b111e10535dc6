"""Batch seasonal-decomposition detector, vectorised over series (retrained periodically).

``STLDetector().fit(history)`` splits every series into a trend, one seasonal
profile per period (daily, then weekly when the history holds at least
``min_cycles`` of them) and a residual; ``score(batch)`` then scores new data
on the calibrated scale of DESIGN §2.

Why not call statsmodels per series?  Its robust STL costs seconds per
two-week 5-minute series here (``benchmarks/batch_fit.py`` measures it), while
a fleet has thousands of series.  ``method="fast"`` (the default) runs STL's
robust loop on all series at once (:mod:`sentinel.detect.decompose`);
``method="statsmodels"`` runs STL/MSTL (``robust=True``) per series instead
and is kept as the reference.

Scoring is honest about what fitting overfits: the residuals the score is
calibrated on use leave-one-cycle-out seasonal profiles and a *trailing* level
(the mean of the deseasonalised previous ``trend_window``), which is exactly
how ``score`` predicts new data.  ``score`` tracks the level causally from the
end of the level memory through the batch and learns nothing; ``advance``
scores the same way and then moves the memory past the batch, so a stream fed
through ``advance`` in any chunks scores as in one piece (up to float rounding:
the window sums are taken over differently cut arrays).  Only a
refit moves the seasonal profiles and the calibration (see
:mod:`sentinel.detect.retrain` for the periodic refit that watches use).

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
from collections.abc import Iterable

import numpy as np
from prometheus_client import Histogram

from sentinel.detect.decompose import (
    binned_sums,
    bins,
    decompose_fast,
    decompose_statsmodels,
    trailing_mean,
)
from sentinel.detect.scores import Scores
from sentinel.detect.tail import TailCalibration, robust_scale
from sentinel.series import Batch, Labels
from sentinel.series_index import SeriesIndex

DAY = 86400
WEEK = 7 * DAY

FIT_SECONDS = Histogram("sentinel_batch_fit_seconds", "Time to fit a batch detector on a history, by detector",
                        ["detector"], buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300))


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
        phase = [bins(ts, step, p, nb) for p, nb in zip(self.periods_, self.bins_, strict=True)]
        if self.method == "fast":
            width = self.periods_[0] if self.periods_ else self.window_
            parts, w = decompose_fast(xf, ok, phase, self.bins_, width, self.robust_iter)
        else:
            parts, w = decompose_statsmodels(xf, ok, self.periods_, self.window_)

        # profiles from the final parts; leave-one-cycle-out versions for honest calibration
        seas = np.zeros_like(xf)
        seas_loo = np.zeros_like(xf)
        alone = np.zeros(xf.shape, dtype=bool)
        self.profiles_ = []
        for d, b, p, nb in zip(parts, phase, self.periods_, self.bins_, strict=True):
            num, den = binned_sums(d, w, b, nb)
            prof = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
            centre = (prof * den).sum(1, keepdims=True) / np.maximum(den.sum(1, keepdims=True), 1e-12)
            self.profiles_.append(prof - centre)
            seas += prof[:, b] - centre
            # leave the point's whole cycle out: a bin shared by neighbouring points of one cycle
            # would otherwise absorb their common noise and make residuals look calmer than new data
            cyc = (ts // step) // p
            cb = b + nb * (cyc - cyc[0])
            num_c, den_c = binned_sums(d, w, cb, nb * int(cyc[-1] - cyc[0] + 1))
            rest = den[:, b] - den_c[:, cb]
            loo = np.divide(num[:, b] - num_c[:, cb], rest, out=prof[:, b].copy(), where=rest > 0.5)
            seas_loo += loo - centre
            alone |= rest <= 0.5  # no other cycle fills the bin: the point would be judged by itself
        y = xf - seas
        level, wsum = trailing_mean(y, w, self.window_, 0)
        resid = xf - seas_loo - level
        usable = ok & ~alone & (wsum >= max(1.0, self.window_ / 4))
        resid = np.where(usable, resid, np.nan)
        self.scale_ = robust_scale(resid, np.where(ok, x, np.nan))
        self.tail_ = TailCalibration().fit(np.abs(resid) / self.scale_[:, None])
        self.last_y_ = y[:, -self.window_:].copy()
        self.last_w_ = w[:, -self.window_:].copy()
        self.last_w0_ = self.last_w_.copy()
        self.last_t_ = int(ts[-1])
        FIT_SECONDS.labels("stl").observe(time.perf_counter() - t0)
        return resid / self.scale_[:, None]

    def forget(self, labels: Iterable[Labels]) -> None:
        """Drop fitted series that are gone (a retrained watch's retention): one that comes back is unknown to
        this fit, as a new series is, until the next refit."""
        keep = self.index_.forget(labels) if hasattr(self, "scale_") else None
        if keep is None:
            return
        self.profiles_ = [p[keep] for p in self.profiles_]
        self.scale_, self.last_y_, self.last_w_, self.last_w0_ = (
            a[keep] for a in (self.scale_, self.last_y_, self.last_w_, self.last_w0_))
        self.tail_.q_, self.tail_.beta_ = self.tail_.q_[keep], self.tail_.beta_[keep]

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
            out += prof[rows][:, bins(timestamps, self.step_, p, nb)]
        return out

    def _memory(self, rows: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Level memory (values, first- and second-pass weights) of ``rows`` for a batch starting at ``start``.

        A batch that starts after a gap sees the gap as missing columns (so a
        level from long ago ages out as it would have in a stream).
        """
        gap = min(max((start - self.last_t_) // self.step_ - 1, 0), self.window_)
        mem = (self.last_y_[rows], self.last_w0_[rows], self.last_w_[rows])
        if not gap:
            return mem
        pad = np.zeros((len(rows), gap))
        return tuple(np.concatenate([m, pad], axis=1)[:, -self.window_:] for m in mem)  # type: ignore[return-value]

    def _rows(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        known = np.array([k in self.index_ for k in batch.labels], dtype=bool)
        rows = np.zeros(batch.n_series, dtype=np.intp)
        if known.any():
            rows[known] = self.index_.rows([k for k, kn in zip(batch.labels, known, strict=True) if kn])
        return known, rows

    def _score(self, batch: Batch, advance: bool) -> tuple[np.ndarray, Scores]:
        self._check_fitted(batch)
        known, rows = self._rows(batch)
        x = batch.values
        ok = np.isfinite(x) & known[:, None]
        seas = self.seasonal(rows, batch.timestamps)
        y = np.where(ok, x - seas, 0.0)
        scale = self.scale_[rows][:, None]
        lw = self.window_
        start = int(batch.timestamps[0]) if batch.n_steps else self.last_t_ + self.step_
        hy, hw0, hw1 = self._memory(rows, start)
        ycat = np.concatenate([hy, y], axis=1)
        w0 = ok.astype(np.float64)
        # first pass: judge each point against the level of what came before it; the second pass
        # leaves out the points found far off (a point with no level to compare with is kept)
        level0, _ = trailing_mean(ycat, np.concatenate([hw0, w0], axis=1), lw, lw)
        far = np.abs(y - level0) / scale >= 4.0 * self.tail_.quantile(0.5)[rows][:, None] + 3.0
        w1 = (ok & ~far).astype(np.float64)
        level, _ = trailing_mean(ycat, np.concatenate([hw1, w1], axis=1), lw, lw)
        expected = np.where(known[:, None], level + seas, np.nan)
        z = np.where(ok, (x - expected) / scale, np.nan)
        half = self.tail_.quantile(self.band_prob)[rows][:, None] * scale
        scores = Scores(self.tail_.cdf(np.abs(z), rows), expected, expected - half, expected + half)
        if advance:
            self._remember(rows[known], (y[known], w0[known], w1[known]), start, batch.n_steps)
        return z, scores

    def _remember(self, rows: np.ndarray, new: tuple[np.ndarray, ...], start: int, n_new: int) -> None:
        """Move every fitted series' level memory past ``n_new`` columns from ``start`` (absent series: weight 0)."""
        lw = self.window_
        mem = self._memory(np.arange(len(self.index_)), start)
        m = min(n_new, lw)
        out = []
        for h, v in zip(mem, new, strict=True):
            h = np.concatenate([h, np.zeros((h.shape[0], n_new))], axis=1)[:, -lw:]
            if m:
                h[rows, lw - m:] = v[:, -m:]
            out.append(h)
        self.last_y_, self.last_w0_, self.last_w_ = out
        if n_new:
            self.last_t_ = start + (n_new - 1) * self.step_

    def residuals(self, batch: Batch, advance: bool = False) -> tuple[np.ndarray, Scores]:
        """Signed standardised residuals ``(x - expected) / scale`` and the scores.

        Series unknown to the fit get NaN everywhere (refit to add them).
        ``advance=True`` then moves the level memory past the batch (see :meth:`advance`).
        """
        if advance:
            self._check_fitted(batch)
            if batch.n_steps and batch.timestamps[0] <= self.last_t_:
                raise ValueError(f"advance: batch starts at {int(batch.timestamps[0])}, not after the last scored "
                                 f"time {self.last_t_}")
        return self._score(batch, advance)

    def score(self, batch: Batch) -> Scores:
        """Calibrated scores, expected values and bands for ``batch`` (learns nothing)."""
        return self._score(batch, advance=False)[1]

    def advance(self, batch: Batch) -> Scores:
        """Score ``batch``, the continuation of what was scored so far, then move the level memory past it.

        Feeding a stream through ``advance`` in any chunks gives the same
        scores as one call (up to float rounding).  Batches must move forward in time.
        """
        return self.residuals(batch, advance=True)[1]
