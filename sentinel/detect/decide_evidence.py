"""The decision layer's rules for one step of one series: evidence past the margins, report or not, its rank.

What each rule is for is in :class:`~sentinel.detect.likelihood.Likelihood`
(items 5 to 8: margins and the deviation floor, the report budget and rank,
the refractory envelope, the warm-up).  Here they are pure functions of one
series' numbers (the state is only read), so :mod:`sentinel.detect.decide`
can apply the same rules when it scores a step and again when it learns it,
without keeping their results in the state.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sentinel.detect.jit import kernel

if TYPE_CHECKING:
    from sentinel.detect.decide import Arrays, Params


@kernel(inline=False)
def relative(lp: Params, q: float, qs: float, n: int, L: float, S: float, extra: float, small: bool) -> tuple:
    """``(ok, use, rel)``: L known; past the warm-up; how far L or S exceed their quantiles beyond their margins.

    ``extra`` (the report budget's, decades) is added to both margins; a
    ``small`` deviation (under the floor) gives the L channel nothing.
    """
    ok = math.isfinite(L)
    use = ok and n + 1 > lp.n_warm
    if not use:
        return ok, use, 0.0
    rel = max(L - q, 0.0)
    rel = rel if rel > lp.margin + extra and not small else 0.0
    if lp.sequence and math.isfinite(S):
        rs = max(S - qs, 0.0)
        rel = max(rel, rs if rs > lp.margin_seq + extra else 0.0)
    return ok, use, rel


@kernel(inline=False)
def over_budget(lp: Params, rate: float) -> float:
    """Extra margin (decades) of a series reporting at ``rate``: ``budget_gain`` per decade above ``budget_rate``."""
    if not (lp.budget and rate > lp.budget_rate):
        return 0.0
    return lp.budget_gain * math.log10(rate / lp.budget_rate)


@kernel
def evidence(la: Arrays, lp: Params, i: int, x: float, L: float, S: float, expected: float, nov: bool,
             width: float) -> tuple:
    """``(ok, rel, rn)`` of series ``i`` from the state before learning: every channel, past its margin.

    ``rn`` is the novelty channel's share (0 when it finds nothing); ``nov``
    and ``width`` are its :func:`~sentinel.detect.novelty.look`.
    The deviation floor: ``|x - expected|`` under ``dev_floor``
    of the value's range ``width`` is no L report (NaN compares false: no floor yet).
    """
    extra = over_budget(lp, la.rt[i]) if lp.budget else 0.0
    small = lp.floor and abs(x - expected) < lp.dev_floor * width
    ok, use, rel = relative(lp, la.q[i], la.qs[i] if lp.sequence else 0.0, la.n[i], L, S, extra, small)
    rn = lp.nov_rel if use and nov else 0.0
    return ok, max(rel, rn), rn


@kernel(inline=False)
def young(lp: Params, n: int) -> float:
    """Decades an L or S report ranks lower after ``n`` scored samples: ``young_rank * (1 - n / young_n)``, >= 0."""
    if not (lp.young_n > 0 and n < lp.young_n):
        return 0.0
    return lp.young_rank * (1.0 - n / lp.young_n)


@kernel(inline=False)
def ranked(lp: Params, rel: float, rn: float, rate: float, n: int) -> float:
    """Decades above ``base`` of a report with evidence ``rel`` (``rn`` of it novelty's) after ``n`` scored samples.

    ``rel`` less ``rank_rate`` per decade of ``rate`` above ``budget_rate``
    (more for a series over budget, less, as a bonus, for a quiet one; the
    bonus counts at most 3 decades below ``budget_rate``), at least 1e-3:
    the report stands, only its rank among reports changes.  A report from a
    series that seldom reports is the more telling one.  So is one from a
    model that has seen enough to know its own tail: the L and S channels
    compare with quantile trackers aimed at 1 in ``1/(1-q)`` (10**4), which
    a young series has not seen even once, so until ``young_n`` samples
    their evidence ranks ``young_rank`` decades lower at the first sample,
    linearly less to none at ``young_n`` (:func:`young`).  The novelty
    channel's evidence (against the range the series has shown, no tail
    estimate) is not lowered, and a report both channels make ranks at
    least as its novelty does.
    """
    if not (lp.budget and lp.rank_rate > 0):
        return rel
    ev = rel - young(lp, n)
    if rn > 0.0:
        ev = max(ev, rn)
    r = max(rate, 1e-3 * lp.budget_rate)
    return max(ev - lp.rank_rate * math.log10(r / lp.budget_rate), 1e-3)


@kernel(inline=False)
def reports(lp: Params, rel: float, env: float) -> bool:
    """Is evidence ``rel`` a report under the refractory envelope ``env``? (One rule for scoring and the budget.)"""
    return rel > lp.env_gain * env and rel > 0.0
