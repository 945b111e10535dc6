"""Seasonal periods and a robust, fast multi-seasonal decomposition.

Capacity series of an agent fleet repeat daily and weekly.  A forecaster that
ignores this extrapolates the morning ramp into a fake trend.  STL / MSTL are
the textbook tools, but STL with a 288-step (one day of 5-minute samples)
period took about 4 s per fit here, too slow to refit every series each
cycle.  So the decomposition is classical and robust: remove a centred moving
average (one period wide), then take the *median* of each phase over the
history, period by period (daily first, then weekly on what is left).  The
weekly profile is estimated per hour of the week, so one week of history
already gives a median of an hour of samples per bin.  Medians ignore the odd
incident, and the whole thing is a few vectorised group-bys.

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


def seasonal_periods(step: int, n: int) -> tuple[int, ...]:
    """Daily and weekly periods (in steps) that ``n`` samples can estimate.

    The daily profile needs two whole days (one day would be a noisy copy of
    the data); the weekly one, binned by hour, one whole week on top of that.

    >>> seasonal_periods(300, 2016), seasonal_periods(300, 2592), seasonal_periods(3600, 30)
    ((288,), (288, 2016), ())
    """
    day = DAY // step if DAY % step == 0 and DAY // step >= 2 else 0
    if not day or n < 2 * day:
        return ()
    if n >= WEEK // step + 2 * day:
        return (day, WEEK // step)
    return (day,)


def _phase_median(resid: np.ndarray, m: int, width: int) -> np.ndarray:
    """Median of ``resid`` per phase bin ``(index % m) // width``, centred to mean 0, as a length-m profile."""
    bins = (np.arange(len(resid)) % m) // width
    med = pd.Series(resid).groupby(bins).median().reindex(np.arange(-(-m // width)))
    prof = np.nan_to_num(med.to_numpy(), nan=0.0)[np.arange(m) // width]
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
        prof = _phase_median(resid, m, 1 if m == periods[0] else max(1, periods[0] // 24))
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
