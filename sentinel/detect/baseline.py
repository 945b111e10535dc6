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
"""

from __future__ import annotations

import numpy as np

DAY = 86_400
WEEK = 7 * DAY
Slot = int | np.ndarray | None


def _nan0(a: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(a), 0.0, a)


def _slots(period: int, step: int, max_slots: int) -> int:
    """How many profile slots a period gets at this step (0 = not modelled)."""
    if period < 8 * step:
        return 0
    return int(min(max_slots, period // step))


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

    # -- prediction ----------------------------------------------------------------
    @staticmethod
    def _slot(st: dict[str, np.ndarray], t: int, period: int, n_slots: int) -> Slot:
        """Profile slot of time ``t``: one column for all series, or one per series with clock offsets."""
        if n_slots == 0:
            return None
        off = st["b.offset"]
        if not off.any():
            return int((t % period) * n_slots // period)
        return ((t + off) % period) * n_slots // period

    @staticmethod
    def _get(profile: np.ndarray, slot: Slot) -> np.ndarray:
        if slot is None:
            return np.zeros(len(profile))
        if isinstance(slot, int):
            return profile[:, slot].astype(np.float64)
        return profile[np.arange(len(profile)), slot].astype(np.float64)

    @staticmethod
    def _add(profile: np.ndarray, slot: Slot, delta: np.ndarray) -> None:
        if slot is None:
            return
        if isinstance(slot, int):
            profile[:, slot] += delta.astype(np.float32)
        else:
            profile[np.arange(len(profile)), slot] += delta.astype(np.float32)

    def components(self, st: dict[str, np.ndarray], t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, Slot, Slot]:
        """Daily and weekly profile values at ``t``, the chosen model (0, 1, 2) per series, and the slots."""
        d_slot = self._slot(st, t, DAY, self.n_daily)
        w_slot = self._slot(st, t, WEEK, self.n_weekly)
        daily = self._get(st["b.daily"], d_slot)
        weekly = self._get(st["b.weekly"], w_slot)
        model = np.argmin(st["b.err"] * self.bias, axis=1)
        return daily, weekly, model, d_slot, w_slot

    def expected(self, st: dict[str, np.ndarray], t: int) -> tuple[np.ndarray, np.ndarray]:
        """Expected value and the seasonal part in use, per series."""
        daily, weekly, model, _, _ = self.components(st, t)
        season = np.where(model >= 1, daily, 0.0) + np.where(model >= 2, weekly, 0.0)
        return np.where(model == 0, st["b.local"], st["b.level"] + season), season

    def scale(self, st: dict[str, np.ndarray]) -> np.ndarray:
        """Residual scale with a floor (relative to the level) for near-constant series."""
        floor = 1e-9 + 1e-6 * np.abs(st["b.level"]) + self.rough_floor * st["b.rough"]
        return np.maximum(_nan0(st["b.scale"]), floor)

    # -- learning ------------------------------------------------------------------
    def learn(self, st: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        """Learn one step; ``weight`` (0..1) gates the guarded memories only."""
        seen = ~np.isnan(x)
        if not seen.any():
            return
        x0 = np.where(seen, x, 0.0)
        daily, weekly, model, d_slot, w_slot = self.components(st, t)
        season = np.where(model >= 1, daily, 0.0) + np.where(model >= 2, weekly, 0.0)
        fresh = seen & np.isnan(st["b.local"])
        if fresh.any():  # first value of a series: start every memory there
            for k in ("b.local", "b.level", "b.slow", "b.fast", "b.mid"):
                st[k][fresh] = x0[fresh]
        local, level, n = st["b.local"], st["b.level"], st["b.n"]
        w = np.where(seen, weight, 0.0)
        lim = np.where(n >= self.warmup, self.clip * self.scale(st), np.inf)  # no clipping while the scale is unknown
        warm = 1.0 / (n + 1.0)
        # candidate errors (only for what the guard accepts)
        r_season = x0 - level - daily - weekly
        err = np.abs(np.stack([x0 - local, x0 - level - daily, r_season], axis=1))
        a_sel = (np.maximum(self.alpha_select, warm) * w)[:, None]
        st["b.err"] += a_sel * (np.minimum(err, lim[:, None]) - st["b.err"])
        # residual scale of the model in use
        resid = np.abs(x0 - np.where(model == 0, local, level + season))
        prev = _nan0(st["b.scale"])
        a_sc = np.maximum(self.alpha_scale, 1.0 / np.maximum(n, 1.0)) * w
        new_scale = np.where(n > 1, prev + a_sc * (np.minimum(resid, lim) - prev), resid)
        st["b.scale"] = np.where((w > 0) & ~fresh, new_scale, st["b.scale"])
        # guarded memories, robust to outliers: a local level, and a slow level + profiles
        st["b.local"] = local + np.maximum(self.alpha_local, warm) * w * np.minimum(np.maximum(x0 - local, -lim), lim)
        r_s = np.minimum(np.maximum(r_season, -lim), lim)
        st["b.level"] = level + np.maximum(self.alpha_level, warm) * w * r_s
        # profiles: the first cycles are averaged, then exponentially weighted; the weekly
        # profile learns only what the daily one (just updated) leaves
        if self.n_daily:
            d_step = self._season_rate(n, DAY, self.n_daily) * w * r_s
            self._add(st["b.daily"], d_slot, d_step)
            r_s = r_s - d_step
        if self.n_weekly:
            self._add(st["b.weekly"], w_slot, self._season_rate(n, WEEK, self.n_weekly) * w * r_s)
        deseason = x0 - season
        a_sl = np.maximum(self.alpha_slow, warm) * w
        st["b.slow"] += a_sl * np.minimum(np.maximum(deseason - st["b.slow"], -lim), lim)
        # fast memories learn everything that was seen
        st["b.fast"] += np.where(seen, np.maximum(self.alpha_fast, warm), 0.0) * (deseason - st["b.fast"])
        st["b.mid"] += np.where(seen, np.maximum(self.alpha_mid, warm), 0.0) * (deseason - st["b.mid"])
        # roughness: unguarded mean |step change|, a floor for the scale of spiky, mostly flat series
        jump = x0 - st["b.last"]
        known = seen & ~np.isnan(jump)
        st["b.rough"] += np.where(known, self.alpha_scale, 0.0) * (np.abs(np.where(known, jump, 0.0)) - st["b.rough"])
        st["b.last"] = np.where(seen, x0, st["b.last"])
        st["b.n"] = n + seen

    def _season_rate(self, n: np.ndarray, period: int, n_slots: int) -> np.ndarray:
        """Learning rate of a profile slot: a running mean over the first cycles, then ``alpha_season``."""
        per_slot = period / (n_slots * self.step)  # points that fall in one slot per cycle
        cycles = (n * self.step) // period
        return np.maximum(self.alpha_season, 1.0 / (cycles + 1.0)) / per_slot

    def rebase(self, st: dict[str, np.ndarray], mask: np.ndarray) -> None:
        """Accept a sustained shift: re-anchor the guarded memories of the model in use to the fast one.

        ``fast`` follows the series as the model in use sees it (raw for the
        local level, de-seasonalised otherwise), so only that model's level
        moves: a daily swing seen before its profile is learned must not drag
        the seasonal level along.
        """
        seasonal = np.argmin(st["b.err"] * self.bias, axis=1) >= 1
        for k in ("b.slow", "b.mid"):
            st[k][mask] = st["b.fast"][mask]
        st["b.local"][mask & ~seasonal] = st["b.fast"][mask & ~seasonal]
        st["b.level"][mask & seasonal] = st["b.fast"][mask & seasonal]
