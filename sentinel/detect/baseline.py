"""The learned normal: a seasonal baseline with fast and slow memories.

One baseline per series, all series in one set of numpy arrays:

- ``local``: a local level (exponentially weighted, ~10 steps), the
  expected value of a series without seasonality;
- ``level``: the slower de-seasonalised level the seasonal profiles sit on
  (slow, so that it does not absorb the daily swing before the profile
  learns it); both are guarded: they learn only what the guard lets through,
  with residuals clipped to a few scales, so a spike cannot drag them;
- ``slow``: a long memory of the level (guarded), the reference of the change
  member;
- ``fast`` and ``mid``: short memories that learn *everything*, so they
  follow a real shift at once; the change member compares them to ``slow``,
  and :meth:`rebase` re-anchors the guarded memories to ``fast`` once the
  guard judges a shift to be permanent;
- seasonal profiles: a daily one (up to 288 slots) and a weekly one on top
  (up to 168 slots, i.e. hour-of-week), both learned all the time; which of
  *local level / level+daily / level+daily+weekly* a series uses is chosen online per series by
  the decayed absolute error of each candidate's one-step prediction, with a
  small bias toward the simpler model;
- ``scale``: the decayed mean absolute residual (robust: residuals are clipped
  before they are learned), floored by a fraction of the *unguarded* mean
  absolute step change, so a mostly flat series with regular spikes does not
  get a zero scale (and infinitely surprising spikes), while a truly
  constant series still has a tiny one.

A series may carry a clock offset (``b.offset``, seconds added to the batch
time to get its own time: a local time zone, or files with different start
times scored side by side); the profiles are then indexed per series.

Candidate periods come from the sampling step: a period is modelled only if
it spans at least 8 steps; slots are at least one step wide.  The first
``warmup`` points of a series only teach the baseline (no statistic is
computed from a scale estimated on two points).

The arithmetic is per series and per step (:func:`components`,
:func:`scale_one`, :func:`learn_one`, :func:`rebase_one`), compiled with
numba (:mod:`sentinel.detect.jit`); the methods of
:class:`SeasonalBaseline` loop them over all series, and the ensemble's
fused kernel calls them inside its own loop.  A missing value teaches a
series nothing, whatever the other series of the step do.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

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


def _slots(period: int, step: int, max_slots: int) -> int:
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
    ``np.argmin`` does).
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
    return daily, weekly, model, d_slot, w_slot


@kernel(inline=False)
def season_of(daily: float, weekly: float, model: int) -> float:
    """The seasonal part the chosen model uses."""
    return (daily if model >= 1 else 0.0) + (weekly if model >= 2 else 0.0)


@kernel
def expected_one(b: Arrays, i: int, season: float, model: int) -> float:
    """Expected value of series ``i``: its local level, or level + season."""
    return b.local[i] if model == 0 else b.level[i] + season


@kernel
def scale_one(b: Arrays, p: Params, i: int) -> float:
    """Residual scale with a floor (relative to the level) for near-constant series."""
    floor = 1e-9 + 1e-6 * abs(b.level[i]) + p.rough_floor * b.rough[i]
    s = b.scale[i]
    return maximum(0.0 if s != s else s, floor)


@kernel(inline=False)
def _clip(v: float, lim: float) -> float:
    return minimum(maximum(v, -lim), lim)


@kernel
def _season_rate(p: Params, n: float, period: int, per_slot: float, n_settled: float, settled: float) -> float:
    """Learning rate of a profile slot: a running mean over the first cycles, then ``alpha_season``."""
    if n >= n_settled:
        return settled
    cycles = math.floor(n * p.step / period)  # exact for any realistic count (float // calls fmod)
    return max(p.alpha_season, 1.0 / (cycles + 1.0)) / per_slot


@kernel
def learn_one(b: Arrays, p: Params, i: int, x: float, w: float, daily: float, weekly: float, model: int,
              d_slot: int, w_slot: int) -> None:
    """Learn value ``x`` of series ``i`` (components from :func:`components`); ``w`` gates the guarded memories."""
    if x != x:
        return
    season = season_of(daily, weekly, model)
    fresh = b.local[i] != b.local[i]
    if fresh:  # first value of a series: start every memory there
        b.local[i] = x
        b.level[i] = x
        b.slow[i] = x
        b.fast[i] = x
        b.mid[i] = x
    local, level, n = b.local[i], b.level[i], b.n[i]
    lim = p.clip * scale_one(b, p, i) if n >= p.warmup else math.inf  # no clipping while the scale is unknown
    settled = n >= p.n_settled  # skip the divisions of the warm-up rates (same result)
    warm = 0.0 if settled else 1.0 / (n + 1.0)
    # candidate errors (only for what the guard accepts)
    r_season = x - level - daily - weekly
    a_sel = max(p.alpha_select, warm) * w
    b.err[i, 0] += a_sel * (minimum(abs(x - local), lim) - b.err[i, 0])
    b.err[i, 1] += a_sel * (minimum(abs(x - level - daily), lim) - b.err[i, 1])
    b.err[i, 2] += a_sel * (minimum(abs(r_season), lim) - b.err[i, 2])
    # residual scale of the model in use
    resid = abs(x - (local if model == 0 else level + season))
    s = b.scale[i]
    prev = 0.0 if s != s else s
    a_sc = (p.alpha_scale if settled else max(p.alpha_scale, 1.0 / max(n, 1.0))) * w
    if w > 0 and not fresh:
        b.scale[i] = prev + a_sc * (minimum(resid, lim) - prev) if n > 1 else resid
    # guarded memories, robust to outliers: a local level, and a slow level + profiles
    b.local[i] = local + max(p.alpha_local, warm) * w * _clip(x - local, lim)
    r_s = _clip(r_season, lim)
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
    b.slow[i] += max(p.alpha_slow, warm) * w * _clip(deseason - b.slow[i], lim)
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
def _expected_all(b: Arrays, p: Params, t: int, d_slot: int, w_slot: int, expected: np.ndarray,
                  season: np.ndarray) -> None:
    for i in range(len(expected)):
        daily, weekly, model, _, _ = components(b, p, i, t, d_slot, w_slot)
        season[i] = season_of(daily, weekly, model)
        expected[i] = expected_one(b, i, season[i], model)


@kernel
def _scale_all(b: Arrays, p: Params, out: np.ndarray) -> None:
    for i in range(len(out)):
        out[i] = scale_one(b, p, i)


@kernel
def _learn_all(b: Arrays, p: Params, t: int, d_slot: int, w_slot: int, x: np.ndarray, w: np.ndarray) -> None:
    for i in range(len(x)):
        if x[i] == x[i]:
            daily, weekly, model, ds, ws = components(b, p, i, t, d_slot, w_slot)
            learn_one(b, p, i, x[i], w[i], daily, weekly, model, ds, ws)


@kernel
def _rebase_all(b: Arrays, p: Params, mask: np.ndarray) -> None:
    for i in range(len(mask)):
        if mask[i]:
            rebase_one(b, p, i)


class SeasonalBaseline:
    """Vectorised baseline state and its per-step update (see module doc)."""

    def __init__(
        self,
        step: int,
        alpha_local: float = 0.1,
        alpha_level: float = 0.02,
        alpha_slow: float = 0.01,
        alpha_fast: float = 0.25,
        alpha_mid: float = 1 / 16,
        alpha_season: float = 0.2,
        alpha_scale: float = 0.02,
        alpha_select: float = 0.01,
        clip: float = 4.0,
        daily_slots: int = 288,
        weekly_slots: int = 168,
        warmup: int = 12,
        rough_floor: float = 0.1,
    ) -> None:
        if int(step) <= 0:
            raise ValueError(f"the sampling step must be a positive number of seconds, got {step}")
        self.step = int(step)
        self.warmup = warmup
        self.rough_floor = rough_floor
        self.alpha_local = alpha_local
        self.alpha_level = alpha_level
        self.alpha_slow = alpha_slow
        self.alpha_fast = alpha_fast
        self.alpha_mid = alpha_mid
        self.alpha_season = alpha_season
        self.alpha_scale = alpha_scale
        self.alpha_select = alpha_select
        self.clip = clip
        self.n_daily = _slots(DAY, self.step, daily_slots)
        self.n_weekly = _slots(WEEK, self.step, weekly_slots) if self.n_daily else 0
        # required relative improvement for the more complex candidate
        self.bias = np.array([1.0, 1.03, 1.06])
        per_day, per_week = DAY / (max(self.n_daily, 1) * self.step), WEEK / (max(self.n_weekly, 1) * self.step)
        alphas = (alpha_local, alpha_level, alpha_slow, alpha_fast, alpha_mid, alpha_select, alpha_scale)
        cycles = math.ceil(1.0 / alpha_season - 1.0) if alpha_season > 0 else math.inf  # when 1/(c+1) <= alpha
        self.params = Params(
            self.step, self.n_daily, self.n_weekly, float(warmup), float(rough_floor), float(alpha_local),
            float(alpha_level), float(alpha_slow), float(alpha_fast), float(alpha_mid), float(alpha_season),
            float(alpha_scale), float(alpha_select), float(clip), float(self.bias[1]), float(self.bias[2]),
            per_day, per_week,
            math.ceil(1.0 / min(alphas)) + 1.0 if min(alphas) > 0 else math.inf,
            float(math.ceil(cycles * DAY / self.step) + 1.0), float(math.ceil(cycles * WEEK / self.step) + 1.0),
            alpha_season / per_day, alpha_season / per_week,
        )

    def init_state(self, n: int) -> dict[str, np.ndarray]:
        nan = np.full(n, np.nan)
        return {
            "b.local": nan.copy(),
            "b.level": nan.copy(),
            "b.slow": nan.copy(),
            "b.fast": nan.copy(),
            "b.mid": nan.copy(),
            "b.scale": nan.copy(),
            "b.last": nan.copy(),
            "b.rough": np.zeros(n),
            "b.n": np.zeros(n),
            "b.offset": np.zeros(n, dtype=np.int64),
            "b.err": np.zeros((n, 3)),
            "b.daily": np.zeros((n, self.n_daily), dtype=np.float32),
            "b.weekly": np.zeros((n, self.n_weekly), dtype=np.float32),
        }

    @staticmethod
    def arrays(st: dict[str, np.ndarray]) -> Arrays:
        """The state arrays the kernels work on (contiguous; the kernels write into them)."""
        return Arrays(*(st[k] for k in ("b.local", "b.level", "b.slow", "b.fast", "b.mid", "b.scale", "b.last",
                                        "b.rough", "b.n", "b.offset", "b.err", "b.daily", "b.weekly")))

    def slots(self, t: int) -> tuple[int, int]:
        """Daily and weekly slot of time ``t`` for series without a clock offset."""
        return (int((t % DAY) * self.n_daily // DAY), int((t % WEEK) * self.n_weekly // WEEK))

    # -- vectorised over series -------------------------------------------------------
    def expected(self, st: dict[str, np.ndarray], t: int) -> tuple[np.ndarray, np.ndarray]:
        """Expected value and the seasonal part in use, per series."""
        n = len(st["b.n"])
        expected, season = np.empty(n), np.empty(n)
        _expected_all(self.arrays(st), self.params, t, *self.slots(t), expected, season)
        return expected, season

    def scale(self, st: dict[str, np.ndarray]) -> np.ndarray:
        """Residual scale with a floor (relative to the level) for near-constant series."""
        out = np.empty(len(st["b.n"]))
        _scale_all(self.arrays(st), self.params, out)
        return out

    def learn(self, st: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        """Learn one step; ``weight`` (0..1) gates the guarded memories only."""
        _learn_all(self.arrays(st), self.params, t, *self.slots(t), np.asarray(x, dtype=np.float64),
                   np.asarray(weight, dtype=np.float64))

    def rebase(self, st: dict[str, np.ndarray], mask: np.ndarray) -> None:
        """Accept a sustained shift: re-anchor the guarded memories of the model in use to the fast one.

        ``fast`` follows the series as the model in use sees it (raw for the
        local level, de-seasonalised otherwise), so only that model's level
        moves: a daily swing seen before its profile is learned must not drag
        the seasonal level along.
        """
        _rebase_all(self.arrays(st), self.params, np.asarray(mask, dtype=np.bool_))
