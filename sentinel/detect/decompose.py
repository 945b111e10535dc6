"""Robust seasonal decomposition of many series at once (the kernels behind the STL detector).

STL splits a series into trend + one seasonal component per period +
residual, re-weighting points by bisquare robustness weights so outliers do
not bend the fit.  statsmodels does it per series in seconds; here the same
loop runs on a whole (series x time) matrix: a weighted centred moving-average
trend, weighted mean profiles per phase bin (one ``bincount`` over all
series) and the bisquare weights, each a handful of array operations.
:func:`decompose_statsmodels` runs statsmodels STL/MSTL per series instead
and is kept as the reference.

Everything here trusts its inputs (finite ``xf`` with a mask ``ok``); the
detector in :mod:`sentinel.detect.stl` validates at its public edge.

>>> import numpy as np
>>> ts = np.arange(0, 4 * 86400, 3600)
>>> b = bins(ts, 3600, 24, 24)
>>> b[:3].tolist(), b[24:27].tolist()
([0, 1, 2], [0, 1, 2])
"""

from __future__ import annotations

import numpy as np

from sentinel.detect.tail import row_nanquantiles


def bins(timestamps: np.ndarray, step: int, period: int, n_bins: int) -> np.ndarray:
    """Phase bin of each timestamp, anchored to absolute time (so new data lines up)."""
    return ((timestamps // step) % period) * n_bins // period


def binned_sums(y: np.ndarray, w: np.ndarray, b: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
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


def centred_mean(y: np.ndarray, w: np.ndarray, width: int) -> np.ndarray:
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


def trailing_mean(y: np.ndarray, w: np.ndarray, width: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of the previous ``width`` columns, for columns ``start`` on, and its weight."""
    t = np.arange(start, y.shape[1])
    lo = np.maximum(t - width, 0)
    num, den = _window_sums(w * y, lo, t), _window_sums(w, lo, t)
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den > 0), den


def bisquare(r: np.ndarray, ok: np.ndarray) -> np.ndarray:
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


def decompose_fast(xf: np.ndarray, ok: np.ndarray, phase: list[np.ndarray], n_bins: tuple[int, ...],
                   width: int, robust_iter: int) -> tuple[list[np.ndarray], np.ndarray]:
    """STL's robust loop, vectorised over series.

    ``phase[i]`` holds the bin of every column for period ``i`` (``n_bins[i]``
    bins); ``width`` is the trend window in columns.  Returns, per period, the
    input with the trend and the *other* periods removed (what that period's
    profile is the weighted bin mean of), and the final robustness weights.
    """
    w = _prescreen(xf, ok)
    comps = [np.zeros_like(xf) for _ in phase]
    parts = comps
    for _ in range(robust_iter):
        trend = centred_mean(xf - sum(comps, np.zeros_like(xf)), w, width)
        parts = []
        for i, (b, nb) in enumerate(zip(phase, n_bins, strict=True)):
            d = xf - trend - sum((c for k, c in enumerate(comps) if k != i), np.zeros_like(xf))
            num, den = binned_sums(d, w, b, nb)
            prof = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
            comps[i] = prof[:, b]
            parts.append(d)
        w = bisquare(xf - trend - sum(comps, np.zeros_like(xf)), ok)
    return parts, w


def decompose_statsmodels(xf: np.ndarray, ok: np.ndarray, periods: tuple[int, ...], width: int
                          ) -> tuple[list[np.ndarray], np.ndarray]:
    """The reference: statsmodels STL/MSTL (robust) per series, gaps linearly filled; same outputs."""
    from statsmodels.tsa.seasonal import MSTL, STL

    n_s, n_t = xf.shape
    comps = np.zeros((len(periods), n_s, n_t))
    trend = np.zeros_like(xf)
    t = np.arange(n_t)
    usable = tuple(p for p in periods if 2 * p < n_t)  # MSTL drops longer ones itself, noisily
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
            trend[s] = centred_mean(v[None], np.ones((1, n_t)), width)[0]
            continue
        trend[s] = res.trend
    total = comps.sum(0)
    parts = [xf - trend - (total - comps[i]) for i in range(len(periods))]
    return parts, bisquare(xf - trend - total, ok)
