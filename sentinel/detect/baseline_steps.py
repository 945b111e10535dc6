"""Weekly steps for the local level: sharp changes that recur at the same hour of the week.

Why: at 1-minute samples the baseline runs most series on its local level
(a level that adapts in ~10 steps follows a smooth daily cycle with little
lag, so it wins the one-step error).  A sharp weekly edge (a weekend that
starts at midnight, office hours that start at 9:00 on weekdays) is then a
miss of the whole step every week, and alerts every week: the level learns
nothing it could bring back a week later.  So the local level takes the
learned step at the first sample of the hour it starts.

What is learned, per hour-of-week slot (the baseline's weekly slots): the
*change* into the slot, the mean of the slot's values less the mean of the
slot before, measured within one pass (so a level that drifts from week to
week does not leak in), a running mean over the first weeks, then
exponentially weighted (``alpha_season`` per week).  A *step* is a change
that stands out from the changes on both sides of it: the change into the
slot less the smooth change there: the mean of its neighbours' changes,
unless they differ by more than three times the change differs from the
closer of them (that one is then the smooth change: the other may be a step
itself).  A smooth change
(a daily cycle, a ramp over hours) gives none, since the local level follows
it by itself; a step at a slot's start gives its whole size.  A step inside
an hour is split between two changes and mostly not taken: a known limit.

The changes are stored as int8 on a mu-law scale in units of the residual
scale at the first write (``unit``): 168 bytes a series instead of 672 for
float32, 5.7 % relative precision from 0.065 to 1,160 units (larger steps
are taken at 1,160 units).  ``UNSEEN`` marks a slot not yet learned; a step
needs its slot and both neighbours seen, so nothing changes in a series'
first week.

The kernels here work on one series of the baseline's arrays
(:class:`sentinel.detect.baseline_kernels.Arrays`) and are compiled
(:mod:`sentinel.detect.jit`); the baseline's kernels call them.

>>> import numpy as np
>>> prof = np.full((1, 168), UNSEEN, dtype=np.int8)  # one series
>>> for h, change in ((47, 0.4), (48, -15.0), (49, 0.5), (50, 0.3)):  # a weekend from Saturday 00:00
...     learn_change(prof, 0, 1.0, h, change, 0.2)
>>> round(step_into(prof, 0, 1.0, 48), 1), round(step_into(prof, 0, 1.0, 49), 1), step_into(prof, 0, 1.0, 51)
(-15.5, 0.2, nan)
"""

from __future__ import annotations

import math

import numpy as np

from sentinel.detect import baseline_kernels as bk
from sentinel.detect.jit import kernel

MU = 18.0
"""Codes per e-fold of ``1 + |change| / unit``: 127 codes reach ``expm1(127 / MU)`` = 1,160 units."""
UNSEEN = -128
"""The code of a slot whose change was never learned."""


@kernel(inline=False)
def decode(q: int, unit: float) -> float:
    """The change a code stands for (NaN for :data:`UNSEEN`)."""
    if q == UNSEEN:
        return math.nan
    a = unit * math.expm1(abs(q) / MU)
    return a if q > 0 else -a


@kernel(inline=False)
def encode(v: float, unit: float) -> np.int8:
    """The nearest code of change ``v`` (saturating at +-127)."""
    q = min(round(MU * math.log1p(abs(v) / unit)), 127)
    return np.int8(q if v >= 0 else -q)


@kernel
def step_into(prof: np.ndarray, i: int, unit: float, w_slot: int) -> float:
    """Series ``i``'s step into slot ``w_slot``: its change less the smooth change there (NaN until seen)."""
    n = prof.shape[1]
    before = decode(prof[i, (w_slot + n - 1) % n], unit)
    change = decode(prof[i, w_slot], unit)
    after = decode(prof[i, (w_slot + 1) % n], unit)
    near = min(abs(change - before), abs(change - after))
    if abs(before - after) <= 3.0 * near:  # no neighbour stands out: the smooth change here is their mean
        return change - 0.5 * (before + after)
    return change - (before if abs(change - before) <= abs(change - after) else after)


@kernel
def learn_change(prof: np.ndarray, i: int, unit: float, at: int, change: float, rate: float) -> None:
    """Series ``i``'s slot ``at`` learns one pass's change into it: whole the first time, then at ``rate``."""
    old = decode(prof[i, at], unit)
    prof[i, at] = encode(change if old != old else old + rate * (change - old), unit)


@kernel
def taken_step(b: bk.Arrays, p: bk.Params, i: int, w_slot: int) -> tuple:
    """``(step, taken)``: the weekly step into ``w_slot`` at the first value in it, and the part the local level takes.

    ``step`` is NaN but at the first value of the slot after the one the
    last value was in, when its change and its neighbours' are learned and the
    step exceeds ``jump_min`` residual scales (4 by default, the residual
    clip: a smaller miss is one the local level absorbs within a few values
    anyway, and it is where the learned changes' noise and the hours that
    split an edge inside them sit; at 2 scales NAB's low-FP score fell 0.1).
    It is ``taken`` while such steps have paid off (``s_gain`` >= 0, see
    :func:`learn_one`; a series starts with the record of one step that paid off).
    """
    at = b.s_at[i]
    if at == w_slot or not (at + 1 == w_slot or (w_slot == 0 and at == p.n_weekly - 1)):
        return math.nan, 0.0
    step = step_into(b.steps, i, np.float64(b.s_unit[i]), w_slot)
    if step == step and abs(step) > p.jump_min * bk.scale_one(b, p, i):
        return step, (step if b.s_gain[i] >= 0.0 else 0.0)
    return math.nan, 0.0


@kernel
def _learn_steps(b: bk.Arrays, p: bk.Params, i: int, x: float, w: float, w_slot: int) -> None:
    """Measure the pass through the weekly slot of ``x``; on entering a new slot, learn the change into the last.

    The change into a slot is the mean of the values it held less the mean
    of the slot before, within one pass (only values the guard lets through
    count; a gap between them measures nothing).  ``s_cur`` holds the sum of
    the pass's values, ``s_k`` their count (a division per slot, not per value).
    """
    at = b.s_at[i]
    if w_slot != at:
        if at >= 0:
            cur, prev = b.s_cur[i] / b.s_k[i] if b.s_k[i] > 0 else math.nan, b.s_prev[i]
            if cur == cur and prev == prev and b.n[i] >= p.warmup:
                if b.s_unit[i] != b.s_unit[i]:
                    b.s_unit[i] = np.float32(bk.scale_one(b, p, i))
                weeks = math.floor(b.n[i] * p.step / bk.WEEK)
                learn_change(b.steps, i, np.float64(b.s_unit[i]), at, cur - prev,
                                max(p.alpha_season, 1.0 / (weeks + 1.0)))
            b.s_prev[i] = cur if (at + 1) % p.n_weekly == w_slot else math.nan
        b.s_at[i] = w_slot
        b.s_k[i] = 0
        b.s_cur[i] = 0.0
    if w > 0:
        b.s_k[i] += 1
        b.s_cur[i] += x


@kernel
def learn_one(b: bk.Arrays, p: bk.Params, i: int, x: float, w: float, model: int, w_slot: int) -> None:
    """Judge and take the weekly step at the first value of a slot, then measure the pass.

    The local level takes the step; so do the memories that share its frame
    when it is the model in use.  ``s_gain`` is the decayed mean, over the
    steps judged, of how much closer the step brought the local level to the
    value (in residual scales, capped at ``clip``), judged whatever the guard
    says: the two predictions differ only by the step, so an outlier moves
    both alike.
    """
    step, taken = taken_step(b, p, i, w_slot)
    if step == step:
        e = x - b.local[i]
        g = np.float64(b.s_gain[i])
        judged = bk.clip((abs(e) - abs(e - step)) / bk.scale_one(b, p, i), p.clip)
        b.s_gain[i] = np.float32(g + p.alpha_gain * (judged - g))
    if taken != 0.0:
        b.local[i] += taken
        if model == 0:
            b.fast[i] += taken
            b.mid[i] += taken
            b.slow[i] += taken
    _learn_steps(b, p, i, x, w, w_slot)
