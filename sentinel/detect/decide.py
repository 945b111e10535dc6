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
- over the steps of a batch for one series (:func:`run_series`), after the
  inner detector has run that series' batch: the inner reads nothing of this
  layer's state and learns with the weight passed through, so its scores can
  be computed first (:mod:`sentinel.detect.pipeline` runs both series by
  series; :func:`run_batch` after an inner's whole batch).

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
    """``(ok, rel, ew)`` of series ``i`` from the state before learning: every channel, past its margin.

    The deviation floor: ``|x - expected|`` under ``dev_floor``
    of the value's range is no L report (NaN compares false: no floor yet).
    """
    extra = over_budget(lp, la.rt[i]) if lp.budget else 0.0
    small = lp.floor and abs(x - expected) < lp.dev_floor * (la.rhi[i] - la.rlo[i])
    ok, use, rel = relative(lp, la.q[i], la.qs[i] if lp.sequence else 0.0, la.n[i], L, S, extra, small)
    ew = math.nan
    if lp.novelty:
        rn, ew = novel(la, lp, i, x, use)
        rel = max(rel, rn)
    return ok, rel, ew


@kernel(inline=False)
def ranked(lp: Params, rel: float, rate: float) -> float:
    """Decades above ``base`` of a report with evidence ``rel`` from a series reporting at ``rate``.

    ``rel`` less ``rank_rate`` per decade of ``rate`` above ``budget_rate``
    (more for a series over budget, less, as a bonus, for a quiet one; the
    bonus counts at most 3 decades below ``budget_rate``), at least 1e-3:
    the report stands, only its rank among reports changes.  A report from a
    series that seldom reports is the more telling one.
    """
    if not (lp.budget and lp.rank_rate > 0):
        return rel
    r = max(rate, 1e-3 * lp.budget_rate)
    return max(rel - lp.rank_rate * math.log10(r / lp.budget_rate), 1e-3)


@kernel(inline=False)
def reports(lp: Params, rel: float, env: float) -> bool:
    """Is evidence ``rel`` a report under the refractory envelope ``env``? (One rule for scoring and the budget.)"""
    return rel > lp.env_gain * env and rel > 0.0


@kernel(inline=False)
def track(lp: Params, qv: float, v: float, w: float) -> float:
    """One step of the stochastic quantile tracker (up ``eta`` per exceedance, down ``eta * (1 - q)`` otherwise)."""
    return qv + w * lp.eta * ((1.0 if qv < v else 0.0) - lp.one_minus_q)


@kernel(inline=False)
def surprise(lp: Params, inner: float) -> float:
    """``L = -log10(1 - inner)`` in decades, capped at ``max_L`` (NaN where the inner score is NaN).

    It reads no state, so a batch computes it for a whole row of inner scores
    before the sequential pass (independent calls overlap).
    """
    m = 1.0 - inner
    if m == 1.0:  # an inner score of 0 (p clipped at 1: most points): log(1) is 0, here -0.0 as computed
        return -0.0
    return min(math.log(max(m, lp.m_cap)) * -INV_LN10, lp.max_L) if m == m else math.nan  # log10 is slower


@kernel
def judge(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, t: int, x: float, L: float,
          expected: float) -> tuple:
    """``(d, ok, rel, ew, b)``: the decision of series ``i`` at ``t`` in decades (NaN: no score), its evidence.

    Keeps L (and S, and the inner's ``expected``) of the step for :func:`learn_one`;
    the evidence and the sequence bin ``b`` are what :func:`learn_judged`
    needs, so a batch need not recompute them.
    """
    S, b = math.nan, -1
    if lp.sequence:
        S, b = sq.surprise_bin(sa, sp, i, x)
        S = min(S, lp.max_L) if S == S else S
        la.S[i] = S
    if lp.floor:
        la.E[i] = expected
    ok, rel, ew = evidence(la, lp, i, x, L, S, expected)
    la.L[i] = L
    la.t[i] = t
    if not ok:
        return math.nan, ok, rel, ew, b
    if reports(lp, rel, la.env[i]):
        return lp.base + ranked(lp, rel, la.rt[i] if lp.budget else 0.0), ok, rel, ew, b
    return 0.999 * min(L, lp.base), ok, rel, ew, b


@kernel(inline=False)
def score_of(d: float) -> float:
    """The score of a decision ``d`` decades: ``1 - 10**-d`` (NaN stays NaN; ``d = +-0`` is itself, no call)."""
    if d == 0.0:
        return d
    return -math.expm1(-d * LN10)


@kernel
def score_one(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, t: int, x: float,
              inner: float, expected: float) -> float:
    """Decision score of series ``i`` at ``t`` from the inner score ``inner`` (NaN where that is NaN)."""
    d, _, _, _, _ = judge(la, lp, sa, sp, i, t, x, surprise(lp, inner), expected)
    return score_of(d)


@kernel
def learn_one(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, x: float, w: float) -> None:
    """Learn series ``i`` from the L and S :func:`score_one` kept, with weight ``w``."""
    S = la.S[i] if lp.sequence else math.nan
    e = la.E[i] if lp.floor else math.nan
    ok, rel, ew = evidence(la, lp, i, x, la.L[i], S, e)  # as scored: nothing it reads has been learned since
    learn_judged(la, lp, sa, sp, i, x, w, ok, rel, ew, -1)


@kernel
def learn_judged(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, x: float, w: float, ok: bool,
                 rel: float, ew: float, b: int) -> None:
    """Learn series ``i`` with weight ``w`` from the evidence of its last :func:`judge` (``b``: -1 if unknown)."""
    if lp.budget and ok:  # the report judge made, counted into the rate before the envelope moves
        report = 1.0 if reports(lp, rel, la.env[i]) else 0.0
        la.rt[i] += w * lp.budget_alpha * (report - la.rt[i])
    if ok:
        la.q[i] = track(lp, la.q[i], la.L[i], w)
    if lp.sequence:
        S = la.S[i]
        if ok and math.isfinite(S):
            la.qs[i] = track(lp, la.qs[i], S, w)
        sq.learn_bin(sa, sp, i, x, b)
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
def run_series(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, ts: np.ndarray, x: np.ndarray,
               scores: np.ndarray, expected: np.ndarray) -> None:
    """Score then learn (weight 1) every step of series ``i``; ``scores`` (its row): the inner's in, decisions out.

    Three loops over the row: the surprises (no state), the sequential
    decisions in decades, then their scores; the first and last are
    independent per step, so their ``log``/``expm1`` calls overlap.
    """
    for j in range(len(ts)):
        scores[j] = surprise(lp, scores[j])
    for j in range(len(ts)):
        d, ok, rel, ew, b = judge(la, lp, sa, sp, i, ts[j], x[j], scores[j], expected[j])
        learn_judged(la, lp, sa, sp, i, x[j], 1.0, ok, rel, ew, b)
        scores[j] = d
    for j in range(len(ts)):
        scores[j] = score_of(scores[j])


@kernel
def run_batch(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, ts: np.ndarray, values: np.ndarray,
              scores: np.ndarray, expected: np.ndarray) -> None:
    """Score then learn (weight 1) every step of every series; ``scores`` holds the inner's and gets the decisions."""
    for i in range(values.shape[0]):
        run_series(la, lp, sa, sp, i, ts, values[i], scores[i], expected[i])
