"""Simulated capacity cases with known exhaustion times, for benchmarks/time_to_limit.py.

Shapes that cross their limit (the time of crossing is that of the
noise-free curve, found on a 1-minute grid):

- ``linear``: a disk filling at a constant rate (free bytes falling to 0);
- ``accelerating``: a memory leak that speeds up (exponential growth);
- ``seasonal_trend``: a queue with a daily cycle and a growing baseline;
  it first crosses at a daily peak;
- ``step_linear``: flat, then a deploy steps usage up and it grows linearly.

Shapes that never cross within the horizon (no predictive alert wanted):

- ``flat``: noise around a level, limit well above;
- ``seasonal``: a strong daily (and weekly) cycle without trend, limit above the peaks.

Noise is AR(1) (phi 0.6) with occasional spikes.  Every parameter is drawn
at random per case from ranges chosen before the benchmark was run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

STEP = 300
DAY = 86400
CROSSING = ("linear", "accelerating", "seasonal_trend", "step_linear")
STABLE = ("flat", "seasonal")
LEADS_H = (48, 24, 6, 1)
HISTORY = 7 * DAY


@dataclass(frozen=True)
class Case:
    shape: str
    t: np.ndarray
    y: np.ndarray
    limit: float
    direction: str
    truth: float | None
    """Exhaustion time (s since the series start); None for stable shapes."""
    evals: tuple[int, ...]
    """Indices of the last sample of each evaluation history (one per lead, for crossing shapes)."""


def _noise(rng: np.random.Generator, n: int, sd: float) -> np.ndarray:
    ar = lfilter([1.0], [1.0, -0.6], rng.normal(0, sd, n))
    spikes = (rng.random(n) < 0.003) * rng.normal(0, 6 * sd, n)
    return ar + spikes


def _first_crossing(curve, limit: float, start: float, end: float) -> float:
    fine = np.arange(start, end, 60.0)
    above = curve(fine) >= limit
    return float(fine[np.argmax(above)]) if above.any() else float("nan")


def make_case(shape: str, rng: np.random.Generator) -> Case:
    """One random case of ``shape``."""
    t_star = HISTORY + 2 * DAY + rng.uniform(0, DAY)  # exhaustion ~ 9-10 days after start
    cap = rng.uniform(50, 500)  # e.g. GiB or queue capacity
    u0 = cap * rng.uniform(0.2, 0.5)
    sd = (cap - u0) * rng.uniform(0.005, 0.03)
    if shape == "linear":
        def curve(x):
            return u0 + (cap - u0) * x / t_star
    elif shape == "accelerating":
        tau = rng.uniform(2, 6) * DAY
        a = (cap - u0) / np.expm1(t_star / tau)

        def curve(x):
            return u0 + a * np.expm1(x / tau)
    elif shape == "seasonal_trend":
        amp = (cap - u0) * rng.uniform(0.1, 0.3)
        phase = rng.uniform(0, 2 * np.pi)
        slope = (cap - u0) / t_star
        target = t_star + DAY

        def curve(x):
            return u0 + slope * x + amp * np.sin(2 * np.pi * x / DAY + phase)
        # the limit is the highest point before `target`: first reached at a daily peak
        cap = float(curve(np.arange(0, target, 60.0)).max())
        t_star = _first_crossing(curve, cap, 0, target + 60)
    elif shape == "step_linear":
        t_step = t_star - rng.uniform(3, 5) * DAY
        jump = (cap - u0) * rng.uniform(0.1, 0.3)
        slope = (cap - u0 - jump) / (t_star - t_step)

        def curve(x):
            return u0 + np.where(x >= t_step, jump + slope * (x - t_step), 0.0)
    elif shape == "flat":
        sd = cap * rng.uniform(0.005, 0.03)

        def curve(x):
            return u0 + 0 * x
    elif shape == "seasonal":
        amp = u0 * rng.uniform(0.2, 0.5)
        weekly = u0 * rng.uniform(0, 0.1)
        phase = rng.uniform(0, 2 * np.pi)
        sd = u0 * rng.uniform(0.01, 0.04)
        cap = u0 + amp + weekly + u0 * rng.uniform(0.2, 0.5)

        def curve(x):
            return u0 + amp * np.sin(2 * np.pi * x / DAY + phase) + weekly * np.sin(2 * np.pi * x / (7 * DAY))
    else:
        raise ValueError(shape)
    n = int((t_star + 2 * DAY) // STEP)
    t = np.arange(n) * STEP
    y = curve(t.astype(float)) + _noise(rng, n, sd)
    stable = shape in STABLE
    evals = tuple(int((t_star - lead * 3600) // STEP) for lead in LEADS_H)
    truth = None if stable else t_star
    if rng.random() < 0.5 and not stable:  # half the crossing cases are disks: free space falling to 0
        return Case(shape, t, cap - y, 0.0, "down", truth, evals)
    return Case(shape, t, y, cap, "up", truth, evals)
