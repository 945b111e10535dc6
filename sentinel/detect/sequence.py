"""Sequence novelty: how unexpected is this value *after the last few*, in the series' own history?

Residual-based members judge one value against an expected value.  Some
changes never produce an unusual value: a series that starts oscillating
between its usual levels, a daily shape that loses a bump, a counter whose
bursts come in a new rhythm.  Each value is ordinary; the *order* is new.
Contextual detectors (CAD OSE, HTM's sequence memory, ARTime) catch these
by remembering which short patterns have been seen.  This is the cheapest
vectorised version of that idea, per series:

1. quantise the value into ``bins`` equal-width bins of the range the series
   has shown (the range widens at once and forgets ``shrink`` of its width
   per value, :func:`sentinel.detect.ranges.widened`; values outside it fall in
   the edge bins);
2. the context is the last ``order`` bins; keep exponentially decayed counts
   (``decay`` per learned point) of (context, next bin) and of each context;
3. the surprise of a value is ``-log10 P(bin | context)`` with a small prior
   ``(count + a / bins) / (context count + a)``, in decades like every other
   surprise in sentinel.

State per series: ``bins**(order+1)`` float32 counts (256 for the defaults,
1 KB) and five numbers; a context's count is the sum of its row (kept
apart, it was 256 more bytes).  The per-series arithmetic is
compiled (:func:`surprise_one`, :func:`learn_one`; see
:mod:`sentinel.detect.jit`): the likelihood's batch kernel
(:mod:`sentinel.detect.decide`) calls it per series and step, the methods
below loop it over series.

The surprise is *not* calibrated (a noisy series is surprised all the
time); :class:`~sentinel.detect.likelihood.Likelihood` calibrates it per
series with its own quantile tracker before it may report anything.

>>> import numpy as np
>>> m = SequenceModel()
>>> st = m.init_state(1)
>>> x = np.tile([0.0, 1.0, 2.0, 3.0], 200)  # a steady rhythm ...
>>> x[600:] = np.tile([0.0, 3.0], 100)        # ... that changes to a new one with the same values
>>> s = np.array([m.step(st, np.array([v]))[0] for v in x])
>>> bool(np.nanmax(s[400:600]) < 0.2), bool(s[600:604].max() > 2.0)
(True, True)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sentinel.detect import decades, ranges
from sentinel.detect.jit import kernel

INV_LN10 = 1.0 / math.log(10.0)


class Arrays(NamedTuple):
    """The sequence model's state arrays (views into the detector's ``state_``), for the kernels."""

    next: np.ndarray  # (series, contexts * bins) float32: decayed (context, bin) counts
    inc: np.ndarray  # weight of the next point (grows by 1/decay: lazy decay)
    lo: np.ndarray
    hi: np.ndarray
    c: np.ndarray  # current context (int64)
    n: np.ndarray  # values seen (int64)


class Params(NamedTuple):
    """Constants of one sequence model, for the kernels."""

    bins: int
    order: int
    n_ctx: int
    decay: float
    prior: float
    prior_per_bin: float  # prior / bins
    shrink: float
    ctx_mask: int  # n_ctx - 1 when n_ctx is a power of two (the context's modulo is then a mask), else 0


@kernel(inline=False, exact=True)
def divide(a: float, b: float) -> float:
    """``a / b`` rounded as numpy does (no reciprocal: the float32 counts must match numpy's to the bit)."""
    return a / b


@kernel(inline=False)
def bin_of(p: Params, lo: float, hi: float, x: float) -> int:
    """Bin of ``x`` in the range [lo, hi] (edge bins outside it): ``floor((x - lo) * bins / width)``, clipped.

    Found by comparing ``(x - lo) * bins`` with the bins' edges, not by a
    division: the bin decides which counts the next step reads, so its
    latency is on the sequence channel's critical path every step.
    """
    width = hi - lo
    if not width >= 1e-300:  # np.maximum(width, 1e-300)
        width = 1e-300
    t = (x - lo) * p.bins
    b = 0
    for k in range(1, p.bins):
        b += 1 if t >= k * width else 0
    return b


@kernel
def surprise_one(a: Arrays, p: Params, i: int, x: float) -> float:
    """``-log10 P(bin of x | last bins)`` of series ``i``; NaN for a missing value and the first ``order`` values."""
    if not (math.isfinite(x) and a.n[i] > p.order):
        return math.nan
    ctx = a.c[i]
    b = bin_of(p, a.lo[i], a.hi[i], x)
    return of_counts(p, np.float64(a.next[i, ctx * p.bins + b]), context_count(p, a.next[i], ctx), a.inc[i])


@kernel(inline=False)
def context_count(p: Params, pairs: np.ndarray, ctx: int) -> float:
    """How often context ``ctx`` was seen: the sum of its row of transition counts (``bins`` floats, one line)."""
    tot = 0.0
    for b in range(ctx * p.bins, (ctx + 1) * p.bins):
        tot += np.float64(pairs[b])
    return tot


@kernel(inline=False)
def of_counts(p: Params, pair: float, context: float, inc: float) -> float:
    """``-log10`` of the smoothed probability of a transition counted ``pair`` times in a ``context`` counted so.

    The counts are in units of ``1 / inc`` (lazy decay), so the prior is
    scaled by ``inc`` instead of every count.
    """
    return decades.ln((pair + p.prior_per_bin * inc) / (context + p.prior * inc)) * -INV_LN10


@kernel
def learn_one(a: Arrays, p: Params, i: int, x: float) -> None:
    """Count the transition of series ``i`` into ``x`` and update its range (a missing value teaches nothing)."""
    if not math.isfinite(x):
        return
    if a.lo[i] != a.lo[i]:  # first value: the range starts there
        a.lo[i] = x
        a.hi[i] = x
    lo, hi, ctx = a.lo[i], a.hi[i], a.c[i]
    k = ctx * p.bins + bin_of(p, lo, hi, x)
    a.inc[i] = count(p, a.next[i], k, a.inc[i])
    a.lo[i], a.hi[i], a.c[i] = moved(p, lo, hi, x, k)
    a.n[i] += 1


@kernel
def count(p: Params, pairs: np.ndarray, k: int, inc: float) -> float:
    """Count transition ``k`` (in one series' row) with weight ``inc``; the next weight."""
    add = np.float64(np.float32(inc))
    pairs[k] = np.float32(np.float64(pairs[k]) + add)  # exact float32 sums (no double rounding issue)
    inc = divide(inc, p.decay)
    if inc > 1e18:  # renormalise instead of decaying every count
        scale = np.float64(np.float32(inc))
        for j in range(len(pairs)):
            pairs[j] = np.float32(divide(np.float64(pairs[j]), scale))
        inc = 1.0
    return inc


@kernel(inline=False)
def moved(p: Params, lo: float, hi: float, x: float, k: int) -> tuple:
    """``(lo, hi, ctx)`` after value ``x`` with transition ``k``: the range widened to it and shrunk; the context."""
    lo, hi = ranges.widened(lo, hi, x, p.shrink)
    return lo, hi, (k & p.ctx_mask if p.ctx_mask else k % p.n_ctx)


@kernel
def advance(p: Params, pairs: np.ndarray, lo: float, hi: float, c: int, inc: float, n: int, x: float) -> tuple:
    """``(S, lo, hi, c, inc, n)``: :func:`surprise_one` then :func:`learn_one` of ``x`` on state held in registers.

    ``pairs`` is the series' row of counts (updated in place), the rest its
    scalars; the arithmetic is that of the two
    functions, so the numbers are too.
    """
    if not math.isfinite(x):
        return math.nan, lo, hi, c, inc, n
    if lo != lo:  # first value: the range starts there
        lo, hi = x, x
    k = c * p.bins + bin_of(p, lo, hi, x)
    S = of_counts(p, np.float64(pairs[k]), context_count(p, pairs, c), inc) if n > p.order else math.nan
    inc = count(p, pairs, k, inc)
    lo, hi, c = moved(p, lo, hi, x, k)
    return S, lo, hi, c, inc, n + 1


@kernel
def run_row(a: Arrays, p: Params, i: int, x: np.ndarray, out: np.ndarray) -> None:
    """Surprise of each value of row ``x`` of series ``i`` into ``out``, each learned before the next.

    The model learns every value whatever is decided about it, so a batch
    runs it over a series' row on its own (:func:`sentinel.detect.decide_batch.run_series`),
    with its scalars in registers instead of memory (:func:`advance`).
    """
    lo, hi, c, inc, n = a.lo[i], a.hi[i], a.c[i], a.inc[i], a.n[i]
    pairs = a.next[i]
    for j in range(len(x)):
        out[j], lo, hi, c, inc, n = advance(p, pairs, lo, hi, c, inc, n, x[j])
    a.lo[i], a.hi[i], a.c[i], a.inc[i], a.n[i] = lo, hi, c, inc, n


@kernel
def _surprise_all(a: Arrays, p: Params, x: np.ndarray, out: np.ndarray) -> None:
    for i in range(len(x)):
        out[i] = surprise_one(a, p, i, x[i])


@kernel
def _learn_all(a: Arrays, p: Params, x: np.ndarray) -> None:
    for i in range(len(x)):
        learn_one(a, p, i, x[i])


class SequenceModel:
    """Decayed order-``order`` transition counts over quantised values (see module doc)."""

    def __init__(self, bins: int = 4, order: int = 3, decay: float = 0.9995, prior: float = 0.5,
                 shrink: float = 1 / 2000, prefix: str = "sq") -> None:
        if bins < 2 or order < 1 or bins ** (order + 1) > 4096:
            raise ValueError("sequence model needs bins >= 2, order >= 1 and bins**(order+1) <= 4096")
        if not 0 < decay <= 1 or prior <= 0 or not 0 <= shrink < 1:
            raise ValueError("sequence model needs 0 < decay <= 1, prior > 0 and 0 <= shrink < 1")
        self.bins = bins
        self.order = order
        self.decay = decay
        self.prior = prior
        self.shrink = shrink
        self.prefix = prefix
        self.n_ctx = bins**order
        pow2 = self.n_ctx & (self.n_ctx - 1) == 0
        self.params = Params(int(bins), int(order), int(self.n_ctx), float(decay), float(prior),
                             float(prior / bins), float(shrink), int(self.n_ctx - 1) if pow2 else 0)

    def init_state(self, n: int) -> dict[str, np.ndarray]:
        p = self.prefix
        return {
            f"{p}.next": np.zeros((n, self.n_ctx * self.bins), dtype=np.float32),  # (context, bin) counts
            f"{p}.inc": np.ones(n),  # weight of the next point (grows by 1/decay: lazy decay)
            f"{p}.lo": np.full(n, np.nan),
            f"{p}.hi": np.full(n, np.nan),
            f"{p}.c": np.zeros(n, dtype=np.int64),  # current context
            f"{p}.n": np.zeros(n, dtype=np.int64),  # values seen
        }

    def arrays(self, st: dict[str, np.ndarray]) -> Arrays:
        """The state arrays the kernels work on (made C-contiguous in ``st`` if needed: kernels write in place)."""
        p = self.prefix
        keys = ("next", "inc", "lo", "hi", "c", "n")
        for k in keys:
            if not st[f"{p}.{k}"].flags.c_contiguous:
                st[f"{p}.{k}"] = np.ascontiguousarray(st[f"{p}.{k}"])
        return Arrays(*(st[f"{p}.{k}"] for k in keys))

    def surprise(self, st: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        """``-log10 P(bin of x | last bins)`` per series; NaN for missing values and the first ``order`` values."""
        out = np.empty(len(x))
        _surprise_all(self.arrays(st), self.params, np.ascontiguousarray(x, dtype=np.float64), out)
        return out

    def learn(self, st: dict[str, np.ndarray], x: np.ndarray) -> None:
        """Count the transition into ``x`` (missing values teach nothing) and update the range."""
        _learn_all(self.arrays(st), self.params, np.ascontiguousarray(x, dtype=np.float64))

    def step(self, st: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        """Surprise of ``x``, then learn it (a convenience for tests and notebooks)."""
        s = self.surprise(st, x)
        self.learn(st, x)
        return s
