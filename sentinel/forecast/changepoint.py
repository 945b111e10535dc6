"""A trend member that forgets the history before the last change: the leak that starts after a deploy.

A memory leak or a runaway log rarely starts with the history: the series
is flat (or saw-toothed) for days, then a deploy steps it up and it grows.
A line or a smoothing model fitted to the whole history averages the quiet
days in and underestimates the slope; a short window sees the new slope but
is noisy.  This member asks the data where the regime began: at each origin
it fits two least-squares lines, one before and one after a candidate
break, for every break on a grid, and keeps the best split when it explains
the series clearly better than one line over the whole history (a BIC-style
penalty, so a stable series keeps its single line).  The forecast is the
line after the break.  Two guards keep a stable series stable:

- the split's penalty grows with the autocorrelation of the series around a
  line (AR noise, a garbage-collection saw-tooth or a daily cycle make any
  split look better than it is), so a saw-tooth's latest tooth is no leak;
- a regime younger than ``min_segment`` samples has no trustworthy slope
  yet: the member then holds its mean level (a step up is followed at once,
  its slope only once it is supported by enough samples).

Every segment fit comes from prefix sums, so all origins and all breaks are
one vectorised computation: no optimiser, no dependence on the scale of the
data (bytes or percent give the same break and the same slope per unit).

>>> y = np.r_[np.full(100, 5.0), 8.0 + 0.5 * np.arange(60)]    # flat, then a step and a leak from index 100
>>> m = ChangepointLinear(12)
>>> m.forecasts(y, np.array([159]), 2).round(6).tolist()
[[38.0, 38.5]]
>>> m.breaks(y, np.array([80, 159])).tolist()                   # no change yet; the leak's start
[0, 100]
"""

from __future__ import annotations

from typing import Self

import numpy as np

_EXTRA_PARAMS = 3
"""What a split adds to one line: the break, a second level and a second slope (each costs log(n), as in BIC)."""
_MAX_RHO = 0.99


def standardised(y: np.ndarray) -> tuple[float, float, np.ndarray]:
    """``(mean, spread, (y - mean) / spread)``: unit scale keeps the prefix sums well conditioned for
    byte-sized values (sums of squares near 1e21 would cancel catastrophically)."""
    mean, spread = float(np.mean(y)), float(np.std(y))
    spread = spread if spread > 0 else 1.0
    return mean, spread, (y - mean) / spread


def cumsum0(x: np.ndarray) -> np.ndarray:
    """Prefix sums with a leading 0: ``cumsum0(x)[i]`` sums ``x[:i]``, so any run's sum is one difference."""
    return np.r_[0.0, np.cumsum(x)]


def prefix_sums(t: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, ...]:
    """Prefix sums of 1, t, t^2, z, t*z, z^2 over points ``(t, z)`` (``P[k]`` sums the points below ``k``):
    any segment's least-squares line from a few differences."""
    cols = (np.ones_like(t), t, t * t, z, t * z, z * z)
    return tuple(cumsum0(c) for c in cols)


def _segment(p: tuple[np.ndarray, ...], a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Least-squares line over indices ``a .. b-1``: (SSE, slope, value of the line at ``b-1``)."""
    n, st, stt, sz, stz, szz = (c[b] - c[a] for c in p)
    sxx = np.maximum(stt - st * st / n, 1e-12)
    sxy = stz - st * sz / n
    slope = sxy / sxx
    sse = np.maximum(szz - sz * sz / n - sxy * slope, 0.0)
    end = sz / n + slope * (b - 1 - st / n)
    return sse, slope, end


class ChangepointLinear:
    """Least-squares line since the last detected change of level or slope (whole history if none)."""

    def __init__(self, min_segment: int, grid: int = 0) -> None:
        self.min_segment = max(6, min_segment)
        self.min_before = max(6, self.min_segment // 6)
        """Shortest history before a break."""
        self.min_after = max(3, self.min_segment // 12)
        """Shortest regime after a break: a new level shows after a few samples (its slope takes ``min_segment``)."""
        self.grid = grid
        """Spacing of candidate breaks further back than the last ``2 * grid`` samples (0: about 200 over the series);
        closer to the origin every sample is a candidate, so a level shift an hour ago is found exactly."""
        self.name = f"changepoint_linear({self.min_segment})"
        self.min_origin = self.min_before + self.min_after - 1
        self.inflation_ = 1.0

    def fit(self, y: np.ndarray) -> Self:
        """Measure how autocorrelated the series is around a straight line (on the training prefix).

        ``n`` samples with lag-1 autocorrelation ``rho`` carry only about
        ``n (1 - rho) / (1 + rho)`` independent ones, so the BIC penalty of a
        split is scaled up by the inverse of that ratio.
        """
        t = np.arange(len(y), dtype=np.float64)
        resid = y - np.polyval(np.polyfit(t, y, 1), t)
        power = float(resid @ resid)
        rho = min(max(float(resid[1:] @ resid[:-1]) / power if power > 0 else 0.0, 0.0), _MAX_RHO)
        self.inflation_ = (1 + rho) / (1 - rho)
        return self

    def breaks(self, y: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """Index where the regime that ends at each origin began (0: no change detected)."""
        z = standardised(y)[2]
        return self._split(prefix_sums(np.arange(len(z), dtype=np.float64), z), origins, len(y))

    def _split(self, p: tuple[np.ndarray, ...], origins: np.ndarray, n_all: int) -> np.ndarray:
        grid = self.grid or max(1, n_all // 200)
        near = np.arange(self.min_after, self.min_after + 2 * grid)
        back = np.unique(np.r_[near, np.arange(self.min_after, n_all, grid)])
        end = origins + 1
        b = end[:, None] - back[None, :]  # candidate starts of the last regime, counted back from each origin
        ok = b >= self.min_before
        bb = np.where(ok, b, self.min_before)
        left, _, _ = _segment(p, np.zeros_like(bb), bb)
        right, _, _ = _segment(p, bb, np.maximum(end[:, None], bb + 1))
        split = np.where(ok, left + right, np.inf)
        j = np.argmin(split, axis=1)
        best = split[np.arange(len(origins)), j]
        whole, _, _ = _segment(p, np.zeros_like(end), end)
        n = end.astype(np.float64)
        tiny = 1e-12 * n  # a noise-free line: SSE 0 on both sides, no gain
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = n * np.log((whole + tiny) / (best + tiny))
        accept = np.isfinite(best) & (gain > self.inflation_ * _EXTRA_PARAMS * np.log(n))
        return np.where(accept, b[np.arange(len(origins)), j], 0)

    def forecasts(self, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
        mean, spread, z = standardised(y)
        p = prefix_sums(np.arange(len(z), dtype=np.float64), z)
        start = self._split(p, origins, len(y))
        _, slope, level = _segment(p, start, origins + 1)
        young = origins + 1 - start < self.min_segment
        level = np.where(young, (p[3][origins + 1] - p[3][start]) / (origins + 1 - start), level)
        slope = np.where(young, 0.0, slope)
        return mean + spread * (level[:, None] + slope[:, None] * np.arange(1, h + 1))
