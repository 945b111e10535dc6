"""Decision calibration: turn a calibrated score into "rare *for this series*, and new".

The inner detector's ``score`` is one minus a tail probability under its
learned normal.  On real fleets a 1-in-10**4 score is routine for a bursty
counter and unheard of for a smooth gauge, and one event (a level shift, a
slow ramp) keeps scoring high for many steps.  This wrapper, taken from the
NAB R&D recipe (``/work/team/nablab``, stages 3-5), fixes both without
touching the model:

1. surprise in decades, ``L = -log10(1 - score)`` (capped at ``max_L``);
2. per-series calibration: a stochastic quantile tracker ``qL`` of ``L`` at
   level ``q`` (up ``eta`` on every exceedance, down ``eta * (1 - q)``
   otherwise), so ``Lrel = max(L - qL, 0)`` is how far beyond the series'
   own 1-in-``1/(1-q)`` level a point is.  It also raises the bar after each
   detection: repeated similar bursts stop alarming.  ``qL`` starts at
   ``start`` decades: it climbs ``eta`` per exceedance, so from 0 it needs
   ~``B / eta`` exceedances to reach a calibrated inner's level ``B`` and
   until then reports more often than ``1 - q`` (see the caveat below).
   The default 2 (the inner's own 1-in-100 level) was chosen on NAB among
   0, 2, 3: default decisions 45.7 / 50.1 / 38.0 standard;
3. refractory envelope: ``Lrel`` is reported only when
   ``Lrel > env_gain * env``, ``env = max(env_decay * env, Lrel)``, so one
   event gives one detection while a clearly bigger later one still fires;
4. warm-up: nothing is reported before ``n_warm`` scored samples.

Output in decades ``D`` (``score = 1 - 10**-D``): reported points get
``D = B + Lrel`` with ``B = -log10(1 - q)`` (4 for q = 0.9999), every other
point ``D = 0.999 * min(L, B) < B``.  So ``score > q`` exactly on reported
points: ``q`` is the a-priori decision threshold.  ``expected``, ``lower``,
``upper`` and ``members`` are the inner detector's, unchanged (the band is
still the inner model's band, not the decision boundary).

Caveat: the output is a *decision* scale, not a tail probability.  Below
``q`` it keeps the inner's ranking (``D = 0.999 * min(L, B)``), but above
``q`` the rate of ``score >= t`` is the report rate, which on clean data
exceeds ``1 - q`` while ``qL`` is still climbing (measured in the team
notes); the ensemble's own refractory and this envelope both act, so an
event gives one high score, not a run of them.

The wrapper's state lives next to the inner's in one ``state_`` dict (keys
``lk.*``), as :class:`~sentinel.detect.guard.Guard` does, so checkpoints
(:mod:`sentinel.detect.persist`) and ``set_state`` keep working.

>>> import numpy as np
>>> from sentinel.detect.ensemble import Ensemble
>>> from sentinel.detect.guard import Guard
>>> from sentinel.series import Batch
>>> x = np.random.default_rng(0).normal(10, 1, 900)
>>> x[700] += 25.0
>>> det = Likelihood(Guard(Ensemble(step=60)))
>>> s = det.process(Batch.from_rows([{}], np.arange(900) * 60, x[None, :])).score[0]
>>> bool(s[700] > 0.9999), bool((s[:150] > 0.9999).any())
(True, False)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sentinel.detect.base import OnlineDetector, StepScores
from sentinel.detect.guard import surprise
from sentinel.series import Batch


class Likelihood(OnlineDetector):
    """Wrap an online detector; report each series' own rare, new events above ``q``."""

    name: ClassVar[str] = "likelihood"

    def __init__(
        self,
        inner: OnlineDetector,
        q: float = 0.9999,
        eta: float = 0.05,
        env_decay: float = 0.99,
        env_gain: float = 1.3,
        n_warm: int = 150,
        max_L: float = 15.0,
        start: float = 2.0,
    ) -> None:
        super().__init__()
        if not 0.5 < q < 1 - 1e-12:
            raise ValueError("likelihood needs 0.5 < q < 1 - 1e-12")
        if eta <= 0 or not 0 <= env_decay < 1 or env_gain < 1 or n_warm < 0 or max_L <= 0 or start < 0:
            raise ValueError("likelihood needs eta > 0, 0 <= env_decay < 1, env_gain >= 1, n_warm >= 0, max_L > 0, "
                             "start >= 0")
        self.inner = inner
        self.q = q
        self.eta = eta
        self.env_decay = env_decay
        self.env_gain = env_gain
        self.n_warm = n_warm
        self.max_L = max_L
        self.start = start
        self._base = float(-np.log10(1.0 - q))
        self.index_ = inner.index_

    def get_params(self) -> dict[str, Any]:
        return {"q": self.q, "eta": self.eta, "env_decay": self.env_decay, "env_gain": self.env_gain,
                "n_warm": self.n_warm, "max_L": self.max_L, "start": self.start}

    def _on_batch(self, batch: Batch) -> None:
        self.inner._on_batch(batch)

    def _rebase(self, state: dict[str, np.ndarray], mask: np.ndarray) -> None:
        self.inner._rebase(state, mask)

    def _init_state(self, n: int) -> dict[str, np.ndarray]:
        st = self.inner._init_state(n)
        st["lk.q"] = np.full(n, float(self.start))  # quantile of L at level q (decades)
        st["lk.env"] = np.zeros(n)  # refractory envelope of Lrel
        st["lk.n"] = np.zeros(n, dtype=np.int64)  # scored samples so far
        st["lk.L"] = np.full(n, np.nan)  # L of the last scored step (NaN: no score)
        st["lk.t"] = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        return st

    def _relative(self, state: dict[str, np.ndarray], L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ok, Lrel): Lrel is 0 where L is missing or the series is still warming up."""
        ok = np.isfinite(L)
        warm = state["lk.n"] + ok > self.n_warm
        return ok, np.where(ok & warm, np.maximum(np.nan_to_num(L) - state["lk.q"], 0.0), 0.0)

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        out = self.inner._score_step(state, t, x)
        L = surprise(out.score, self.max_L)
        ok, rel = self._relative(state, L)
        report = rel > self.env_gain * state["lk.env"]
        D = np.where(report, self._base + rel, 0.999 * np.minimum(np.nan_to_num(L), self._base))
        state["lk.L"] = L
        state["lk.t"][:] = t
        score = np.where(ok, -np.expm1(-D * np.log(10.0)), np.nan)
        return StepScores(score, out.expected, out.lower, out.upper, out.members)

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        if (state["lk.t"] != t).any():  # learn() without score(): judge the point first
            self._score_step(state, t, x)
        L = state["lk.L"]
        ok, rel = self._relative(state, L)
        step = self.eta * ((state["lk.q"] < L) - (1.0 - self.q))
        state["lk.q"] = np.where(ok, state["lk.q"] + weight * step, state["lk.q"])
        state["lk.env"] = np.maximum(state["lk.env"] * self.env_decay, rel)
        state["lk.n"] = state["lk.n"] + ok
        self.inner._learn_step(state, t, x, weight)
