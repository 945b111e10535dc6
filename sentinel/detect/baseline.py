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
- weekly steps (:mod:`sentinel.detect.baseline_steps`): the change into
  each hour of the week, learned within each pass; at the first value of an
  hour the local level takes the part of it that stands out from the
  neighbouring hours' changes (a weekend that starts at midnight), above
  ``jump_min`` residual scales and while such steps have paid off
  (``alpha_gain``: the decayed record of how much closer each brought the
  level to the value).  At 1-minute samples most series run on the local
  level, which follows a smooth daily cycle but missed a sharp weekly edge by
  the whole step every week; nothing changes before a series has a week;
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

The arithmetic is per series and per step, compiled with numba
(:mod:`sentinel.detect.baseline_kernels`); the methods of
:class:`SeasonalBaseline` loop them over all series, and the ensemble's
fused kernel calls them inside its own loop.  A missing value teaches a
series nothing, whatever the other series of the step do.
"""

from __future__ import annotations

import math

import numpy as np

from sentinel.detect import baseline_kernels as bk
from sentinel.detect import baseline_steps as bs
from sentinel.detect.baseline_kernels import DAY, WEEK

__all__ = ["DAY", "WEEK", "SeasonalBaseline"]


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
        alpha_gain: float = 0.125,
        jump_min: float = 4.0,
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
        self.alpha_gain = alpha_gain
        self.jump_min = jump_min
        self.n_daily = bk.slot_count(DAY, self.step, daily_slots)
        self.n_weekly = bk.slot_count(WEEK, self.step, weekly_slots) if self.n_daily else 0
        # required relative improvement for the more complex candidate
        self.bias = np.array([1.0, 1.03, 1.06])
        per_day, per_week = DAY / (max(self.n_daily, 1) * self.step), WEEK / (max(self.n_weekly, 1) * self.step)
        alphas = (alpha_local, alpha_level, alpha_slow, alpha_fast, alpha_mid, alpha_select, alpha_scale)
        cycles = math.ceil(1.0 / alpha_season - 1.0) if alpha_season > 0 else math.inf  # when 1/(c+1) <= alpha
        self.params = bk.Params(
            self.step, self.n_daily, self.n_weekly, float(warmup), float(rough_floor), float(alpha_local),
            float(alpha_level), float(alpha_slow), float(alpha_fast), float(alpha_mid), float(alpha_season),
            float(alpha_scale), float(alpha_select), float(clip), float(self.bias[1]), float(self.bias[2]),
            per_day, per_week,
            math.ceil(1.0 / min(alphas)) + 1.0 if min(alphas) > 0 else math.inf,
            float(math.ceil(cycles * DAY / self.step) + 1.0), float(math.ceil(cycles * WEEK / self.step) + 1.0),
            alpha_season / per_day, alpha_season / per_week, float(alpha_gain), float(jump_min),
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
            "b.steps": np.full((n, self.n_weekly), bs.UNSEEN, dtype=np.int8),
            "b.s_unit": np.full(n, np.nan, dtype=np.float32),
            # a series starts with the record of one step that paid off in full: it trusts its steps
            "b.s_gain": np.full(n, self.alpha_gain * self.clip, dtype=np.float32),
            "b.s_at": np.full(n, -1, dtype=np.int32),
            "b.s_k": np.zeros(n, dtype=np.int32),
            "b.s_cur": np.zeros(n),
            "b.s_prev": nan.copy(),
        }

    @staticmethod
    def arrays(st: dict[str, np.ndarray]) -> bk.Arrays:
        """The state arrays the kernels work on (contiguous; the kernels write into them)."""
        return bk.Arrays(*(st[k] for k in ("b.local", "b.level", "b.slow", "b.fast", "b.mid", "b.scale", "b.last",
                                        "b.rough", "b.n", "b.offset", "b.err", "b.daily", "b.weekly", "b.steps",
                                        "b.s_unit", "b.s_gain", "b.s_at", "b.s_k", "b.s_cur", "b.s_prev")))

    def slots(self, t: int) -> tuple[int, int]:
        """Daily and weekly slot of time ``t`` for series without a clock offset."""
        return (int((t % DAY) * self.n_daily // DAY), int((t % WEEK) * self.n_weekly // WEEK))

    # -- vectorised over series -------------------------------------------------------
    def expected(self, st: dict[str, np.ndarray], t: int) -> tuple[np.ndarray, np.ndarray]:
        """Expected value and the seasonal part in use, per series."""
        n = len(st["b.n"])
        expected, season = np.empty(n), np.empty(n)
        bk.expected_all(self.arrays(st), self.params, t, *self.slots(t), expected, season)
        return expected, season

    def scale(self, st: dict[str, np.ndarray]) -> np.ndarray:
        """Residual scale with a floor (relative to the level) for near-constant series."""
        out = np.empty(len(st["b.n"]))
        bk.scale_all(self.arrays(st), self.params, out)
        return out

    def learn(self, st: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        """Learn one step; ``weight`` (0..1) gates the guarded memories only."""
        bk.learn_all(self.arrays(st), self.params, t, *self.slots(t), np.asarray(x, dtype=np.float64),
                   np.asarray(weight, dtype=np.float64))

    def rebase(self, st: dict[str, np.ndarray], mask: np.ndarray) -> None:
        """Accept a sustained shift: re-anchor the guarded memories of the model in use to the fast one.

        ``fast`` follows the series as the model in use sees it (raw for the
        local level, de-seasonalised otherwise), so only that model's level
        moves: a daily swing seen before its profile is learned must not drag
        the seasonal level along.
        """
        bk.rebase_all(self.arrays(st), self.params, np.asarray(mask, dtype=np.bool_))
