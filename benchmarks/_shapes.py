"""Clean base series and injected incident shapes for ``benchmarks/shapes.py``.

Why: a detection benchmark needs ground truth whose *shape and size* are
known exactly, in units of each series' own noise, so the result is a power
curve (which shapes, how big, how fast) rather than one corpus score.

A base series is ``mean + resid``: ``mean`` is the deterministic part (level
and cycles; ``cycle`` is its daily component alone) and ``resid`` the noise
(Gaussian, Poisson, AR(1) or noise with routine spikes).  Its *noise unit*
``sigma`` is the robust sd (1.4826 x MAD) of ``resid`` over the whole clean
series, so routine spikes or the AR(1)'s slow wander count the way they would
for a person reading the chart.  :func:`inject` adds one incident per series
at a given onset (column index); count series are rounded and clipped at 0
after injection (a count cannot go negative, so a big drop on a small count
is a drop to zero).

>>> base = make_base("daily", n=3, steps=2 * 1440, seed=1)
>>> base.values.shape, base.sigma.shape
((3, 2880), (3,))
>>> x = inject(base, "shift_up", 5.0, np.array([1500, 1600, 1700]))
>>> bool(np.allclose((x - base.values)[0, 1500:], 5 * base.sigma[0]))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

STEP = 60
"""The sampling step: the embedded default's watches run ``every: 1m`` (sentinel/defaults.py)."""
DAY = 86400
HOUR = 3600
START = 1767225600
"""2026-01-01 00:00 UTC, a Thursday: an 8-day warm-up holds one weekend and the scored days reach the next."""

FAMILIES = ("daily", "weekly", "counts", "ar1", "spiky")
CYCLIC = frozenset({"daily", "weekly", "counts"})


@dataclass(frozen=True)
class Shape:
    """An incident shape: how long it acts, how long after onset a detection counts, its magnitude grid."""

    name: str
    duration: int | None  # seconds it acts; None = until the end of the series
    window: int  # seconds after onset in which a report counts as a detection
    magnitudes: tuple[float, ...]  # noise units (or the noise factor k for `variance`); () = no magnitude
    unit: str


NOISE_GRID = (2.0, 3.0, 5.0, 8.0, 12.0)
SHAPES: dict[str, Shape] = {s.name: s for s in (
    Shape("spike", STEP, HOUR, NOISE_GRID, "noise sd, one point up"),
    Shape("shift_up", None, HOUR, NOISE_GRID, "noise sd, lasting"),
    Shape("shift_down", None, HOUR, NOISE_GRID, "noise sd, lasting"),
    Shape("ramp", None, 7 * HOUR, NOISE_GRID, "noise sd reached after a 6 h linear rise, then held"),
    Shape("variance", 2 * HOUR, 3 * HOUR, (1.5, 2.0, 3.0, 5.0, 8.0), "noise x k for 2 h"),
    Shape("dip", 30 * 60, 90 * 60, NOISE_GRID, "noise sd, 30 min half-sine dip that recovers"),
    Shape("flatline", 2 * HOUR, 3 * HOUR, (), "stuck at the last value for 2 h"),
    Shape("dropout", 30 * 60, 90 * 60, (), "value 0 for 30 min"),
    Shape("cycle_loss", None, 12 * HOUR, (), "daily cycle frozen at its onset value (no step), lasting"),
)}
RAMP = 6 * HOUR


@dataclass(frozen=True)
class Base:
    """Clean series of one family: ``values = mean + resid``; ``cycle`` is the daily part of ``mean``."""

    family: str
    timestamps: np.ndarray  # (T,) int64 Unix seconds
    values: np.ndarray  # (S, T)
    mean: np.ndarray  # (S, T)
    cycle: np.ndarray  # (S, T)
    sigma: np.ndarray  # (S,) robust sd of values - mean
    integer: bool


def _robust_sd(resid: np.ndarray) -> np.ndarray:
    med = np.median(resid, axis=1, keepdims=True)
    return 1.4826 * np.median(np.abs(resid - med), axis=1)


def _daily(t: np.ndarray, amp: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """A daily cycle with a second harmonic (a sharper peak than a sine), amplitude ``amp`` per series."""
    w = 2 * np.pi * t[None, :] / DAY
    return amp[:, None] * (np.sin(w + phase[:, None]) + 0.3 * np.sin(2 * w + 2 * phase[:, None]))


def make_base(family: str, n: int, steps: int, seed: int) -> Base:
    """``n`` clean series of ``family`` over ``steps`` samples from :data:`START`, deterministic per seed."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: choose from {', '.join(FAMILIES)}")
    rng = np.random.default_rng([seed, FAMILIES.index(family)])
    ts = START + STEP * np.arange(steps, dtype=np.int64)
    t = (ts - START).astype(np.float64)
    level = rng.uniform(50, 500, n)
    cycle = np.zeros((n, steps))
    integer = False
    if family in ("daily", "weekly"):
        cycle = _daily(t, level * rng.uniform(0.1, 0.4, n), rng.uniform(0, 2 * np.pi, n))
        mean = level[:, None] + cycle
        if family == "weekly":  # Saturday and Sunday (days 2, 3 from a Thursday) lower by 20-50 %
            weekend = ((t // DAY) % 7 >= 2) & ((t // DAY) % 7 < 4)
            mean = mean - (level * rng.uniform(0.2, 0.5, n))[:, None] * weekend[None, :]
        resid = rng.normal(0, 1, (n, steps)) * (level * rng.uniform(0.01, 0.04, n))[:, None]
    elif family == "counts":  # events per minute, Poisson around a daily rate of 5-50
        rate = rng.uniform(5, 50, n)
        cycle = _daily(t, rate * rng.uniform(0.3, 0.6, n), rng.uniform(0, 2 * np.pi, n))
        mean = rate[:, None] + cycle
        resid = rng.poisson(np.maximum(mean, 0)) - mean
        integer = True
    elif family == "ar1":  # random-walk-ish: AR(1) with phi 0.95-0.99 (a wander of 20-100 minutes)
        mean = np.broadcast_to(level[:, None], (n, steps)).copy()
        phi = rng.uniform(0.95, 0.99, n)
        shocks = rng.normal(0, 1, (n, steps)) * (level * 0.004)[:, None]
        shocks[:, 0] /= np.sqrt(1 - phi**2)  # start from the stationary distribution
        resid = np.stack([lfilter([1.0], [1.0, -p], row) for p, row in zip(phi, shocks, strict=True)])
    else:  # spiky: flat-ish with routine upward spikes (~4 a day, 1-3 samples, 5-60 noise sd)
        mean = np.broadcast_to(level[:, None], (n, steps)).copy()
        sd = level * rng.uniform(0.01, 0.03, n)
        resid = rng.normal(0, 1, (n, steps)) * sd[:, None]
        starts = rng.random((n, steps)) < 4 * STEP / DAY
        height = np.where(starts, 5 + rng.exponential(15, (n, steps)), 0.0)
        length = rng.integers(1, 4, (n, steps))
        spikes = np.zeros((n, steps))
        for k in range(3):  # a spike lasting `length` samples
            spikes[:, k:] = np.maximum(spikes[:, k:], np.where(length > k, height, 0.0)[:, : steps - k])
        resid = resid + spikes * sd[:, None]
    values = mean + resid
    if integer:
        values = np.round(values)
    return Base(family, ts, values, mean, cycle, _robust_sd(values - mean), integer)


def inject(base: Base, shape: str, magnitude: float, onset: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Base ``rows`` (default all) with one ``shape`` incident each, starting at column ``onset[i]``."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: choose from {', '.join(SHAPES)}")
    idx = np.arange(base.values.shape[0]) if rows is None else np.asarray(rows)
    x = base.values[idx].copy()
    sig = base.sigma[idx][:, None]
    onset = np.asarray(onset)[:, None]
    rel = np.arange(x.shape[1])[None, :] - onset  # samples since onset
    spec = SHAPES[shape]
    dur = x.shape[1] if spec.duration is None else spec.duration // STEP
    on = (rel >= 0) & (rel < dur)
    if shape == "spike":
        x += np.where(rel == 0, magnitude * sig, 0.0)
    elif shape in ("shift_up", "shift_down"):
        x += np.where(on, (1 if shape == "shift_up" else -1) * magnitude * sig, 0.0)
    elif shape == "ramp":
        x += np.clip(rel / (RAMP // STEP), 0.0, 1.0) * magnitude * sig
    elif shape == "variance":
        mean = base.mean[idx]
        x = np.where(on, mean + (x - mean) * magnitude, x)
    elif shape == "dip":
        x -= np.where(on, np.sin(np.pi * (rel + 1) / (dur + 1)), 0.0) * magnitude * sig
    elif shape == "flatline":
        stuck = np.take_along_axis(x, np.maximum(onset - 1, 0), axis=1)
        x = np.where(on, stuck, x)
    elif shape == "dropout":
        x = np.where(on, 0.0, x)
    else:  # cycle_loss: the value stops following its daily cycle from where it was (no step at onset)
        frozen = np.take_along_axis(base.cycle[idx], onset, axis=1)
        x -= np.where(on, base.cycle[idx] - frozen, 0.0)
    return np.clip(np.round(x), 0, None) if base.integer else x
