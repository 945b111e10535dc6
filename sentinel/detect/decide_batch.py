"""The decision layer over a batch, one series' row at a time, compiled.

:mod:`sentinel.detect.decide` has the layer's per-series functions (and
:class:`~sentinel.detect.likelihood.Likelihood` what the layer does, and
why).  Here they run over the steps of a batch for one series
(:func:`run_series`), after the inner detector has run that series' batch:
the inner reads nothing of this layer's state and learns with the weight
passed through, so its scores can be computed first
(:mod:`sentinel.detect.pipeline` runs both series by series;
:func:`run_batch` after an inner's whole batch).

The layer's two channels that learn every value whatever is decided about
it, the sequence model and the novelty ranges, run over the whole row
first, each in its own loop; then the decisions; each loop's steps depend
on each other through a few values, so the processor overlaps them.  The
numbers are those of the one-step path: the same functions, in an order
that changes nothing any of them reads.
"""

from __future__ import annotations

import math

import numpy as np

from sentinel.detect import decide as dc
from sentinel.detect import novelty, prefetch
from sentinel.detect import sequence as sq
from sentinel.detect.jit import kernel


@kernel
def run_series(la: dc.Arrays, lp: dc.Params, sa: sq.Arrays, sp: sq.Params, i: int, ts: np.ndarray, x: np.ndarray,
               scores: np.ndarray, expected: np.ndarray, held: np.ndarray) -> None:
    """Score then learn (weight 1) every step of series ``i``; ``scores`` (its row): the inner's in, decisions out.

    With the stuck check, ``held`` (its row) gets the stuck condition of
    each step (:func:`sentinel.detect.novelty.held`, from the state before
    the step, as the one-step path computes it); without, it is not touched.

    Loops over the row: the surprises ``L`` (no state); the sequence model
    and the novelty channel, each over the whole row (they learn every value
    whatever the decisions, so they can run ahead of them); the sequential
    decisions in decades; then their scores.  Each loop's steps depend on
    each other through a few values only, so the processor overlaps them;
    interleaved, every decision waited for its sequence surprise (a table
    read, a division and a log).  The loops pass their rows through
    ``la.buf`` (contiguous: ``scores`` is a strided view of the output),
    which needs a column per step
    (:meth:`~sentinel.detect.likelihood.Likelihood._kernel_args`).
    """
    n = len(ts)
    if la.buf.shape[1] < n:
        raise ValueError("the decision kernels need la.buf with a column per step of the batch")
    row = la.buf[3]  # the row in contiguous memory: ``scores`` is a strided view of the output
    for j in range(n):
        row[j] = dc.surprise(lp, scores[j])
    if lp.sequence:
        sq.run_row(sa, sp, i, x, la.buf[0])
        for j in range(n):
            la.buf[0, j] = dc.capped(lp, la.buf[0, j])
    if lp.novelty:
        ph = novelty.phase(la, lp, i)
        for j in range(n):
            nov, width, ew = novelty.look(la, lp, i, x[j], ph)
            if lp.stuck:
                held[j] = novelty.held(la, lp, i, x[j])
            novelty.learn(la, lp, i, x[j], ew, ph)
            if (lp.rise or lp.ceil) and math.isfinite(x[j]):  # kc counted it
                ph = novelty.advanced(lp, ph)
            la.buf[1, j] = 1.0 if nov else 0.0
            la.buf[2, j] = width
    for j in range(n):
        S = la.buf[0, j] if lp.sequence else math.nan
        nov, width = (la.buf[1, j] > 0.0, la.buf[2, j]) if lp.novelty else (False, math.nan)
        d, ok, rel = dc.judge(la, lp, i, ts[j], x[j], row[j], S, expected[j], nov, width)
        dc.track_sequence(la, lp, i, 1.0, ok)
        dc.learn_rest(la, lp, i, 1.0, ok, rel)
        row[j] = d
    for j in range(n):
        scores[j] = dc.score_of(row[j])


@kernel
def fetch_ahead(la: dc.Arrays, lp: dc.Params, sa: sq.Arrays, sp: sq.Params, i: int) -> None:
    """Ask for all of series ``i``'s state now (:mod:`sentinel.detect.prefetch`), before the work that precedes its use.

    The layer's state is some thirty arrays indexed by series: each series'
    values sit in as many cache lines, too many streams for the hardware
    prefetcher; the sequence counts are read at random.
    """
    if i >= len(la.q):
        return
    for a in (la.q, la.env, la.L, la.qs, la.S, la.ew, la.rlo, la.rhi, la.elo, la.ehi, la.rt, la.E, la.klo, la.khi,
              la.cm, la.clo, la.chi, sa.inc, sa.lo, sa.hi):
        if i < len(a):
            prefetch.line(a, i)
    for a in (la.n, la.t, la.nv, la.kc, sa.c, sa.n):
        if i < len(a):
            prefetch.line(a, i)
    if i < la.kb.shape[0]:
        prefetch.line(la.kb[i], 0)
    if i < la.cb.shape[0]:
        prefetch.line(la.cb[i], 0)
    if lp.sequence:
        nxt = sa.next[i]
        for k in range(0, len(nxt), prefetch.LINE_BYTES // 4):
            prefetch.line(nxt, k)


@kernel
def run_batch(la: dc.Arrays, lp: dc.Params, sa: sq.Arrays, sp: sq.Params, ts: np.ndarray, values: np.ndarray,
              scores: np.ndarray, expected: np.ndarray, held: np.ndarray) -> None:
    """Score then learn (weight 1) every step of every series; ``scores`` holds the inner's and gets the decisions.

    ``held``: (series, steps) for the stuck condition with the stuck check, else (series, 0) (not touched).
    """
    for i in range(values.shape[0]):
        fetch_ahead(la, lp, sa, sp, i + 1)
        run_series(la, lp, sa, sp, i, ts, values[i], scores[i], expected[i], held[i])
