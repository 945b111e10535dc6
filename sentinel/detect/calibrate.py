"""Score calibration: one [0, 1] scale for every detector (DESIGN §2).

A detector produces a raw, signed statistic per point (a standardised
residual, a change statistic, ...).  Its meaning differs per series: a
residual of 4 scales is routine on a bursty tweet count and unheard of on a
smooth CPU curve.  :class:`TailCalibrator` learns, per series, the decayed
distribution of that statistic and maps a new value to

    score = 1 - p,   p = 2 * min(P(R >= r), P(R <= r))

the two-sided tail probability under what was learned, so that on normal
data the fraction of points with ``score >= t`` is close to ``1 - t``.

How (vectorised over series, small state):

- a cumulative histogram per side (up / down) in log-spaced bins of ``|r|``:
  ``tail[s, side, k]`` is the decayed weight of points on that side with
  ``|r| >= edge[k]``; a query is two gathers plus a log-log interpolation
  (tails fall off like a power inside a bin, not linearly); the bin comes
  from ``log2 |r|`` (the edges are geometric), and the logarithms and the
  power are :mod:`sentinel.detect.approx`'s, not libm's (no calls in the
  compiled step);
- decay without touching every bin each step: increments grow by
  ``1/decay`` per learned point and rows are renormalised when they get
  large (same result as decaying every bin);
- learning only every ``stride``-th point of a series (by its own counter,
  so results do not depend on how a stream is cut into batches): the
  distribution needs a fair sample, not every point, and the histogram update
  is the one O(bins) operation per series;
- a conservative parametric tail: a power-law prior (``(1 + z/2)^-4`` by default) worth
  ``prior_weight`` points is blended in, so a fresh series is judged gently and
  values beyond anything observed get a finite, monotone tail probability;
- past the last occupied edge the learned tail falls off like the prior from
  that edge, except past the last edge (``z_max``, 200): there it falls off
  like ``(1 + z/2)^-tail_power``.  With the prior's power (4, this class's
  default) a value ten times the last edge is 10^4 times rarer than "beyond
  the edge"; on spiky series (a disk or network counter near 0 for hours,
  then bursts at thousands of residual scales) every routine burst looked
  brand new.  The ensemble uses 0.5: how often a series goes beyond the
  edge is learned, how far beyond is only mildly surprising.  Gaps inside
  the histogram keep the prior's power: a first value beyond anything the
  series has shown must stay surprising (a gentler power there delayed a
  simulator runaway loop from 120 s to 420 s).

The per-series arithmetic is compiled (:func:`pvalue_one`, :func:`learn_one`;
see :mod:`sentinel.detect.jit`): the ensemble's fused kernel calls it per
series and step, the methods below loop it over series.

>>> import numpy as np
>>> cal = TailCalibrator()
>>> st = cal.init_state(1)
>>> rng = np.random.default_rng(0)
>>> for r in rng.normal(size=4000):
...     cal.learn(st, np.array([r]), np.ones(1))
>>> [round(float(cal.score(st, np.array([r]))[0]), 3) for r in (0.0, 1.0, 2.6, -2.6, 8.0)]
[0.023, 0.7, 0.982, 0.994, 1.0]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sentinel.detect import approx as ax
from sentinel.detect.jit import kernel


def prior_tail(z: np.ndarray, scale: float = 2.0, power: float = 4.0) -> np.ndarray:
    """One-sided prior tail ``(1 + z/scale)^-power`` for a statistic in units of its mean absolute value.

    A power law, heavier than Gaussian or Laplace on purpose: before a series
    has shown its tail, a big value is judged gently.
    """
    return (1.0 + np.maximum(z, 0.0) * (1.0 / scale)) ** -power


class Arrays(NamedTuple):
    """The calibrator's state arrays, for the kernels."""

    tail: np.ndarray  # (series, stats, 2 * bins) float32
    inc: np.ndarray  # (series, stats)
    count: np.ndarray  # (series, stats) int32: compared modulo the stride only (2**31 values: 4,000 years at 1/min)


class Consts(NamedTuple):
    """Constants of one calibrator, for the kernels."""

    edges32: np.ndarray  # the bin edges in float32, for learning (8 comparisons per vector instead of 4)
    inv_prior_at_edge: np.ndarray
    n_bins: int
    stride: int
    grow: float
    inv_first: float
    log2_first: float  # log2 of the first positive edge
    inv_log2_width: float  # 1 / log2 of the ratio of neighbouring positive edges (they are geometric)
    prior_weight: float
    prior_inv_scale: float
    prior_power: float
    prior_int_power: int  # the power as an integer when it is one (1..8, multiplied out), else 0
    tail_excess: float  # prior_power - tail_power: past the last edge, tail / prior = (1 + z/scale)^tail_excess
    inv_tail_at_last: float  # (1 + last edge/scale)^tail_power
    quiet: float  # |r| below this is unremarkable: p = 1 without the tail query (0: off)


@kernel
def _inv_prior(c: Consts, z: float, lu: float) -> float:
    """``1 / prior(z) = (1 + z/scale)^power`` for ``z > 0`` (``lu``: log2 of ``1 + z/scale``)."""
    u = 1.0 + z * c.prior_inv_scale
    if c.prior_int_power:
        v = u
        for _ in range(c.prior_int_power - 1):
            v *= u
        return v
    return ax.exp2(c.prior_power * lu)


@kernel
def pvalue_one(a: Arrays, c: Consts, i: int, j: int, r: float) -> float:
    """Two-sided tail probability of ``r`` for statistic ``j`` of series ``i`` (NaN stays NaN).

    ``q = (emp + w/2 prior inc) / (total + w inc)`` (the learned tail
    blended with the prior, ``w`` points' worth), computed as
    ``(emp / prior + w/2 inc) / ((total + w inc) / prior)``: one division.
    """
    if r != r:
        return r
    z = min(abs(r), 1e300)  # an infinite residual is the most extreme, not missing
    if z < c.quiet:  # unremarkable: no tail query, nor the series' tail loaded (see the class doc)
        return 1.0
    tail = a.tail[i, j]
    first = np.float64(tail[0])
    total = np.float64(np.float32(first + np.float64(tail[c.n_bins])))
    half = (0.5 * c.prior_weight) * a.inc[i, j]
    den = total + c.prior_weight * a.inc[i, j]
    if z == 0.0:  # the range member's usual 0: first bin, prior 1
        q = (first + half) / den
    else:
        emp_v, v = _learned_tail(c, tail, r, z)
        q = (emp_v + half) / (den * v)
    return 2.0 * min(q, 1.0 - q)


@kernel
def _learned_tail(c: Consts, tail: np.ndarray, r: float, z: float) -> tuple:
    """``(emp / prior, 1 / prior)`` at ``|r| = z > 0``: the learned tail weight on ``r``'s side, over the prior.

    Bin and position in it come from ``log2(z)`` (the positive edges are
    geometric).
    """
    nb = c.n_bins
    pos = (ax.log2(z) - c.log2_first) * c.inv_log2_width  # bins past the first positive edge
    k = 0 if pos < 0.0 else min(int(pos) + 1, nb - 1)
    side = nb if r < 0 else 0
    c_lo = np.float64(tail[side + k])
    c_hi = np.float64(tail[side + min(k + 1, nb - 1)])
    lu = ax.log2(1.0 + z * c.prior_inv_scale) if (c.prior_int_power == 0 or k == nb - 1) else 0.0
    v = _inv_prior(c, z, lu)
    emp_v = 0.0
    if c_lo > 0:
        if k == nb - 1:  # past the last edge: a power law (tail_power) from it
            excess = 1.0 if c.tail_excess == 0.0 else ax.exp2(c.tail_excess * lu)
            emp_v = c_lo * excess * c.inv_tail_at_last
        elif c_hi <= 0:  # past the last occupied edge: decay like the prior
            emp_v = c_lo * c.inv_prior_at_edge[k]
        elif k == 0:  # linear in |r| inside the first bin
            emp_v = (c_lo + np.float64(np.float32(c_hi - c_lo)) * min(z * c.inv_first, 1.0)) * v
        else:  # tails fall off like a power of |r| inside a bin (log-log interpolation)
            emp_v = c_lo * ax.exp2((pos - (k - 1)) * ax.log2(np.float64(np.float32(c_hi / c_lo)))) * v
    return emp_v, v


@kernel
def learn_one(a: Arrays, c: Consts, i: int, j: int, r: float, w: float) -> None:
    """Add ``r`` with weight ``w`` to statistic ``j`` of series ``i`` (NaN and weight 0 are skipped)."""
    if r != r or not w > 0:
        return
    a.count[i, j] += 1
    if c.stride > 1 and a.count[i, j] % c.stride != 1:
        return
    nb = c.n_bins
    tail = a.tail[i, j]
    if r == 0:  # an exact 0 is half up, half down, in the first bin (edge 0) only
        add = np.float32(w * a.inc[i, j] * 0.5)
        tail[0] += add
        tail[nb] += add
    else:
        add, zero = np.float32(w * a.inc[i, j]), np.float32(0.0)
        z, side = np.float32(min(abs(r), 1e30)), (0 if r > 0 else nb)
        for k in range(nb):  # every bin of its side with edge <= |r| (adding 0 elsewhere: branch-free, vectorised)
            tail[side + k] += add if z >= c.edges32[k] else zero
    a.inc[i, j] *= c.grow
    if a.inc[i, j] > 1e18:  # renormalise instead of decaying every bin
        scale = np.float64(np.float32(a.inc[i, j]))
        for k in range(2 * c.n_bins):
            a.tail[i, j, k] = np.float32(np.float64(a.tail[i, j, k]) / scale)
        a.inc[i, j] = 1.0


@kernel
def _pvalue_all(a: Arrays, c: Consts, r: np.ndarray, out: np.ndarray) -> None:
    for i in range(r.shape[0]):
        for j in range(r.shape[1]):
            out[i, j] = pvalue_one(a, c, i, j, r[i, j])


@kernel
def _learn_all(a: Arrays, c: Consts, r: np.ndarray, w: np.ndarray) -> None:
    for i in range(r.shape[0]):
        for j in range(r.shape[1]):
            learn_one(a, c, i, j, r[i, j], w[i])


class TailCalibrator:
    """Per-series calibration of a signed statistic to a [0, 1] score.

    ``edges`` are the bin edges of ``|r|`` (first edge 0).  ``half_life`` is
    in learned points; ``stride`` learns every n-th point of a series.
    ``tail_power`` (default: ``prior_power``) is the power of the tail past
    the last edge (see the module doc).  ``quiet`` (default 0: off) makes
    every ``|r|`` below it unremarkable: p-value 1 (score 0) without the tail
    query, which is most of the work of scoring a point; learning is
    unchanged.  The default detector sets it (:mod:`sentinel.detect.registry`):
    its decisions look at surprises of several decades only.
    """

    def __init__(
        self,
        prefix: str = "cal",
        n_bins: int = 18,
        z_min: float = 0.15,
        z_max: float = 200.0,
        half_life: float = 3000.0,
        stride: int = 1,
        prior_weight: float = 10.0,
        prior_scale: float = 2.0,
        prior_power: float = 4.0,
        tail_power: float | None = None,
        quiet: float = 0.0,
    ) -> None:
        tail = prior_power if tail_power is None else float(tail_power)
        if not tail > 0:
            raise ValueError(f"the calibrator's tail_power must be positive, got {tail_power}")
        if not 0 <= quiet < np.inf:
            raise ValueError(f"the calibrator's quiet must be a finite number >= 0, got {quiet}")
        self.prefix = prefix
        self.edges = np.concatenate([[0.0], np.geomspace(z_min, z_max, n_bins - 1)])
        self.n_bins = n_bins
        self.stride = stride
        self.grow = 0.5 ** (-stride / half_life)  # per learned point
        self.prior_weight = prior_weight
        self.prior_scale = prior_scale
        self.prior_power = prior_power
        self.tail_power = tail
        self.quiet = float(quiet)
        log2_edges = np.log2(np.maximum(self.edges, 1e-300))
        int_power = int(prior_power) if float(prior_power).is_integer() and 1 <= prior_power <= 8 else 0
        self.consts = Consts(
            self.edges.astype(np.float32), 1.0 / prior_tail(self.edges, prior_scale, prior_power), n_bins,
            int(stride), float(self.grow), float(1.0 / self.edges[1]), float(log2_edges[1]),
            float((n_bins - 2) / (log2_edges[-1] - log2_edges[1])), float(prior_weight), float(1.0 / prior_scale),
            float(prior_power), int_power, float(prior_power - tail),
            float(1.0 / prior_tail(np.array(z_max), prior_scale, tail)), float(quiet),
        )

    # -- state ------------------------------------------------------------------
    def init_state(self, n: int, m: int = 1) -> dict[str, np.ndarray]:
        """State for ``n`` series and ``m`` statistics per series (e.g. ensemble members)."""
        p = self.prefix
        return {
            f"{p}.tail": np.zeros((n, m, 2 * self.n_bins), dtype=np.float32),
            f"{p}.inc": np.ones((n, m)),
            f"{p}.count": np.zeros((n, m), dtype=np.int32),
        }

    def fill_missing(self, state: dict[str, np.ndarray]) -> None:
        """Convert the counts of a checkpoint from before they were int32 (one compiled kernel for both)."""
        key = f"{self.prefix}.count"
        if key in state and state[key].dtype != np.int32:
            state[key] = state[key].astype(np.int32)

    def arrays(self, state: dict[str, np.ndarray]) -> Arrays:
        """The state arrays the kernels work on."""
        p = self.prefix
        return Arrays(state[f"{p}.tail"], state[f"{p}.inc"], state[f"{p}.count"])

    # -- scoring -----------------------------------------------------------------
    def pvalue(self, state: dict[str, np.ndarray], r: np.ndarray) -> np.ndarray:
        """Two-sided tail probability of ``r`` (shape ``(n,)`` or ``(n, m)``; NaN stays NaN)."""
        r2 = np.ascontiguousarray(r, dtype=np.float64).reshape(len(state[f"{self.prefix}.inc"]), -1)
        out = np.empty_like(r2)
        _pvalue_all(self.arrays(state), self.consts, r2, out)
        return out.reshape(np.shape(r))

    def score(self, state: dict[str, np.ndarray], r: np.ndarray) -> np.ndarray:
        """Calibrated score ``1 - p`` (NaN where ``r`` is NaN)."""
        return 1.0 - self.pvalue(state, r)

    # -- learning ------------------------------------------------------------------
    def learn(self, state: dict[str, np.ndarray], r: np.ndarray, weight: np.ndarray) -> None:
        """Add ``r`` (shape as in :meth:`pvalue`) with per-series ``weight``; NaN and weight 0 are skipped."""
        r2 = np.ascontiguousarray(r, dtype=np.float64).reshape(len(state[f"{self.prefix}.inc"]), -1)
        _learn_all(self.arrays(state), self.consts, r2, np.ascontiguousarray(weight, dtype=np.float64).reshape(-1))

    def weight_seen(self, state: dict[str, np.ndarray]) -> np.ndarray:
        """Effective number of learned points per series and statistic (decayed)."""
        p = self.prefix
        tail = state[f"{p}.tail"]
        return (tail[..., 0].astype(np.float64) + tail[..., self.n_bins]) / state[f"{p}.inc"]
