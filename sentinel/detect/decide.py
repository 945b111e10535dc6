"""The likelihood wrapper's step for one series, compiled, and the loops that run it.

:class:`~sentinel.detect.likelihood.Likelihood` (what the decision layer
does, and why) turns the inner detector's score of one series and step into
a decision score and learns its own per-series state: the quantile trackers
of the surprise ``L`` and of the sequence surprise ``S``
(:mod:`sentinel.detect.sequence`), the ranges of the novelty channel (and
the state of its rise and ceiling checks), the
refractory envelope, the report budget's rate, the expected value the
deviation floor compares with and the warm-up counts.
:func:`score_one` and :func:`learn_one` do that for series ``i``, keeping
that state and applying the rules of :mod:`sentinel.detect.decide_evidence`
(what counts as evidence, what is a report and how it ranks); the loops
below run them

- over series for one step (:func:`score_step`, :func:`learn_step`: the
  per-step protocol of ``score``/``learn`` and of wrappers above it), and
- over the steps of a batch for one series
  (:func:`sentinel.detect.decide_batch.run_series`), after the inner
  detector has run that series' batch.

Both paths call the same per-series functions, so they give the same numbers.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sentinel.detect import decades, novelty
from sentinel.detect import decide_evidence as ev
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
    sv: np.ndarray  # stuck check (empty without it): the last value ...
    sr: np.ndarray  # ... the length of its current run of that value (int64) ...
    sm: np.ndarray  # ... the longest run completed (a forgetting maximum) ...
    sc: np.ndarray  # ... the values it has learned (int64) ...
    sb: np.ndarray  # ... and 1.0 while the run rests at a bound of the value's range
    buf: np.ndarray  # not state: (4, steps) room for a series' S, novelty, range width, L (decide_batch)


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
    stuck: bool = False  # the novelty channel's stuck check is on
    stuck_min: int = 0  # a run of one value at least this long ...
    stuck_factor: float = 1.0  # ... and over this many times the longest run seen ...
    stuck_forget: float = 0.0  # ... which forgets this fraction of its width per value


@kernel(inline=False)
def track(lp: Params, qv: float, v: float, w: float) -> float:
    """One step of the stochastic quantile tracker (up ``eta`` per exceedance, down ``eta * (1 - q)`` otherwise)."""
    return qv + w * lp.eta * ((1.0 if qv < v else 0.0) - lp.one_minus_q)


@kernel(inline=False)
def surprise(lp: Params, inner: float) -> float:
    """``L = -log10(1 - inner)`` in decades, capped at ``max_L`` (NaN where the inner score is NaN).

    It reads no state, so a batch computes it for a whole row of inner scores
    before the sequential pass, without a branch (an inner score of 0 gives
    ``ln(1) = 0``, -0.0 here), so the loop vectorises.
    """
    m = 1.0 - inner
    return min(decades.ln(max(m, lp.m_cap)) * -INV_LN10, lp.max_L) if m == m else math.nan


@kernel
def seq_surprise(lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, x: float) -> float:
    """The sequence surprise of ``x`` for series ``i``, capped at ``max_L`` (NaN: none, or no sequence channel)."""
    if not lp.sequence:
        return math.nan
    return capped(lp, sq.surprise_one(sa, sp, i, x))


@kernel(inline=False)
def capped(lp: Params, S: float) -> float:
    """A sequence surprise capped at ``max_L`` (NaN stays NaN)."""
    return min(S, lp.max_L) if S == S else S


@kernel
def judge(la: Arrays, lp: Params, i: int, t: int, x: float, L: float, S: float, expected: float, nov: bool,
          width: float) -> tuple:
    """``(d, ok, rel)``: the decision of series ``i`` at ``t`` in decades (NaN: no score), its evidence.

    ``S`` is the step's :func:`seq_surprise`, ``nov`` and ``width`` its
    :func:`~sentinel.detect.novelty.look` (the caller's: a batch runs both
    channels ahead of the decisions).  Keeps L (and S, and the inner's
    ``expected``) of the step for :func:`learn_one`; the evidence ``ok``,
    ``rel`` is what a batch's learning needs, so it need not recompute it.
    """
    if lp.sequence:
        la.S[i] = S
    if lp.floor:
        la.E[i] = expected
    ok, rel, rn = ev.evidence(la, lp, i, x, L, S, expected, nov, width)
    la.L[i] = L
    la.t[i] = t
    if not ok:
        return math.nan, ok, rel
    if ev.reports(lp, rel, la.env[i]):
        return lp.base + ev.ranked(lp, rel, rn, la.rt[i] if lp.budget else 0.0, la.n[i]), ok, rel
    return 0.999 * min(L, lp.base), ok, rel


@kernel(inline=False)
def score_of(d: float) -> float:
    """The score of a decision ``d`` decades: ``1 - 10**-d`` (NaN stays NaN; :mod:`sentinel.detect.decades`)."""
    return 1.0 - decades.exp10_neg(d)


@kernel
def score_one(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, t: int, x: float,
              inner: float, expected: float) -> float:
    """Decision score of series ``i`` at ``t`` from the inner score ``inner`` (NaN where that is NaN)."""
    S = seq_surprise(lp, sa, sp, i, x)
    nov, width, _ = novelty.look(la, lp, i, x, novelty.phase(la, lp, i))
    d, _, _ = judge(la, lp, i, t, x, surprise(lp, inner), S, expected, nov, width)
    return score_of(d)


@kernel
def learn_one(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, i: int, x: float, w: float) -> None:
    """Learn series ``i`` from the L and S :func:`score_one` kept, with weight ``w``."""
    S = la.S[i] if lp.sequence else math.nan
    e = la.E[i] if lp.floor else math.nan
    ph = novelty.phase(la, lp, i)
    nov, width, ew = novelty.look(la, lp, i, x, ph)  # as scored: nothing these read has been learned since
    ok, rel, _ = ev.evidence(la, lp, i, x, la.L[i], S, e, nov, width)
    track_sequence(la, lp, i, w, ok)
    if lp.sequence:
        sq.learn_one(sa, sp, i, x)
    novelty.learn(la, lp, i, x, ew, ph)
    learn_rest(la, lp, i, w, ok, rel)


@kernel
def track_sequence(la: Arrays, lp: Params, i: int, w: float, ok: bool) -> None:
    """The sequence channel's quantile tracker, from the ``S`` :func:`judge` kept."""
    if lp.sequence:
        S = la.S[i]
        if ok and math.isfinite(S):
            la.qs[i] = track(lp, la.qs[i], S, w)


@kernel
def learn_rest(la: Arrays, lp: Params, i: int, w: float, ok: bool, rel: float) -> None:
    """:func:`learn_one` but for the sequence and novelty channels (they read none of this, nor write any)."""
    if lp.budget and ok:  # the report judge made, counted into the rate before the envelope moves
        report = 1.0 if ev.reports(lp, rel, la.env[i]) else 0.0
        la.rt[i] += w * lp.budget_alpha * (report - la.rt[i])
    if ok:
        la.q[i] = track(lp, la.q[i], la.L[i], w)
    env = la.env[i] * lp.env_decay  # rel is 0 below the margins: a slow ramp does not raise its own bar
    la.env[i] = env if env >= rel else rel
    if ok:
        la.n[i] += 1


@kernel
def score_step(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, t: int, x: np.ndarray, inner: np.ndarray,
               expected: np.ndarray, out: np.ndarray, held: np.ndarray) -> None:
    """Decision scores of one step of every series into ``out``; with the stuck check, its condition into ``held``.

    ``held``: :func:`sentinel.detect.novelty.held` per series (untouched
    without the stuck check: the caller passes an empty array then).
    """
    for i in range(len(x)):
        if lp.stuck:
            held[i] = novelty.held(la, lp, i, x[i])
        out[i] = score_one(la, lp, sa, sp, i, t, x[i], inner[i], expected[i])


@kernel
def learn_step(la: Arrays, lp: Params, sa: sq.Arrays, sp: sq.Params, x: np.ndarray, w: np.ndarray) -> None:
    """Learn one step of every series (after :func:`score_step` of the same step)."""
    for i in range(len(x)):
        learn_one(la, lp, sa, sp, i, x[i], w[i])
