"""Ensemble members: raw statistics computed on the shared seasonal baseline.

Each member turns one step of a series into a signed statistic, roughly in
units of its own typical size; the ensemble calibrates every member to the
common [0, 1] scale with its own :class:`~sentinel.detect.calibrate.TailCalibrator`.

- :class:`ResidualMember`: how far the value is from the expected value,
  in residual scales (spikes, dips, broken seasonality);
- :class:`ChangeMember`: how far the recent level (short windows of 4 and 16
  steps, the latest value included) is from the long memory, in standard
  errors of those means (level shifts, drifts, changes too small to show as
  one bad point but persistent);
- :class:`VolatilityMember`: how the recent typical residual size compares to
  the learned one (a series turning erratic, or going flat).

The built-in members compute in compiled per-series kernels
(:func:`statistic_one`, :func:`learn_one`, dispatched on the member's
``kernel`` code) that the ensemble's fused kernel calls inline; their
:class:`Member` methods loop the same kernels over series.  A member without
a ``kernel`` code (plain numpy, as the protocol allows) still works: the
ensemble then runs its per-step path.
"""

from __future__ import annotations

import math
from typing import ClassVar, NamedTuple, Protocol

import numpy as np

from sentinel.detect import baseline_kernels as bl
from sentinel.detect.baseline import SeasonalBaseline
from sentinel.detect.jit import kernel

State = dict[str, np.ndarray]
RESIDUAL, CHANGE, VOLATILITY, RANGE = 0, 1, 2, 3
N_PARAMS = 3


class Member(Protocol):
    """What the ensemble needs from a member."""

    name: ClassVar[str]

    def init_state(self, n: int) -> State: ...

    def statistic(self, st: State, base: SeasonalBaseline, x: np.ndarray, expected: np.ndarray,
                  season: np.ndarray) -> np.ndarray: ...

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None: ...


class Arrays(NamedTuple):
    """State arrays of the built-in members (empty where the member is not used), for the kernels."""

    c_norm: np.ndarray
    c_k: np.ndarray
    v_short: np.ndarray
    v_next: np.ndarray
    v_norm: np.ndarray
    v_k: np.ndarray
    r_hi: np.ndarray
    r_lo: np.ndarray


_KEYS = ("c.norm", "c.k", "v.short", "v.next", "v.norm", "v.k", "r.hi", "r.lo")
_EMPTY = np.empty(0)


def arrays(st: State) -> Arrays:
    """The built-in members' state arrays in ``st`` (an empty array for each one absent)."""
    return Arrays(*(st.get(k, _EMPTY) for k in _KEYS))


def _ew_var(alpha: float) -> float:
    """Variance of an exponentially weighted mean of unit-variance white noise."""
    return alpha / (2.0 - alpha)


# -- per-series kernels ------------------------------------------------------------------


@kernel
def statistic_one(code: int, mp: np.ndarray, m: Arrays, b: bl.Arrays, bp: bl.Params, i: int, x: float,
                  expected: float, season: float, inv_scale: float) -> float:
    """Statistic of member ``code`` (parameters ``mp``) for value ``x`` of series ``i``; NaN while warming up.

    ``inv_scale`` is ``1 / scale``: the members share one division per step.
    """
    warm = b.n[i] >= bp.warmup
    if code == RESIDUAL:
        return (x - expected) * inv_scale if warm else math.nan
    if code == CHANGE:
        deseason = x - season
        fast = b.fast[i] + bp.alpha_fast * (deseason - b.fast[i])
        mid = b.mid[i] + bp.alpha_mid * (deseason - b.mid[i])
        d_fast = (fast - b.slow[i]) * (inv_scale * mp[1])
        d_mid = (mid - b.slow[i]) * (inv_scale * mp[2])
        d = d_mid if abs(d_mid) >= abs(d_fast) else d_fast
        norm = m.c_norm[i]
        return d / (norm if (math.isfinite(norm) and norm > 0) else 1.0) if warm else math.nan
    if code == VOLATILITY:
        z = bl.minimum(abs(x - expected) * inv_scale, 50.0)
        short = m.v_short[i]
        nxt = short + mp[0] * (z - short)
        m.v_next[i] = short if nxt != nxt else nxt
        raw = math.log(bl.maximum(nxt, 1e-3)) if nxt == nxt else math.nan
        norm = m.v_norm[i]
        return raw / (norm if norm > 0 else 1.0) if warm else math.nan
    # RANGE
    hi, lo = m.r_hi[i], m.r_lo[i]
    if b.n[i] >= mp[1] and hi == hi:
        over = bl.maximum(x - hi, 0.0) - bl.maximum(lo - x, 0.0)
        return over * inv_scale
    return math.nan if x != x else 0.0


@kernel(inline=False)
def _learn_norm(norm: float, k: float, stat: float, w: float, ok: bool, known: bool, alpha_norm: float) -> tuple:
    """Decayed mean |statistic| in raw units (each point capped at 5 norms): ``(norm, count)``."""
    raw = abs(stat) * (norm if known else 1.0)
    raw = bl.minimum(raw, 5.0 * norm if known else math.inf)
    k = k + (1.0 if ok else 0.0)
    alpha = (alpha_norm if k * alpha_norm > 1.0 else max(alpha_norm, 1.0 / max(k, 1.0))) * w  # skip 1/k once settled
    base = norm if known else 0.0
    return (base + alpha * (raw - base) if ok else norm), k


@kernel
def learn_one(code: int, mp: np.ndarray, m: Arrays, i: int, stat: float, x: float, w: float) -> None:
    """Learn member ``code`` of series ``i`` from its statistic (the range member from the value)."""
    if code == CHANGE:
        norm = m.c_norm[i]
        ok = math.isfinite(stat) and w > 0
        m.c_norm[i], m.c_k[i] = _learn_norm(norm, m.c_k[i], stat, w, ok, math.isfinite(norm) and norm > 0, mp[0])
    elif code == VOLATILITY:
        if stat == stat:
            m.v_short[i] = m.v_next[i]
        norm = m.v_norm[i]
        m.v_norm[i], m.v_k[i] = _learn_norm(norm, m.v_k[i], stat, w, stat == stat and w > 0, norm > 0, mp[1])
    elif code == RANGE:
        ok = x == x and w > 0.5
        hi, lo = m.r_hi[i], m.r_lo[i]
        width = (0.0 if hi != hi else hi - lo) * mp[0]
        if ok and hi != hi:
            m.r_hi[i], m.r_lo[i] = x, x
        elif ok:
            m.r_hi[i], m.r_lo[i] = bl.maximum(x, hi - width), bl.minimum(x, lo + width)
        else:
            m.r_hi[i], m.r_lo[i] = hi - width, lo + width


@kernel
def _statistic_all(code: int, mp: np.ndarray, m: Arrays, b: bl.Arrays, bp: bl.Params, x: np.ndarray,
                   expected: np.ndarray, season: np.ndarray, out: np.ndarray) -> None:
    for i in range(len(x)):
        out[i] = statistic_one(code, mp, m, b, bp, i, x[i], expected[i], season[i], 1.0 / bl.scale_one(b, bp, i))


@kernel
def _learn_all(code: int, mp: np.ndarray, m: Arrays, stat: np.ndarray, x: np.ndarray, w: np.ndarray) -> None:
    for i in range(len(stat)):
        learn_one(code, mp, m, i, stat[i], x[i], w[i])


class _Compiled:
    """Shared protocol methods of the built-in members: loops over the compiled kernels."""

    kernel: ClassVar[int]

    def kernel_params(self, base: SeasonalBaseline | None) -> np.ndarray:
        """The member's constants for the kernels (``N_PARAMS`` floats; without ``base``, those learning needs)."""
        return np.zeros(N_PARAMS)

    def statistic(self, st: State, base: SeasonalBaseline, x: np.ndarray, expected: np.ndarray,
                  season: np.ndarray) -> np.ndarray:
        out = np.empty(len(x))
        _statistic_all(self.kernel, self.kernel_params(base), arrays(st), base.arrays(st), base.params,
                       np.asarray(x, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                       np.asarray(season, dtype=np.float64), out)
        return out

    def _learn(self, st: State, stat: np.ndarray, x: np.ndarray, weight: np.ndarray) -> None:
        _learn_all(self.kernel, self.kernel_params(None), arrays(st), np.asarray(stat, dtype=np.float64),
                   np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64))


class ResidualMember(_Compiled):
    """Signed residual ``(x - expected) / scale``."""

    name: ClassVar[str] = "residual"
    kernel: ClassVar[int] = RESIDUAL

    def init_state(self, n: int) -> State:
        return {}

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None:
        """Nothing of its own: the baseline learns the residual scale."""


class ChangeMember(_Compiled):
    """Short-window mean vs long memory, the larger of two window lengths.

    The statistic is normalised by its own decayed mean absolute value
    (guarded), because real residuals are autocorrelated and the white-noise
    standard error understates the natural swing of a window mean.
    """

    name: ClassVar[str] = "change"
    kernel: ClassVar[int] = CHANGE

    def __init__(self, alpha_norm: float = 0.01) -> None:
        self.alpha_norm = alpha_norm

    def init_state(self, n: int) -> State:
        return {"c.norm": np.full(n, np.nan), "c.k": np.zeros(n)}

    def kernel_params(self, base: SeasonalBaseline | None) -> np.ndarray:
        if base is None:  # learning needs alpha_norm only
            return np.array([self.alpha_norm, 1.0, 1.0])
        v_slow = _ew_var(base.alpha_slow)
        # 1 / (1.25 * standard error of each window's mean against the long memory), per residual scale
        return np.array([self.alpha_norm, 0.8 / np.sqrt(_ew_var(base.alpha_fast) + v_slow),
                         0.8 / np.sqrt(_ew_var(base.alpha_mid) + v_slow)])

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None:
        self._learn(st, stat, np.zeros(len(stat)), weight)


class VolatilityMember(_Compiled):
    """Recent typical residual size vs the learned one: noise bursts up, flatlines down.

    ``log`` of a short exponentially weighted mean of ``|residual| / scale``
    (the latest point included); the scale is the long, guarded mean of
    ``|residual|``, so the statistic sits near 0 on normal data, is large and
    positive when a series turns erratic and large and negative when it goes
    flat (a stuck sensor, a silent agent that reports a constant).
    """

    name: ClassVar[str] = "volatility"
    kernel: ClassVar[int] = VOLATILITY

    def __init__(self, alpha: float = 1 / 8, alpha_norm: float = 0.01) -> None:
        self.alpha = alpha
        self.alpha_norm = alpha_norm

    def init_state(self, n: int) -> State:
        return {"v.short": np.ones(n), "v.next": np.ones(n), "v.norm": np.full(n, np.nan), "v.k": np.zeros(n)}

    def kernel_params(self, base: SeasonalBaseline | None) -> np.ndarray:
        return np.array([self.alpha, self.alpha_norm, 0.0])

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None:
        self._learn(st, stat, np.zeros(len(stat)), weight)


class RangeMember(_Compiled):
    """How far a value lies beyond the range the series has shown: new records.

    The learned range (``r.hi`` / ``r.lo``) is widened by every accepted point
    and shrinks slowly (``shrink`` of its width per step) where it is not
    refreshed, so an old extreme is forgotten over a few thousand steps.
    The statistic is 0 inside the range and the excess in residual scales
    outside it: a slow drift to a level never seen before scores even when
    each step is small.
    """

    name: ClassVar[str] = "range"
    kernel: ClassVar[int] = RANGE

    def __init__(self, shrink: float = 1 / 2000, min_points: int = 50) -> None:
        self.shrink = shrink
        self.min_points = min_points

    def init_state(self, n: int) -> State:
        return {"r.hi": np.full(n, np.nan), "r.lo": np.full(n, np.nan)}

    def kernel_params(self, base: SeasonalBaseline | None) -> np.ndarray:
        return np.array([self.shrink, float(self.min_points), 0.0])

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None:
        """Needs the value itself: see :meth:`learn_value` (the ensemble calls both)."""

    def learn_value(self, st: State, x: np.ndarray, weight: np.ndarray) -> None:
        self._learn(st, np.zeros(len(x)), x, weight)
