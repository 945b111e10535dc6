"""The seasonal baseline's arithmetic: one series, one step, compiled with numba.

:class:`~sentinel.detect.baseline.SeasonalBaseline` (what the baseline
learns, and why) loops these over all series; the ensemble's fused kernel
(:mod:`sentinel.detect.fused`) and the members call them inside their own
loops as ``baseline_kernels.<name>`` (see :mod:`sentinel.detect.jit`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sentinel.detect import baseline_steps as bs
from sentinel.detect.jit import kernel

DAY = 86_400
WEEK = 7 * DAY


class Arrays(NamedTuple):
    """The baseline's state arrays (views into the detector's ``state_``), for the kernels."""

    local: np.ndarray
    level: np.ndarray
    slow: np.ndarray
    fast: np.ndarray
    mid: np.ndarray
    scale: np.ndarray
    last: np.ndarray
    rough: np.ndarray
    n: np.ndarray
    offset: np.ndarray
    err: np.ndarray
    daily: np.ndarray
    weekly: np.ndarray
    steps: np.ndarray  # weekly steps (:mod:`sentinel.detect.baseline_steps`): changes into each weekly slot ...
    s_unit: np.ndarray  # ... their unit (float32) ...
    s_gain: np.ndarray  # ... how much the steps taken paid off (float32) ...
    s_at: np.ndarray  # ... the slot of the pass being measured and its values learned (int32) ...
    s_k: np.ndarray
    s_cur: np.ndarray  # ... their sum, and the mean of the slot before it
    s_prev: np.ndarray


class Params(NamedTuple):
    """Constants of one baseline, for the kernels."""

    step: int
    n_daily: int
    n_weekly: int
    warmup: float
    rough_floor: float
    alpha_local: float
    alpha_level: float
    alpha_slow: float
    alpha_fast: float
    alpha_mid: float
    alpha_season: float
    alpha_scale: float
    alpha_select: float
    clip: float
    bias1: float
    bias2: float
    per_slot_daily: float
    per_slot_weekly: float
    n_settled: float  # from this count on, no warm-up rate (1/n) exceeds its alpha
    n_settled_daily: float  # ... and the profiles learn at their settled rates:
    n_settled_weekly: float
    rate_daily: float  # alpha_season / per_slot_daily
    rate_weekly: float
    alpha_gain: float  # of the weekly steps' record, per step judged
    jump_min: float  # a weekly step is taken only above this many residual scales


def slot_count(period: int, step: int, max_slots: int) -> int:
    """How many profile slots a period gets at this step (0 = not modelled)."""
    if period < 8 * step:
        return 0
    return int(min(max_slots, period // step))


# -- per-series kernels (numpy semantics: min/max propagate NaN) ----------------------------


@kernel(inline=False)
def maximum(a: float, b: float) -> float:
    """``np.maximum`` of two scalars (NaN wins)."""
    return a if (a >= b or a != a) else b


@kernel(inline=False)
def minimum(a: float, b: float) -> float:
    """``np.minimum`` of two scalars (NaN wins)."""
    return a if (a <= b or a != a) else b


@kernel(inline=False)
def slot(t: int, offset: int, period: int, n_slots: int) -> int:
    """Profile slot of time ``t`` for a series with this clock offset."""
    return ((t + offset) % period) * n_slots // period


@kernel
def components(b: Arrays, p: Params, i: int, t: int, d_slot: int, w_slot: int) -> tuple:
    """``(daily, weekly, model, d_slot, w_slot)`` of series ``i`` at ``t``.

    ``d_slot``/``w_slot`` are the slots for offset 0 (precomputed per step);
    ``model`` is the candidate with the least biased error (0 local level,
    1 level + daily, 2 level + daily + weekly; NaN counts as least, as
    ``np.argmin`` does).  For model 0 ``weekly`` is the weekly step its local
    level takes now (:func:`~sentinel.detect.baseline_steps.taken_step`; 0 at almost every step).
    """
    off = b.offset[i]
    if off != 0:
        if p.n_daily:
            d_slot = slot(t, off, DAY, p.n_daily)
        if p.n_weekly:
            w_slot = slot(t, off, WEEK, p.n_weekly)
    daily = np.float64(b.daily[i, d_slot]) if p.n_daily else 0.0
    weekly = np.float64(b.weekly[i, w_slot]) if p.n_weekly else 0.0
    best = b.err[i, 0]
    model = 0
    if best == best:
        for c in (1, 2):
            e = b.err[i, c] * (p.bias1 if c == 1 else p.bias2)
            if e != e:
                model = c
                break
            if e < best:
                best = e
                model = c
    if model == 0:
        weekly = bs.taken_step(b, p, i, w_slot)[1] if p.n_weekly else 0.0
    return daily, weekly, model, d_slot, w_slot


@kernel(inline=False)
def season_of(daily: float, weekly: float, model: int) -> float:
    """The seasonal part the chosen model uses (model 0: the weekly step its local level takes now)."""
    return (daily if model >= 1 else 0.0) + (weekly if model != 1 else 0.0)


@kernel
def expected_one(b: Arrays, i: int, season: float, model: int) -> float:
    """Expected value of series ``i``: its local level (+ the weekly step it takes now), or level + season."""
    return (b.local[i] if model == 0 else b.level[i]) + season


@kernel
def scale_one(b: Arrays, p: Params, i: int) -> float:
    """Residual scale with a floor (relative to the level) for near-constant series."""
    floor = 1e-9 + 1e-6 * abs(b.level[i]) + p.rough_floor * b.rough[i]
    s = b.scale[i]
    return maximum(0.0 if s != s else s, floor)


@kernel(inline=False)
def clip(v: float, lim: float) -> float:
    return minimum(maximum(v, -lim), lim)


@kernel
def _season_rate(p: Params, n: float, period: int, per_slot: float, n_settled: float, settled: float) -> float:
    """Learning rate of a profile slot: a running mean over the first cycles, then ``alpha_season``."""
    if n >= n_settled:
        return settled
    cycles = math.floor(n * p.step / period)  # exact for any realistic count (float // calls fmod)
    first = 1.0 if cycles == 0.0 else 1.0 / (cycles + 1.0)  # the first cycle needs no division
    return max(p.alpha_season, first) / per_slot


@kernel
def learn_one(b: Arrays, p: Params, i: int, x: float, w: float, daily: float, weekly: float, model: int,
              d_slot: int, w_slot: int) -> None:
    """Learn value ``x`` of series ``i`` (components from :func:`components`); ``w`` gates the guarded memories.

    At the first value of a weekly slot the local level takes the weekly step
    (:func:`sentinel.detect.baseline_steps.learn_one`).
    """
    if x != x:
        return
    wk = weekly if model != 0 else (np.float64(b.weekly[i, w_slot]) if p.n_weekly else 0.0)  # model 2's part
    fresh = b.local[i] != b.local[i]
    if fresh:  # first value of a series: start every memory there
        b.local[i] = x
        b.level[i] = x
        b.slow[i] = x
        b.fast[i] = x
        b.mid[i] = x
    if p.n_weekly:
        bs.learn_one(b, p, i, x, w, model, w_slot)
    season = season_of(daily, wk, model) if model != 0 else 0.0
    local, level, n = b.local[i], b.level[i], b.n[i]
    lim = p.clip * scale_one(b, p, i) if n >= p.warmup else math.inf  # no clipping while the scale is unknown
    settled = n >= p.n_settled  # skip the divisions of the warm-up rates (same result)
    # the warm-up rates 1/(n + 1) and 1/max(n, 1) from one division
    n1 = max(n, 1.0)
    inv_pair = 0.0 if settled else 1.0 / (n1 * (n + 1.0))
    warm = n1 * inv_pair
    # candidate errors (only for what the guard accepts)
    r_season = x - level - daily - wk
    a_sel = max(p.alpha_select, warm) * w
    b.err[i, 0] += a_sel * (minimum(abs(x - local), lim) - b.err[i, 0])
    b.err[i, 1] += a_sel * (minimum(abs(x - level - daily), lim) - b.err[i, 1])
    b.err[i, 2] += a_sel * (minimum(abs(r_season), lim) - b.err[i, 2])
    # residual scale of the model in use
    resid = abs(x - (local if model == 0 else level + season))
    s = b.scale[i]
    prev = 0.0 if s != s else s
    a_sc = (p.alpha_scale if settled else max(p.alpha_scale, (n + 1.0) * inv_pair)) * w
    if w > 0 and not fresh:
        b.scale[i] = prev + a_sc * (minimum(resid, lim) - prev) if n > 1 else resid
    # guarded memories, robust to outliers: a local level, and a slow level + profiles
    b.local[i] = local + max(p.alpha_local, warm) * w * clip(x - local, lim)
    r_s = clip(r_season, lim)
    b.level[i] = level + max(p.alpha_level, warm) * w * r_s
    # profiles: the first cycles are averaged, then exponentially weighted; the weekly
    # profile learns only what the daily one (just updated) leaves
    if p.n_daily:
        d_step = _season_rate(p, n, DAY, p.per_slot_daily, p.n_settled_daily, p.rate_daily) * w * r_s
        b.daily[i, d_slot] = np.float32(b.daily[i, d_slot] + np.float32(d_step))
        r_s = r_s - d_step
    if p.n_weekly:
        w_step = _season_rate(p, n, WEEK, p.per_slot_weekly, p.n_settled_weekly, p.rate_weekly) * w * r_s
        b.weekly[i, w_slot] = np.float32(b.weekly[i, w_slot] + np.float32(w_step))
    deseason = x - season
    b.slow[i] += max(p.alpha_slow, warm) * w * clip(deseason - b.slow[i], lim)
    # fast memories learn everything that was seen
    b.fast[i] += max(p.alpha_fast, warm) * (deseason - b.fast[i])
    b.mid[i] += max(p.alpha_mid, warm) * (deseason - b.mid[i])
    # roughness: unguarded mean |step change|, a floor for the scale of spiky, mostly flat series
    jump = x - b.last[i]
    if jump == jump:
        b.rough[i] += p.alpha_scale * (abs(jump) - b.rough[i])
    b.last[i] = x
    b.n[i] = n + 1.0


@kernel
def rebase_one(b: Arrays, p: Params, i: int) -> None:
    """Re-anchor the guarded memories of series ``i``'s model in use to its fast memory."""
    seasonal = components(b, p, i, 0, 0, 0)[2] >= 1
    b.slow[i] = b.fast[i]
    b.mid[i] = b.fast[i]
    if seasonal:
        b.level[i] = b.fast[i]
    else:
        b.local[i] = b.fast[i]


# -- loops over series (the vectorised methods) --------------------------------------------


@kernel
def expected_all(b: Arrays, p: Params, t: int, d_slot: int, w_slot: int, expected: np.ndarray,
                  season: np.ndarray) -> None:
    for i in range(len(expected)):
        daily, weekly, model, _, _ = components(b, p, i, t, d_slot, w_slot)
        season[i] = season_of(daily, weekly, model)
        expected[i] = expected_one(b, i, season[i], model)


@kernel
def scale_all(b: Arrays, p: Params, out: np.ndarray) -> None:
    for i in range(len(out)):
        out[i] = scale_one(b, p, i)


@kernel
def learn_all(b: Arrays, p: Params, t: int, d_slot: int, w_slot: int, x: np.ndarray, w: np.ndarray) -> None:
    for i in range(len(x)):
        if x[i] == x[i]:
            daily, weekly, model, ds, ws = components(b, p, i, t, d_slot, w_slot)
            learn_one(b, p, i, x[i], w[i], daily, weekly, model, ds, ws)


@kernel
def rebase_all(b: Arrays, p: Params, mask: np.ndarray) -> None:
    for i in range(len(mask)):
        if mask[i]:
            rebase_one(b, p, i)
