"""The ensemble's step for one series, compiled, and the loops that run it.

One step of one series is: the baseline's expected value, each member's
statistic and calibrated p-value, the Bonferroni combination, the episode
suppression (``refractory``), then, with the guard's weight, learning.
:func:`score_one` and :func:`learn_one` do that for series ``i``; the loops
below run them

- over series for one step (:func:`score_step`, :func:`learn_step`: the
  per-step protocol the likelihood wrapper and ``score``/``learn`` use), and
- over the steps of a batch with the guard in between (:func:`run_series`
  for one series, :func:`run_batch` for all: ``process`` of the guarded
  ensemble; :mod:`sentinel.detect.pipeline` adds the decision layer), so
  each series' state is read once per batch instead of once per step.

Both paths call the same per-series functions, so they give the same
numbers.  :func:`finish_step` and :func:`peak_step` serve the ensemble's
per-step path for members without a compiled kernel.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sentinel.detect import baseline_kernels as bl
from sentinel.detect import calibrate as cal
from sentinel.detect import drift as dr
from sentinel.detect import guard as gd
from sentinel.detect import members as mb
from sentinel.detect.jit import kernel

LN10 = math.log(10.0)
PEAK_TINY = 4e-17  # below this, 10**peak rounds to 1: the suppression changes nothing


class Params(NamedTuple):
    """The ensemble's own constants, for the kernels."""

    band: float
    cal_floor: float
    refractory: bool
    decay: float  # of the episode peak, per step
    floor: float  # episode_floor (decades)
    p_floor: float  # a p-value above this is below the episode floor (with a margin)


@kernel
def combine(pv: np.ndarray, x: float) -> float:
    """Bonferroni ``min(1, k * min_i p_i)`` ignoring NaN members; 1 for a seen value nobody judged yet."""
    best = math.nan
    for v in pv:
        if best != best or v < best:
            best = v
    p = bl.minimum(1.0, len(pv) * best)
    return 1.0 if (p != p and x == x) else p


@kernel(inline=False)
def suppress(e: Params, p: float, peak: float) -> float:
    """Only what exceeds the decaying peak surprise of an ongoing episode: ``10**-(q - min(q, peak))``."""
    if not e.refractory or p != p:
        return p
    if peak < PEAK_TINY:
        return max(p, 1e-300)
    # 10**-(q - min(q, peak)) with q = -log10(p): one exponential instead of a logarithm and a power
    return min(max(p, 1e-300) * math.exp(peak * LN10), 1.0)


@kernel(inline=False)
def next_peak(e: Params, p: float, peak: float) -> float:
    """The episode peak after learning a point of p-value ``p`` (decayed; surprises past the floor count)."""
    pp = 1.0 if p != p else p
    new = 0.0
    if pp <= e.p_floor:
        q = -math.log10(max(pp, 1e-300))
        if q >= e.floor:
            new = q
    return bl.maximum(peak * e.decay, new)


@kernel
def emit(row: np.ndarray, e: Params, p: float, peak: float, expected: float, scale: float, pv: np.ndarray) -> float:
    """Write score, expected, lower, upper and member scores of one series and step; returns the score."""
    score = 1.0 - suppress(e, p, peak)
    half = e.band * scale
    row[0] = score
    row[1] = expected
    row[2] = expected - half
    row[3] = expected + half
    for j in range(len(pv)):
        row[4 + j] = 1.0 - pv[j]
    return score


@kernel
def score_one(b: bl.Arrays, bp: bl.Params, codes: np.ndarray, mps: np.ndarray, m: mb.Arrays, ca: cal.Arrays,
              cc: cal.Consts, i: int, t: int, x: float, d_slot: int, w_slot: int, stats: np.ndarray,
              pv: np.ndarray) -> tuple:
    """Evidence for value ``x`` of series ``i``: fills ``stats``/``pv``; returns p, expected, scale and components."""
    daily, weekly, model, ds, ws = bl.components(b, bp, i, t, d_slot, w_slot)
    season = bl.season_of(daily, weekly, model)
    expected = bl.expected_one(b, i, season, model)
    scale = bl.scale_one(b, bp, i)
    inv_scale = 1.0 / scale
    # the members judge the value as the local level saw it before the weekly step it takes now (none: 0), so
    # a weekend's return is no new record for the range member; the residual and the band are the same
    step = weekly if model == 0 else 0.0
    for j in range(len(codes)):
        stats[j] = mb.statistic_one(codes[j], mps[j], m, b, bp, i, x - step, expected - step, season - step,
                                    inv_scale)
        pv[j] = cal.pvalue_one(ca, cc, i, j, stats[j])
    return combine(pv, x), expected, scale, daily, weekly, model, ds, ws


@kernel
def learn_one(b: bl.Arrays, bp: bl.Params, codes: np.ndarray, mps: np.ndarray, m: mb.Arrays, ca: cal.Arrays,
              cc: cal.Consts, e: Params, peak: np.ndarray, i: int, x: float, w: float, p: float,
              stats: np.ndarray, daily: float, weekly: float, model: int, ds: int, ws: int) -> None:
    """Learn value ``x`` of series ``i`` with guard weight ``w`` (calibrators learn at least ``cal_floor``)."""
    w_cal = bl.maximum(w, e.cal_floor)
    for j in range(len(codes)):
        cal.learn_one(ca, cc, i, j, stats[j], w_cal)
        mb.learn_one(codes[j], mps[j], m, i, stats[j], x, w)
    bl.learn_one(b, bp, i, x, w, daily, weekly, model, ds, ws)
    if e.refractory:
        peak[i] = next_peak(e, p, peak[i])


@kernel
def drift_one(b: bl.Arrays, e: Params, da: dr.Arrays, dp: dr.Params, i: int, hour: int, into: int, x: float,
              scale: float, learn: bool) -> float:
    """The drift condition of value ``x`` of series ``i`` (:func:`sentinel.detect.drift.step_at`); learn it.

    Learns only if asked; called before the baseline learns ``x`` (its count and ``scale``, the one
    :func:`score_one` returned, are the step's: passed in, not computed twice).
    """
    if not dp.on:
        return 0.0
    return dr.step_at(da, dp, i, hour, into, x, e.band * scale, b.n[i], learn)


@kernel
def score_step(b: bl.Arrays, bp: bl.Params, codes: np.ndarray, mps: np.ndarray, m: mb.Arrays, ca: cal.Arrays,
               cc: cal.Consts, e: Params, peak: np.ndarray, da: dr.Arrays, dp: dr.Params, t: int, x: np.ndarray,
               d_slot: int, w_slot: int, out: np.ndarray, stats: np.ndarray, praw: np.ndarray,
               pv: np.ndarray) -> None:
    """Score one step of every series into ``out`` (series x (5 + members)); keep the evidence for learning.

    The last column is the drift condition.  ``pv`` is scratch space, one
    float per member (the kernels allocate nothing).
    """
    hour, into = dr.clock(t)
    for i in range(len(x)):
        p, expected, scale, _, _, _, _, _ = score_one(b, bp, codes, mps, m, ca, cc, i, t, x[i], d_slot, w_slot,
                                                      stats[i], pv)
        praw[i] = p
        emit(out[i], e, p, peak[i] if e.refractory else 0.0, expected, scale, pv)
        out[i, 4 + len(pv)] = drift_one(b, e, da, dp, i, hour, into, x[i], scale, False)


@kernel
def learn_step(b: bl.Arrays, bp: bl.Params, codes: np.ndarray, mps: np.ndarray, m: mb.Arrays, ca: cal.Arrays,
               cc: cal.Consts, e: Params, peak: np.ndarray, da: dr.Arrays, dp: dr.Params, t: int, x: np.ndarray,
               w: np.ndarray, d_slot: int, w_slot: int, stats: np.ndarray, praw: np.ndarray) -> None:
    """Learn one step of every series from the evidence :func:`score_step` kept."""
    hour, into = dr.clock(t)
    for i in range(len(x)):
        daily, weekly, model, ds, ws = bl.components(b, bp, i, t, d_slot, w_slot)
        if x[i] == x[i]:
            drift_one(b, e, da, dp, i, hour, into, x[i], bl.scale_one(b, bp, i), True)
        learn_one(b, bp, codes, mps, m, ca, cc, e, peak, i, x[i], w[i], praw[i], stats[i], daily, weekly, model,
                  ds, ws)


@kernel
def run_series(b: bl.Arrays, bp: bl.Params, codes: np.ndarray, mps: np.ndarray, m: mb.Arrays, ca: cal.Arrays,
               cc: cal.Consts, e: Params, peak: np.ndarray, da: dr.Arrays, dp: dr.Params, i: int, ts: np.ndarray,
               x: np.ndarray, d_slots: np.ndarray, w_slots: np.ndarray, hours: np.ndarray, into: np.ndarray,
               guarded: bool, g: gd.Params, g_run: np.ndarray, g_last: np.ndarray, g_t: np.ndarray, out: np.ndarray,
               stats: np.ndarray, pv: np.ndarray) -> None:
    """Score then learn every step of series ``i`` (values ``x``, outputs ``out``: steps x (5 + members)).

    ``hours`` and ``into`` are the steps' :func:`sentinel.detect.drift.clocks`.
    """
    for j in range(len(ts)):
        t, xj = ts[j], x[j]
        p, expected, scale, daily, weekly, model, ds, ws = score_one(b, bp, codes, mps, m, ca, cc, i, t, xj,
                                                                     d_slots[j], w_slots[j], stats, pv)
        score = emit(out[j], e, p, peak[i] if e.refractory else 0.0, expected, scale, pv)
        out[j, 4 + len(pv)] = drift_one(b, e, da, dp, i, hours[j], into[j], xj, scale, True)
        w = 1.0
        if guarded:
            last = 0.0 if score != score else score
            g_last[i], g_t[i] = last, t
            w, g_run[i], shifted = gd.weight_one(g, last, xj, g_run[i])
            if shifted:
                bl.rebase_one(b, bp, i)
        learn_one(b, bp, codes, mps, m, ca, cc, e, peak, i, xj, w, p, stats, daily, weekly, model, ds, ws)


@kernel
def run_batch(b: bl.Arrays, bp: bl.Params, codes: np.ndarray, mps: np.ndarray, m: mb.Arrays, ca: cal.Arrays,
              cc: cal.Consts, e: Params, peak: np.ndarray, da: dr.Arrays, dp: dr.Params, ts: np.ndarray,
              values: np.ndarray, d_slots: np.ndarray, w_slots: np.ndarray, hours: np.ndarray, into: np.ndarray,
              guarded: bool, g: gd.Params, g_run: np.ndarray, g_last: np.ndarray, g_t: np.ndarray, out: np.ndarray,
              stats: np.ndarray, pv: np.ndarray) -> None:
    """Score then learn every step of every series (series outer, time inner), guarded if asked.

    ``out`` is (series, steps, 5 + members), the last column the drift
    condition; the guard's weight, run length and rebase are the same as
    :class:`~sentinel.detect.guard.Guard` applies step by step.  ``stats``
    and ``pv`` are scratch space, one float per member.
    """
    for i in range(values.shape[0]):
        run_series(b, bp, codes, mps, m, ca, cc, e, peak, da, dp, i, ts, values[i], d_slots, w_slots, hours, into,
                   guarded, g, g_run, g_last, g_t, out[i], stats, pv)


@kernel
def finish_step(e: Params, peak: np.ndarray, x: np.ndarray, expected: np.ndarray, scale: np.ndarray,
                pvals: np.ndarray, out: np.ndarray, praw: np.ndarray) -> None:
    """Combine member p-values computed elsewhere into ``out`` (the per-step path of uncompiled members)."""
    for i in range(len(x)):
        praw[i] = combine(pvals[i], x[i])
        emit(out[i], e, praw[i], peak[i] if e.refractory else 0.0, expected[i], scale[i], pvals[i])


@kernel
def peak_step(e: Params, peak: np.ndarray, praw: np.ndarray) -> None:
    """Update every series' episode peak after learning (the per-step path of uncompiled members)."""
    for i in range(len(praw)):
        peak[i] = next_peak(e, praw[i], peak[i])
