"""The likelihood wrapper's step for one series, compiled, and the loops that run it.

:class:`~sentinel.detect.likelihood.Likelihood` (what the decision layer
does, and why) turns the inner detector's score of one series and step into
a decision score and learns its own per-series state: the quantile trackers
of the surprise ``L`` and of the sequence surprise ``S``
(:mod:`sentinel.detect.sequence`), the ranges of the novelty channel (and
the state of its rise and ceiling checks), the
refractory envelope, the report budget's rate, the expected value the
deviation floor compares with and the warm-up counts.
:func:`score_one` and :func:`learn_one` do that for series ``i``; the loops
below run them

- over series for one step (:func:`score_step`, :func:`learn_step`: the
  per-step protocol of ``score``/``learn`` and of wrappers above it), and
- over series *and* the steps of a batch (:func:`run_batch`), after the
  inner detector has run the batch (the guarded ensemble's compiled pass):
  the inner reads nothing of this layer's state and learns with the weight
  passed through, so its scores can be computed first.

Both paths call the same per-series functions, so they give the same numbers.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sentinel.detect import ceiling, rise
from sentinel.detect import sequence as sq
from sentinel.detect.jit import kernel

LN10 = math.log(10.0)
INV_LN10 = 1.0 / LN10


class Arrays(NamedTuple):
    """The wrapper's state arrays (``lk.*`` in ``state_``; ``qs``/``S`` empty without a sequence channel)."""

    q: np.ndarray  # quantile of L at level q (decades)
    env: np.ndarray  # refractory envelope of Lrel
    n: np.ndarray  # scored samples so far (int64)
    L: np.ndarray  # L of the last scored step (NaN: no score)
    t: np.ndarray  # time of the last scored step (int64)
    qs: np.ndarray  # quantile of the sequence surprise S at level q
    S: np.ndarray  # S of the last scored step
    ew: np.ndarray  # novelty channel (empty without it): EW mean of the value
    rlo: np.ndarray  # range of the value ...
    rhi: np.ndarray
    elo: np.ndarray  # ... and of its EW mean
    ehi: np.ndarray
    nv: np.ndarray  # values learned into the ranges (int64)
    rt: np.ndarray  # report budget (empty without it): EW rate of reports per scored step
    E: np.ndarray  # deviation floor (empty without it): the inner's expected value of the last scored step
    kb: np.ndarray  # rise check (empty without it): the last rise_k - 1 values (series x rise_k - 1) ...
    klo: np.ndarray  # ... the range of the minimum of the last rise_k values ...
    khi: np.ndarray
    kc: np.ndarray  # values learned by the rise and ceiling checks (int64)
    cb: np.ndarray  # ceiling check (empty without it): the maxima of the last blocks (series x blocks, float32) ...
    cm: np.ndarray  # ... the maximum of the block being filled ...
    clo: np.ndarray  # ... and the range of the day's peak
    chi: np.ndarray


class Params(NamedTuple):
    """The wrapper's constants, for the kernels."""

    eta: float
    one_minus_q: float  # 1 - q: the tracker moves down by eta * this per non-exceedance
    env_decay: float
    env_gain: float
    n_warm: int
    max_L: float
    m_cap: float  # 10**-max_L: the smallest tail probability L resolves
    base: float  # -log10(1 - decide_at): where reports start, in decades
    margin: float  # of the L channel
    sequence: bool
    margin_seq: float  # of the sequence channel
    novelty: bool
    nov_tol: float  # tolerance beyond a range, as a fraction of its width
    nov_forget: float  # each end of a range moves inward by this fraction of the width per value
    nov_alpha: float  # weight of the EW mean
    nov_rel: float  # Lrel (decades) of a novel point
    budget: bool
    budget_alpha: float  # weight of the EW report rate
    budget_rate: float  # the rate above which the L and S channels' margins rise
    budget_gain: float  # decades of margin per decade of rate above budget_rate
    floor: bool  # the deviation floor is on (needs the novelty channel's ranges)
    dev_floor: float  # L reports need |x - expected| >= this fraction of the value's range
    rank_rate: float  # a report's decades above base fall by this per decade of report rate above budget_rate
    rise: bool  # the novelty channel's rise check is on
    rise_k: int  # over the minimum of the last rise_k values ...
    rise_tol: float  # ... above its own range by this fraction of the width ...
    rise_forget: float  # ... which forgets this fraction of its width per value at each end
    ceil: bool  # the novelty channel's ceiling check is on (and the sampling step known)
    ceil_m: int  # values per block (a day is cb.shape[1] blocks)
    ceil_tol: float  # the day's peak below the lowest by this fraction of the value's range
    ceil_forget: float  # the peaks' range forgets this fraction of its width per value at each end
    young_n: float  # an L or S report ranks lower until this many scored samples (0: never) ...
    young_rank: float  # ... by this many decades at the first, falling linearly to none at young_n


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
def novel(la: Arrays, lp: Params, i: int, x: float, use: bool) -> tuple:
    """``(rel, ew)``: the novelty channel's Lrel for value ``x`` of series ``i`` and the EW mean after ``x``.

    Novel: the value, or its EW mean, beyond the range it has shown by more
    than ``nov_tol`` of the range's width (NaN compares false: no range yet),
    or the floor of the last ``rise_k`` values risen (:mod:`sentinel.detect.rise`), or the peak of the
    last day fallen (:mod:`sentinel.detect.ceiling`).
    """
    ew = la.ew[i]
    if not math.isfinite(x):
        return 0.0, ew
    ew = x if ew != ew else ew + lp.nov_alpha * (x - ew)
    if not (use and la.nv[i] + 1 > lp.n_warm):
        return 0.0, ew
    lo, hi = la.rlo[i], la.rhi[i]
    tol = lp.nov_tol * (hi - lo)
    elo, ehi = la.elo[i], la.ehi[i]
    etol = lp.nov_tol * (ehi - elo)
    if x > hi + tol or x < lo - tol or ew > ehi + etol or ew < elo - etol:
        return lp.nov_rel, ew
    if lp.rise and rise.risen(la.kb, la.klo, la.khi, la.kc, i, x, lp.rise_k, lp.rise_tol, lp.n_warm):
        return lp.nov_rel, ew
    if lp.ceil and ceiling.fallen(la.cb, la.cm, la.clo, la.kc, i, x, lp.ceil_m, lp.ceil_tol, hi - lo, lp.n_warm):
        return lp.nov_rel, ew
    return 0.0, ew


@kernel
def learn_novel(la: Arrays, lp: Params, i: int, x: float, ew: float) -> None:
    """Widen the ranges of series ``i`` to ``x`` and its EW mean ``ew`` (every value, anomalies included); forget."""
    if not math.isfinite(x):
        return
    if lp.rise:
        rise.learn(la.kb, la.klo, la.khi, la.kc, i, x, lp.rise_k, lp.rise_forget)
    if lp.ceil:
        ceiling.learn(la.cb, la.cm, la.clo, la.chi, la.kc, i, x, lp.ceil_m, lp.ceil_forget)
    if lp.rise or lp.ceil:
        la.kc[i] += 1
    la.ew[i] = ew
    if la.rlo[i] != la.rlo[i]:
        la.rlo[i], la.rhi[i], la.elo[i], la.ehi[i] = x, x, ew, ew
    else:
        lo, hi = la.rlo[i], la.rhi[i]
        d = (hi - lo) * lp.nov_forget
        la.rhi[i], la.rlo[i] = max(x, hi - d), min(x, lo + d)
        lo, hi = la.elo[i], la.ehi[i]
        d = (hi - lo) * lp.nov_forget
        la.ehi[i], la.elo[i] = max(ew, hi - d), min(ew, lo + d)
    la.nv[i] += 1


@kernel
def evidence(la: Arrays, lp: Params, i: int, x: float, L: float, S: float, expected: float) -> tuple:
    """``(ok, rel, ew, rn)`` of series ``i`` from the state before learning: every channel, past its margin.

    ``rn`` is the novelty channel's share (0 when it finds nothing).  The
    deviation floor: ``|x - expected|`` under ``dev_floor`` of the value's
    range is no L report (NaN compares false: no floor yet).
    """
    extra = over_budget(lp, la.rt[i]) if lp.budget else 0.0
    small = lp.floor and abs(x - expected) < lp.dev_floor * (la.rhi[i] - la.rlo[i])
    ok, use, rel = relative(lp, la.q[i], la.qs[i] if lp.sequence else 0.0, la.n[i], L, S, extra, small)
    ew = math.nan
    rn = 0.0
    if lp.novelty:
        rn, ew = novel(la, lp, i, x, use)
        rel = max(rel, rn)
    return ok, rel, ew, rn


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


@kernel(inline=False)
def track(lp: Params, qv: float, v: float, w: float) -> float:
    """One step of the stochastic quantile tracker (up ``eta`` per exceedance, down ``eta * (1 - q)`` otherwise)."""
    return qv + w * lp.eta * ((1.0 if qv < v else 0.0) - lp.one_minus_q)


@kernel
def score_one(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, t: int, x: float,
              inner: float, expected: float) -> float:
    """Decision score of series ``i`` at ``t`` from the inner score ``inner`` (NaN where that is NaN).

    Keeps L (and S, and the inner's ``expected``) of the step for :func:`learn_one`.
    """
    m = 1.0 - inner
    L = min(math.log(max(m, lp.m_cap)) * -INV_LN10, lp.max_L) if m == m else math.nan  # log10 is slower
    S = math.nan
    if lp.sequence:
        S = sq.surprise_one(sa, sp, i, x)
        S = min(S, lp.max_L) if S == S else S
        la.S[i] = S
    if lp.floor:
        la.E[i] = expected
    ok, rel, _, rn = evidence(la, lp, i, x, L, S, expected)
    la.L[i] = L
    la.t[i] = t
    if not ok:
        return math.nan
    if reports(lp, rel, la.env[i]):
        d = lp.base + ranked(lp, rel, rn, la.rt[i] if lp.budget else 0.0, la.n[i])
    else:
        d = 0.999 * min(L, lp.base)
    return -math.expm1(-d * LN10)


@kernel
def learn_one(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, x: float, w: float) -> None:
    """Learn series ``i`` from the L and S :func:`score_one` kept, with weight ``w``."""
    L = la.L[i]
    S = la.S[i] if lp.sequence else math.nan
    e = la.E[i] if lp.floor else math.nan
    ok, rel, ew, _ = evidence(la, lp, i, x, L, S, e)  # as scored: nothing it reads has been learned since
    if lp.budget and ok:  # the report score_one made, counted into the rate before the envelope moves
        report = 1.0 if reports(lp, rel, la.env[i]) else 0.0
        la.rt[i] += w * lp.budget_alpha * (report - la.rt[i])
    if ok:
        la.q[i] = track(lp, la.q[i], L, w)
    if lp.sequence:
        if ok and math.isfinite(S):
            la.qs[i] = track(lp, la.qs[i], S, w)
        sq.learn_one(sa, sp, i, x)
    env = la.env[i] * lp.env_decay  # rel is 0 below the margins: a slow ramp does not raise its own bar
    la.env[i] = env if env >= rel else rel
    if lp.novelty:
        learn_novel(la, lp, i, x, ew)
    if ok:
        la.n[i] += 1


@kernel
def score_step(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, t: int, x: np.ndarray, inner: np.ndarray,
               expected: np.ndarray, out: np.ndarray) -> None:
    """Decision scores of one step of every series into ``out``."""
    for i in range(len(x)):
        out[i] = score_one(la, lp, sa, sp, i, t, x[i], inner[i], expected[i])


@kernel
def learn_step(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, x: np.ndarray, w: np.ndarray) -> None:
    """Learn one step of every series (after :func:`score_step` of the same step)."""
    for i in range(len(x)):
        learn_one(la, lp, sa, sp, i, x[i], w[i])


@kernel
def run_batch(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, ts: np.ndarray, values: np.ndarray,
              scores: np.ndarray, expected: np.ndarray) -> None:
    """Score then learn (weight 1) every step of every series; ``scores`` holds the inner's and gets the decisions."""
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            x = values[i, j]
            s = score_one(la, lp, sa, sp, i, ts[j], x, scores[i, j], expected[i, j])
            learn_one(la, lp, sa, sp, i, x, 1.0)
            scores[i, j] = s
