"""The default online detector: members on one seasonal baseline, one calibrated score.

:class:`Ensemble` owns a :class:`~sentinel.detect.baseline.SeasonalBaseline`
and a list of members (:mod:`sentinel.detect.members`).  Per step it

1. predicts the expected value (level + the seasonal profiles the series uses),
2. lets every member compute its raw statistic,
3. calibrates each statistic to a two-sided tail probability ``p_i`` with that
   member's own :class:`~sentinel.detect.calibrate.TailCalibrator`,
4. combines them Bonferroni-style, ``p = min(1, k * min_i p_i)``, which keeps
   the combined score calibrated (never more alarming than its members
   justify) while one member alone can still fire,
5. scores an ongoing episode only by what exceeds its decaying peak surprise
   ``-log10 p`` (``refractory``: the peak's half-life in steps, 0 = off;
   counted from ``episode_floor`` up), so one event raises one alarm, not one
   per point, while a worsening event still scores.  A consequence for
   alerting: the score falls back soon after an onset even if the event
   lasts, so a policy that should stay firing for the whole event needs
   ``resolve_after``,
6. reports ``score = 1 - p``, each member's own score (``Scores.members``: the
   alert says which fired) and the band ``expected +- band * scale``,
7. and, with ``drift`` (on by default), the drift check's condition
   (``Scores.drift``, :mod:`sentinel.detect.drift`): whether the series'
   recent level, its daily (and, once learned, weekly) cycle taken out, is beyond every level it held
   over the past days; its memories are durations, turned into rates at the
   sampling step (:meth:`Ensemble._drift_params`).

Learning (``_learn_step``) is gated by a per-series weight: the guard
(:mod:`sentinel.detect.guard`) decides what the baseline and the members may
learn; the calibrators learn every point with at least ``cal_floor`` weight
(1.0 by default: what a series' tail looks like includes its rare events).

Defaults (members residual, change, range; refractory 48; episode floor 2.5;
``tail_power`` 0.5, the calibrators' tail past their last edge, see
:mod:`sentinel.detect.calibrate`) were chosen on the NAB corpus as a whole
(``benchmarks/nab.py``), never per file.  The calibrators' power-law prior
``(1 + z/2)^-4`` is worth 50 points (``prior[0]``; the calibrator's own
default is 10): a series' recent tail (~4,300 decayed points) is shrunk
toward a heavy-tailed belief, so a quiet spell that thinned the learned
tail does not make the next moderate deviation extremely surprising, and a
tail heavier than the prior is still learned (NAB, corpus-optimised
standard: 75.5 with neither, 75.8 with the tail power alone, 76.0 with the
prior alone, 76.7 with both; before the novelty channel's rise and ceiling
checks, prior weights 10 / 20 / 30 / 50 / 70 / 100 with the tail power gave
71.7 / 72.7 / 72.7 / 73.5 / 73.2 / 73.1).

``quiet`` (0, off, here; the default detector sets 3): a member statistic
below it in absolute value is unremarkable, p-value 1 (member score 0)
without the calibrator's tail query (:class:`~sentinel.detect.calibrate.TailCalibrator`).

The sampling step is learned from the first batch unless given, since the
seasonal slots depend on it.

Speed: with members that have a compiled kernel (all built-in ones) a step
runs in :mod:`sentinel.detect.fused`, and ``process`` (alone or under the
guard) runs a whole batch in one compiled pass; a member without a kernel
(any object following the :class:`~sentinel.detect.members.Member`
protocol) makes the ensemble run its per-step path instead, same numbers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sentinel.detect import drift, fused, pipeline
from sentinel.detect import guard as gd
from sentinel.detect import members as mb
from sentinel.detect.base import OnlineDetector
from sentinel.detect.baseline import DAY, WEEK, SeasonalBaseline
from sentinel.detect.calibrate import TailCalibrator
from sentinel.detect.members import ChangeMember, Member, RangeMember, ResidualMember, VolatilityMember
from sentinel.detect.scores import Scores, StepScores
from sentinel.series import Batch

_NO_GUARD = gd.Params(0.0, 1.0, 1.0, 0.0, 12.0, 1e-12, 1)  # placeholder for an unguarded batch
_NO_GUARD_STATE = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))

MEMBERS: dict[str, type] = {
    "residual": ResidualMember, "change": ChangeMember, "volatility": VolatilityMember, "range": RangeMember,
}


class Ensemble(OnlineDetector):
    """Seasonal baseline + calibrated members (see module doc)."""

    name: ClassVar[str] = "ensemble"

    def __init__(
        self,
        step: int | None = None,
        members: tuple[str, ...] = ("residual", "change", "range"),
        band: float = 4.0,
        half_life: float = 3000.0,
        cal_floor: float = 1.0,
        stride: int = 1,
        baseline: dict[str, Any] | None = None,
        refractory: float = 48.0,
        episode_floor: float = 2.5,
        prior: tuple[float, float, float] = (50.0, 2.0, 4.0),
        tail_power: float = 0.5,
        drift: bool = True,
        quiet: float = 0.0,
    ) -> None:
        super().__init__()
        unknown = [m for m in members if m not in MEMBERS]
        if unknown or not members:
            raise ValueError(f"unknown ensemble member(s) {unknown}: choose from {sorted(MEMBERS)}")
        self.step = step
        self.members = tuple(members)
        self.band = band
        self.half_life = half_life
        self.cal_floor = cal_floor
        self.stride = stride
        self.refractory = refractory
        self.episode_floor = episode_floor
        self.baseline = dict(baseline or {})
        self._members: list[Member] = [MEMBERS[m]() for m in self.members]
        self.prior = tuple(prior)
        self.tail_power = tail_power
        self.drift = bool(drift)
        self.quiet = quiet
        self._cal = TailCalibrator(prefix="cal", half_life=half_life, stride=stride, prior_weight=prior[0],
                                   prior_scale=prior[1], prior_power=prior[2], tail_power=tail_power, quiet=quiet)
        self.base_: SeasonalBaseline | None = None if step is None else SeasonalBaseline(step, **self.baseline)
        self._cache: tuple | None = None
        self._peak_decay = 0.5 ** (1.0 / refractory) if refractory else 0.0

    def get_params(self) -> dict[str, Any]:
        return {
            "step": self.step, "members": self.members, "band": self.band, "half_life": self.half_life,
            "cal_floor": self.cal_floor, "stride": self.stride, "baseline": self.baseline,
            "refractory": self.refractory, "episode_floor": self.episode_floor, "prior": self.prior,
            "tail_power": self.tail_power, "drift": self.drift, "quiet": self.quiet,
        }

    # -- OnlineDetector hooks ---------------------------------------------------------
    def _on_batch(self, batch: Batch) -> None:
        if self.base_ is None:
            self.step = int(batch.step)
            self.base_ = SeasonalBaseline(self.step, **self.baseline)

    def _init_state(self, n: int) -> dict[str, np.ndarray]:
        assert self.base_ is not None, "the step is known before state is created"
        st = self.base_.init_state(n)
        for m in self._members:
            st.update(m.init_state(n))
        st.update(self._cal.init_state(n, len(self._members)))
        if self.refractory:
            st["e.peak"] = np.zeros(n)
        if self.drift:
            st.update(drift.init_state(n))
        return st

    def _fill_missing(self, state: dict[str, np.ndarray]) -> None:
        """Add the baseline arrays a checkpoint written before they existed lacks (the weekly steps: none learned),
        and the drift check's; convert the calibrators' int64 counts of an older one.

        Runs before every batch, so fresh arrays are built only when a key is
        missing (building them for every series each batch cost about 0.5 %
        of a 100,000-series batch).
        """
        self._cal.fill_missing(state)
        if self.base_ is not None and "b.n" in state:
            n = len(state["b.n"])
            if not self.base_.init_state(0).keys() <= state.keys():
                for k, v in self.base_.init_state(n).items():
                    state.setdefault(k, v)
            if self.drift and not state.keys() >= set(drift.KEYS):  # from before the check: it starts fresh
                for k, v in drift.init_state(n).items():
                    state.setdefault(k, v)

    @property
    def fusable(self) -> bool:
        """Whether every member has a compiled kernel (then steps and batches run compiled)."""
        return all(hasattr(m, "kernel") for m in self._members)

    def _params(self) -> fused.Params:
        return fused.Params(float(self.band), float(self.cal_floor), bool(self.refractory), float(self._peak_decay),
                            float(self.episode_floor), 10.0**-self.episode_floor * (1 + 1e-9))

    def _kernel_args(self, st: dict[str, np.ndarray]) -> tuple:
        """State and constants in the order the kernels of :mod:`sentinel.detect.fused` take them."""
        assert self.base_ is not None
        codes = np.array([getattr(m, "kernel", -1) for m in self._members], dtype=np.int64)
        mps = np.array([m.kernel_params(self.base_) if hasattr(m, "kernel") else np.zeros(mb.N_PARAMS)
                        for m in self._members])
        da = drift.arrays(st) if self.drift else drift.empty()
        return (self.base_.arrays(st), self.base_.params, codes, mps, mb.arrays(st), self._cal.arrays(st),
                self._cal.consts, self._params(), st.get("e.peak", np.zeros(0)), da, self._drift_params())

    def _drift_params(self) -> drift.Params:
        """The drift check's constants at this sampling step (:mod:`sentinel.detect.drift`; its memories are times)."""
        assert self.base_ is not None
        step = float(self.base_.step)
        return drift.Params(alpha_short=min(1.0, step / 1800), alpha_long=min(1.0, step / 21600),  # 30 min, 6 h
                            alpha_s=min(1.0, step / 86400), forget=min(0.01, 2e-6 * step / 60),  # a day; per value
                            k=5.0, tol=0.2, clip=1.0, alpha_profile=0.5,
                            n_range=int(2 * DAY / step), n_warm=int(8 * DAY / step), step=int(step), on=self.drift,
                            alpha_week=1 / 48, alpha_ref=step / (4 * WEEK),  # per hourly visit: two weeks; 4 weeks
                            n_frame=int(2 * DAY / step), n_restart=int((2 * DAY + WEEK) / step), gate=1.0,
                            restart_w=0.1)

    def _evidence(self, st: dict[str, np.ndarray], t: int, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """Step outputs (series x [score, expected, lower, upper, members...]), member statistics, combined p."""
        assert self.base_ is not None
        if self._cache is not None and self._cache[0] == t and self._cache[1] is x:
            return self._cache[2:]
        xc = np.ascontiguousarray(x, dtype=np.float64)
        n, k = len(xc), len(self._members)
        out, praw = np.empty((n, 5 + k), order="F"), np.empty(n)  # the last column: the drift condition
        if self.fusable:
            stats = np.empty((n, k))
            fused.score_step(*self._kernel_args(st), t, xc, *self.base_.slots(t), out, stats, praw, np.empty(k))
        else:
            expected, season = self.base_.expected(st, t)
            stats = np.stack([m.statistic(st, self.base_, xc, expected, season) for m in self._members], axis=1)
            pvals = np.ascontiguousarray(self._cal.pvalue(st, stats))
            fused.finish_step(self._params(), st.get("e.peak", np.zeros(0)), xc, expected, self.base_.scale(st),
                              pvals, out, praw)
            out[:, 4 + k] = np.nan  # no drift check without the compiled step
        self._cache = (t, x, out, stats, praw)
        return out, stats, praw

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        out, _, _ = self._evidence(state, t, x)
        members = {m: out[:, 4 + i] for i, m in enumerate(self.members)}
        return StepScores(out[:, 0], out[:, 1], out[:, 2], out[:, 3], members, drift=self._drift_out(out[:, -1]))

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        assert self.base_ is not None
        _, stats, praw = self._evidence(state, t, x)
        xc = np.ascontiguousarray(x, dtype=np.float64)
        w = np.ascontiguousarray(weight, dtype=np.float64)
        if self.fusable:
            fused.learn_step(*self._kernel_args(state), t, xc, w, *self.base_.slots(t), stats, praw)
        else:
            self._cal.learn(state, stats, np.maximum(w, self.cal_floor))
            for i, m in enumerate(self._members):
                m.learn(state, stats[:, i], w)
                if isinstance(m, RangeMember):
                    m.learn_value(state, xc, w)
            self.base_.learn(state, t, xc, w)
            if self.refractory:
                fused.peak_step(self._params(), state["e.peak"], praw)
        self._cache = None

    def _process_state(self, state: dict[str, np.ndarray], batch: Batch) -> Scores:
        if self.fusable:
            return self.fused_process(state, batch, None)
        return super()._process_state(state, batch)

    def fused_process(self, state: dict[str, np.ndarray], batch: Batch, guard: Any | None,
                      decision: tuple | None = None) -> Scores:
        """Score and learn a whole batch in one compiled pass (under ``guard``, a Guard, if given).

        ``decision`` (the kernel arguments of a
        :class:`~sentinel.detect.likelihood.Likelihood` over the guard) also
        decides each series right after its ensemble steps
        (:mod:`sentinel.detect.pipeline`): the scores returned are then the decisions.
        """
        assert self.base_ is not None
        n, T, k = batch.n_series, batch.n_steps, len(self._members)
        ts = np.ascontiguousarray(batch.timestamps, dtype=np.int64)
        base = self.base_
        d_slots = (ts % DAY) * base.n_daily // DAY
        w_slots = (ts % WEEK) * base.n_weekly // WEEK
        hours, into = drift.clocks(ts)
        out = np.empty((n, T, 5 + k), order="F")  # the last column: the drift condition
        g = guard.params if guard is not None else _NO_GUARD
        g_arrays = (state["g.run"], state["g.last"], state["g.t"]) if guard is not None else _NO_GUARD_STATE
        values = np.ascontiguousarray(batch.values, dtype=np.float64)
        if decision is not None and guard is not None:
            pipeline.run_batch(*self._kernel_args(state), ts, values, d_slots, w_slots, hours, into, g, *g_arrays,
                               out, np.empty(k), np.empty(k), *decision)
        else:
            fused.run_batch(*self._kernel_args(state), ts, values, d_slots, w_slots, hours, into, guard is not None, g,
                            *g_arrays, out, np.empty(k), np.empty(k))
        self._cache = None
        members = {m: out[:, :, 4 + i] for i, m in enumerate(self.members)}
        return Scores(out[:, :, 0], out[:, :, 1], out[:, :, 2], out[:, :, 3], members,
                      drift=self._drift_out(out[:, :, -1]))

    def _drift_out(self, column: np.ndarray) -> np.ndarray | None:
        """The drift condition for :class:`~sentinel.detect.base.Scores` (None without the check or its kernels)."""
        return column if self.drift and self.fusable else None

    def _rebase(self, state: dict[str, np.ndarray], mask: np.ndarray) -> None:
        assert self.base_ is not None
        self.base_.rebase(state, mask)
