"""A trend member for saw-tooth series: a line through the troughs (a leak under garbage collection).

Resident memory of a garbage-collected process climbs between collections
and falls back at each one.  A leak hides in that saw-tooth: the ramps are
steeper, but a ramp is what a healthy heap does too, and any line fitted to
the samples is dominated by the teeth (their autocorrelation makes a new
regime look like one more tooth, see ``changepoint.py``).  What a leak
changes and a healthy heap does not is the *floor*: the minimum right after
each collection (a trough) rises by the leak's rate.  The troughs of a
healthy saw-tooth are nearly independent samples of one level, so a few of
them on a rising line are strong evidence, where the same hours of raw
samples are not.

This member

- finds the resets: one-step moves against the ramp larger than
  ``_RESET_SIZE`` typical steps (their robust spread plus their drift), not
  a spike (the step before and the step after are ordinary), so noise and
  isolated outliers have none.  A series with fewer than ``_MIN_RESETS``
  in its training history is no saw-tooth: ``fit`` raises ValueError and
  validation skips the member (a fraction of a millisecond).  Either
  direction works (a disk's free space jumps *up* at each cleanup: its
  "troughs" are the peaks);
- fits a least-squares line through the troughs since the last change of
  the floor (a BIC-penalised split of the trough sequence, every trough a
  candidate break, as ``changepoint.py`` does for raw samples).  A regime
  of fewer than ``_MIN_SLOPE`` troughs, or spanning less than ``min_span``
  samples, takes its slope from its ramps instead: a leak steepens every
  ramp by its own rate, so the regime's ramp minus the ramp before the
  break *is* the leak, measured on whole teeth, when it points the way the
  troughs moved.  A level shift (a restart, the daily load) moves the
  troughs without steepening the ramps, and holds its new level;
- forecasts the saw-tooth's mean level moving at that rate (the line plus
  the mean height of the regime's complete teeth above it, or, before they
  cover ``min_span`` samples, the history's teeth above their own trough),
  and, near the origin, the current tooth climbing on until its collection:
  each step is weighted by the probability that the tooth lasts that long,
  from the lengths of the teeth seen so far (a renewal process).  So a
  healthy saw-tooth is forecast better than by its last value, a leak's
  runway is that of its floor.

A trough is known one sample after it (the sample that shows it was no
spike), so the forecast from an origin uses ``y[: origin + 1]`` only.  All
origins and breaks come from prefix sums over the troughs, and the fit is
on the standardised series: the same break and line in bytes or GiB.

>>> teeth = np.tile(np.arange(10.0), 12)                   # a healthy saw-tooth: resets every 10 samples
>>> leak = teeth + np.where(np.arange(120) >= 60, 0.2 * (np.arange(120) - 60), 0.0)
>>> m = SawtoothFloor(12).fit(leak[:60])
>>> m.forecasts(teeth, np.array([119]), 2).round(6).tolist()    # the mean level, no trend
[[4.5, 4.5]]
>>> m.forecasts(leak, np.array([119]), 2).round(6).tolist()     # 12 + 4.5 at 120, rising 0.2 per sample
[[16.5, 16.7]]
"""

from __future__ import annotations

from typing import Self

import numpy as np

from sentinel.forecast.changepoint import cumsum0, prefix_sums, standardised

_RESET_SIZE = 6.0
"""A reset moves more than this many typical steps (robust standard deviation plus the median drift)."""
_MIN_RESETS = 3
"""Resets the training history needs before the series counts as a saw-tooth."""
_MIN_BEFORE = 3
"""Troughs before a break (a floor to compare with)."""
_MIN_SLOPE = 3
"""Troughs a regime needs before their line's slope is used (fewer: the slope of its ramps)."""
_EXTRA_PARAMS = 3
"""What a split adds to one line: the break, a second level and a second slope (each costs log(n), as in BIC)."""


def _resets(d: np.ndarray, threshold: float) -> np.ndarray:
    """Indices ``r`` of the samples right after a fall ``y[r] - y[r-1] < -threshold`` whose neighbouring steps
    are ordinary (not a spike, not mid-way down a fall), from the one-step changes ``d = diff(y)``.  The last
    change has no successor yet: a fall there is not confirmed."""
    ordinary = np.abs(d) < threshold
    before = np.r_[True, ordinary[:-1]]
    after = np.r_[ordinary[1:], False]
    return np.flatnonzero((d < -threshold) & before & after) + 1


def _line(p: tuple[np.ndarray, ...], a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Least-squares line through troughs ``a .. b-1``: (SSE, slope, mean time, mean value); slope 0 for one."""
    n, st, stt, sv, stv, svv = (c[b] - c[a] for c in p)
    n = np.maximum(n, 1.0)
    sxx = stt - st * st / n
    sxy = stv - st * sv / n
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 1e-9, sxy / sxx, 0.0)
    sse = np.maximum(svv - sv * sv / n - sxy * slope, 0.0)
    return sse, slope, st / n, sv / n


class SawtoothFloor:
    """The saw-tooth's mean level, moving at the rate of its troughs since their last change."""

    def __init__(self, min_span: int) -> None:
        self.min_span = max(3, min_span)
        """Samples a regime's troughs must span before their line's slope is used (troughs a restart apart give
        none); its ramps need a third of that, its teeth all of it before their own height is used."""
        self.name = f"sawtooth_floor({self.min_span})"
        self.min_origin = 1
        self.sign_ = 1.0
        self.threshold_ = np.inf

    def fit(self, y: np.ndarray) -> Self:
        """Learn the reset size and direction from the training prefix; ValueError if it is no saw-tooth."""
        d = np.diff(y)
        if not len(d):
            raise ValueError("no saw-tooth: a single sample")
        drift = float(np.median(d))
        threshold = _RESET_SIZE * (1.4826 * float(np.median(np.abs(d - drift))) + abs(drift))
        falls, rises = len(_resets(d, threshold)), len(_resets(-d, threshold))
        if threshold <= 0 or max(falls, rises) < _MIN_RESETS:
            raise ValueError(f"no saw-tooth: {max(falls, rises)} resets in the training history")
        self.sign_ = 1.0 if falls >= rises else -1.0
        self.threshold_ = threshold
        return self

    def troughs(self, y: np.ndarray) -> np.ndarray:
        """Indices of the troughs (the samples right after each reset)."""
        return _resets(self.sign_ * np.diff(y), self.threshold_)

    def forecasts(self, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
        r = self.troughs(y)
        if len(r) < 2:
            return np.repeat(y[origins][:, None], h, axis=1)
        mean, spread, z = standardised(self.sign_ * y)
        p = prefix_sums(r.astype(np.float64), z[r])
        k = np.maximum(np.searchsorted(r + 1, origins, side="right"), 1)  # troughs known at each origin (fit: >= 3)
        start = self._regime(p, k, len(r))
        _, slope, tbar, vbar = _line(p, start, k)
        first, last = r[np.minimum(start, k - 1)], r[k - 1]
        # tooth i runs from trough i to trough i+1; its climb per sample is the ramp
        length = np.diff(r)
        rise, climbed = cumsum0(z[r[1:] - 1] - z[r[:-1]]), cumsum0(length - 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ramp_before = rise[start] / climbed[start]
            ramp_since = (rise[k - 1] - rise[start]) / (climbed[k - 1] - climbed[start])
        # a young regime (fewer than _MIN_SLOPE troughs, or spanning less than min_span) gets its slope from its
        # ramps instead, once they cover min_span samples: a leak steepens them by its rate (and moves the troughs
        # the same way), a level shift (a restart, the daily load) does not
        steeper = np.nan_to_num(ramp_since - ramp_before)
        mature = (k - start >= _MIN_SLOPE) & (last - first >= self.min_span)
        young = (climbed[k - 1] - climbed[start] >= self.min_span // 3) & (steeper * slope > 0)
        slope = np.where(mature | (start == 0), slope, np.where(young, steeper, 0.0))
        # the teeth's mean height above the floor line, over the complete teeth of the regime; before they cover
        # min_span samples, the history's teeth's height above their own trough
        cum = cumsum0(z)
        owner = np.maximum(np.searchsorted(r, np.arange(len(z)), side="right") - 1, 0)
        cum_height = cumsum0(z - z[r[owner]])
        with np.errstate(divide="ignore", invalid="ignore"):
            floor_mid = vbar + slope * ((first + last - 1) / 2 - tbar)
            own = (cum[last] - cum[first]) / (last - first) - floor_mid
            history = (cum_height[last] - cum_height[r[0]]) / (last - r[0])
        offset = np.where(last - first >= self.min_span, own, np.where(last > r[0], history, 0.0))
        steps = origins[:, None] + np.arange(1, h + 1)
        level = vbar[:, None] + offset[:, None] + slope[:, None] * (steps - tbar[:, None])
        # the current tooth goes on climbing until its collection: P(no reset yet) from the lengths of the teeth
        # completed so far (a renewal process), the climb at their mean rate
        teeth = np.where(last > first, start, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = (rise[k - 1] - rise[teeth]) / (climbed[k - 1] - climbed[teeth])
        rate = np.where(k - 1 > teeth, np.nan_to_num(rate), 0.0)
        # teeth below trough i longer than x: counted per distinct length (at most sqrt(2n) of them)
        lengths = np.unique(length)
        longer = np.cumsum(length[:, None] >= lengths[None, :], axis=0)
        longer = np.pad(longer, ((1, 0), (0, 1)))
        w = min(h, int(lengths[-1]))  # no tooth seen lasted longer: from there on the level alone
        age = (origins - last)[:, None]
        ahead = np.arange(1, w + 1)
        alive = longer[k - 1, np.searchsorted(lengths, age[:, 0], side="right")][:, None].astype(np.float64)
        survive = longer[(k - 1)[:, None], np.searchsorted(lengths, age + ahead, side="right")]
        p_on = np.where(alive > 0, survive / np.maximum(alive, 1.0), 0.0)
        path = level
        path[:, :w] += p_on * (z[origins][:, None] + rate[:, None] * ahead - level[:, :w])
        return self.sign_ * (mean + spread * path)

    @staticmethod
    def _regime(p: tuple[np.ndarray, ...], k: np.ndarray, n_troughs: int) -> np.ndarray:
        """First trough of the floor's current regime at each origin (``k`` troughs known; 0: no change)."""
        b = np.arange(_MIN_BEFORE, max(n_troughs, _MIN_BEFORE + 1))[None, :]
        kk = k[:, None]
        ok = b < kk
        bb = np.minimum(b, np.maximum(kk - 1, 0))
        left, _, _, _ = _line(p, np.zeros_like(bb), bb)
        right, _, _, _ = _line(p, bb, np.broadcast_to(kk, bb.shape))
        split = np.where(ok, left + right, np.inf)
        j = np.argmin(split, axis=1)
        best = split[np.arange(len(k)), j]
        whole, _, _, _ = _line(p, np.zeros_like(k), k)
        n = np.maximum(k, 1).astype(np.float64)
        tiny = 1e-12 * n  # a noise-free floor: SSE 0 on both sides, no gain
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = n * np.log((whole + tiny) / (best + tiny))
        accept = np.isfinite(best) & (gain > _EXTRA_PARAMS * np.log(n))
        return np.where(accept, b[0, j], 0)
