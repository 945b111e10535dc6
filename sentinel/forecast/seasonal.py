"""Seasonal periods and a robust, fast multi-seasonal decomposition.

Capacity series of an agent fleet repeat daily and weekly.  A forecaster that
ignores this extrapolates the morning ramp into a fake trend.  STL / MSTL are
the textbook tools, but STL with a 288-step (one day of 5-minute samples)
period took about 4 s per fit here, too slow to refit every series each
cycle.  So the decomposition is classical and robust: remove a centred moving
average (one period wide), then take the *median* of each phase over all
whole cycles, period by period (daily first, then weekly on what is left).
Medians ignore the odd incident, and the whole thing is a few numpy reshapes.

>>> y = np.tile([0.0, 10.0, 0.0, -10.0], 6) + np.arange(24) * 0.5
>>> prof = seasonal_profiles(y, (4,))
>>> np.round(prof[0], 1).tolist()
[0.0, 10.0, 0.0, -10.0]
>>> np.round(seasonal_component(prof, (4,), 24, 3), 1).tolist()
[0.0, 10.0, 0.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY = 86400
WEEK = 7 * DAY


def seasonal_periods(step: int, n: int, min_cycles: int = 2) -> tuple[int, ...]:
    """Daily and weekly periods (in steps) that ``n`` samples can estimate.

    A period needs ``min_cycles`` whole cycles in the history, otherwise its
    profile would be one noisy copy of the data.

    >>> seasonal_periods(300, 2016), seasonal_periods(300, 4032), seasonal_periods(3600, 30)
    ((288,), (288, 2016), ())
    """
    out = []
    for seconds in (DAY, WEEK):
        if seconds % step == 0:
            m = seconds // step
            if m >= 2 and n >= min_cycles * m:
                out.append(m)
    return tuple(out)


def _phase_median(resid: np.ndarray, m: int) -> np.ndarray:
    """Median of ``resid`` per phase ``index % m`` over whole cycles, centred to mean 0."""
    n = len(resid)
    start = n % m
    cycles = resid[start:].reshape(-1, m)
    with np.errstate(all="ignore"):
        prof = np.nanmedian(cycles, axis=0) if np.isfinite(cycles).any() else np.zeros(m)
    prof = np.where(np.isfinite(prof), prof, 0.0)
    prof = np.roll(prof, start)  # column c holds phase (start + c) % m
    return prof - prof.mean()


def seasonal_profiles(y: np.ndarray, periods: tuple[int, ...]) -> list[np.ndarray]:
    """One zero-mean profile per period, indexed by ``position % period``."""
    if not periods:
        return []
    trend = pd.Series(y).rolling(periods[0], center=True, min_periods=periods[0]).mean().to_numpy()
    resid = y - trend
    idx = np.arange(len(y))
    out = []
    for m in periods:
        prof = _phase_median(resid, m)
        resid = resid - prof[idx % m]
        out.append(prof)
    return out


def seasonal_component(profiles: list[np.ndarray], periods: tuple[int, ...], start: int, length: int) -> np.ndarray:
    """The summed seasonal component at positions ``start .. start+length-1`` (may run past the data)."""
    idx = np.arange(start, start + length)
    total = np.zeros(length)
    for prof, m in zip(profiles, periods, strict=True):
        total += prof[idx % m]
    return total
