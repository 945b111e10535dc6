"""The decision layer's novelty channel, compiled: is this value (or its EW mean) beyond anything seen?

What the channel is for, and its parameters, are in
:class:`~sentinel.detect.likelihood.Likelihood` (item 4): the value, or its
EW mean, beyond the range it has shown by more than ``nov_tol`` of the
range's width, or the floor of the last ``rise_k`` values risen
(:mod:`sentinel.detect.rise`), or the peak of the last day fallen
(:mod:`sentinel.detect.ceiling`), or one value repeated longer than ever
(:mod:`sentinel.detect.stuck`).  The ranges also give the deviation
floor its width.

The channel's state learns every value, whatever the layer decides, and
:func:`look` reads only that state, so a batch can run the channel over a
series' whole row ahead of the decisions (:func:`sentinel.detect.decide_batch.run_series`):
each loop is then short and the processor overlaps its steps.  The
decisions gate a novel value by their own warm-up (``use``), so the check
here is made whether or not it will count.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sentinel.detect import ceiling, ranges, rise, stuck
from sentinel.detect.jit import kernel

if TYPE_CHECKING:
    from sentinel.detect.decide import Arrays, Params


@kernel
def phase(la: Arrays, lp: Params, i: int) -> tuple:
    """``(slot, pos, blk)``: where series ``i``'s next value goes in the rise check's ring and the ceiling's blocks.

    ``kc % (rise_k - 1)``, ``kc % ceil_m`` and ``kc // ceil_m`` of the
    count ``kc``.  An integer division costs more than the rest of a value's
    novelty check, so the batch pass divides once per row and counts along
    (:func:`advanced`).
    """
    kc = la.kc[i] if lp.rise or lp.ceil else 0
    slot = kc % (lp.rise_k - 1) if lp.rise else 0
    pos, blk = (kc % lp.ceil_m, kc // lp.ceil_m) if lp.ceil else (0, 0)
    return slot, pos, blk


@kernel(inline=False)
def advanced(lp: Params, ph: tuple) -> tuple:
    """:func:`phase` of the next count (after a value learned by the rise or ceiling check)."""
    slot, pos, blk = ph
    slot = slot + 1 if slot + 2 < lp.rise_k else 0
    if pos + 1 < lp.ceil_m:
        return slot, pos + 1, blk
    return slot, 0, blk + 1


@kernel
def look(la: Arrays, lp: Params, i: int, x: float, ph: tuple) -> tuple:
    """``(novel, width, ew)`` of value ``x`` of series ``i`` from the state before it.

    ``novel``: beyond a range or a rise, ceiling or stuck check (after ``n_warm``
    values learned; NaN compares false: no range yet); ``width``: the
    value's range (NaN: none yet), for the deviation floor; ``ew``: the EW
    mean after ``x``, for :func:`learn`.  Without the channel: ``(False, NaN, NaN)``.
    ``ph`` is the :func:`phase` of ``la.kc[i]``.
    """
    if not lp.novelty:
        return False, math.nan, math.nan
    lo, hi = la.rlo[i], la.rhi[i]
    ew = la.ew[i]
    if not math.isfinite(x):
        return False, hi - lo, ew
    ew = x if ew != ew else ew + lp.nov_alpha * (x - ew)
    if not la.nv[i] + 1 > lp.n_warm:
        return False, hi - lo, ew
    tol = lp.nov_tol * (hi - lo)
    elo, ehi = la.elo[i], la.ehi[i]
    etol = lp.nov_tol * (ehi - elo)
    if x > hi + tol or x < lo - tol or ew > ehi + etol or ew < elo - etol:
        return True, hi - lo, ew
    if lp.rise and rise.risen(la.kb, la.klo, la.khi, la.kc, i, x, lp.rise_k, lp.rise_tol, lp.n_warm):
        return True, hi - lo, ew
    if lp.ceil and ceiling.fallen(la.cb, la.cm, la.clo, la.kc, i, x, lp.ceil_m, lp.ceil_tol, hi - lo, lp.n_warm,
                                  ph[1], ph[2]):
        return True, hi - lo, ew
    if lp.stuck and stuck.stuck(la.sv, la.sr, la.sm, la.sc, la.sb, i, x, lp.stuck_min, lp.stuck_factor, lp.n_warm):
        return True, hi - lo, ew
    return False, hi - lo, ew


@kernel
def learn(la: Arrays, lp: Params, i: int, x: float, ew: float, ph: tuple) -> None:
    """Widen the ranges of series ``i`` to ``x`` and its EW mean ``ew`` (every value, anomalies included); forget.

    ``ph`` is the :func:`phase` of ``la.kc[i]``.
    """
    if not (lp.novelty and math.isfinite(x)):
        return
    if lp.rise:
        rise.learn(la.kb, la.klo, la.khi, la.kc, i, x, lp.rise_k, lp.rise_forget, ph[0])
    if lp.ceil:
        ceiling.learn(la.cb, la.cm, la.clo, la.chi, i, x, lp.ceil_m, lp.ceil_forget, ph[1], ph[2])
    if lp.rise or lp.ceil:
        la.kc[i] += 1
    if lp.stuck:
        stuck.learn(la.sv, la.sr, la.sm, la.sc, la.sb, i, x, lp.stuck_forget, la.rlo[i], la.rhi[i], lp.nov_tol)
    la.ew[i] = ew
    la.rlo[i], la.rhi[i] = ranges.widened(la.rlo[i], la.rhi[i], x, lp.nov_forget)
    la.elo[i], la.ehi[i] = ranges.widened(la.elo[i], la.ehi[i], ew, lp.nov_forget)
    la.nv[i] += 1


@kernel
def held(la: Arrays, lp: Params, i: int, x: float) -> float:
    """1.0 if value ``x`` of series ``i`` is in a run of one value past the stuck limit, else 0.0; NaN if missing.

    From the state before ``x``, like :func:`look` (:func:`sentinel.detect.stuck.over`):
    the per-point condition behind the alert policy's ``stuck`` alert.  The
    caller asks only with the stuck check on.
    """
    if not math.isfinite(x):
        return math.nan
    return 1.0 if stuck.over(la.sv, la.sr, la.sm, la.sc, la.sb, i, x, lp.stuck_min, lp.stuck_factor,
                             lp.n_warm) else 0.0
