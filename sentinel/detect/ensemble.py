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
   alert says which fired) and the band ``expected +- band * scale``.

Learning (``_learn_step``) is gated by a per-series weight: the guard
(:mod:`sentinel.detect.guard`) decides what the baseline and the members may
learn; the calibrators learn every point with at least ``cal_floor`` weight
(1.0 by default: what a series' tail looks like includes its rare events).

Defaults (members residual, change, range; refractory 48; episode floor 2.5)
were chosen on the NAB corpus as a whole (``benchmarks/nab.py``), never per file.

The sampling step is learned from the first batch unless given, since the
seasonal slots depend on it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sentinel.detect.base import OnlineDetector, StepScores
from sentinel.detect.baseline import SeasonalBaseline
from sentinel.detect.calibrate import TailCalibrator
from sentinel.detect.members import ChangeMember, Member, RangeMember, ResidualMember, VolatilityMember
from sentinel.series import Batch

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
        prior: tuple[float, float, float] = (10.0, 2.0, 4.0),
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
        self._cal = TailCalibrator(prefix="cal", half_life=half_life, stride=stride, prior_weight=prior[0],
                                   prior_scale=prior[1], prior_power=prior[2])
        self.base_: SeasonalBaseline | None = None if step is None else SeasonalBaseline(step, **self.baseline)
        self._cache: tuple | None = None
        self._peak_decay = 0.5 ** (1.0 / refractory) if refractory else 0.0

    def get_params(self) -> dict[str, Any]:
        return {
            "step": self.step, "members": self.members, "band": self.band, "half_life": self.half_life,
            "cal_floor": self.cal_floor, "stride": self.stride, "baseline": self.baseline,
            "refractory": self.refractory, "episode_floor": self.episode_floor, "prior": self.prior,
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
        return st

    def _evidence(self, st: dict[str, np.ndarray], t: int, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """Expected value, member statistics (series x members), member p-values, combined p."""
        assert self.base_ is not None
        if self._cache is not None and self._cache[0] == t and self._cache[1] is x:
            return self._cache[2:]
        expected, season = self.base_.expected(st, t)
        stats = np.stack([m.statistic(st, self.base_, x, expected, season) for m in self._members], axis=1)
        pvals = self._cal.pvalue(st, stats)
        p = np.minimum(1.0, pvals.shape[1] * np.fmin.reduce(pvals, axis=1))
        p = np.where(np.isnan(p) & ~np.isnan(x), 1.0, p)  # warming up: seen, not judged
        self._cache = (t, x, expected, stats, pvals, p)
        return expected, stats, pvals, p

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        assert self.base_ is not None
        expected, _, pvals, p = self._evidence(state, t, x)
        if self.refractory:
            # an ongoing episode only scores what exceeds its (decaying) peak surprise
            q = -np.log10(np.maximum(p, 1e-300))
            p = 10.0 ** -(q - np.minimum(q, state["e.peak"]))
        members = {m: 1.0 - pvals[:, i] for i, m in enumerate(self.members)}
        half = self.band * self.base_.scale(state)
        return StepScores(1.0 - p, expected, expected - half, expected + half, members)

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        assert self.base_ is not None
        _, stats, _, p = self._evidence(state, t, x)
        self._cal.learn(state, stats, np.maximum(weight, self.cal_floor))
        for i, m in enumerate(self._members):
            m.learn(state, stats[:, i], weight)
            if isinstance(m, RangeMember):
                m.learn_value(state, x, weight)
        self.base_.learn(state, t, x, weight)
        if self.refractory:
            q = -np.log10(np.maximum(np.where(np.isnan(p), 1.0, p), 1e-300))
            state["e.peak"] = np.maximum(state["e.peak"] * self._peak_decay, np.where(q >= self.episode_floor, q, 0.0))
        self._cache = None

    def _rebase(self, state: dict[str, np.ndarray], mask: np.ndarray) -> None:
        assert self.base_ is not None
        self.base_.rebase(state, mask)
