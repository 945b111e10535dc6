"""What a detector may learn: the guard (DESIGN §2).

Detectors learn with a per-series weight; this wrapper decides it, so no
model has to know about anomalies (river's anomaly filters do the same).

- A point scored below ``learn_below`` is learned fully; above ``skip_above``
  not at all; in between the weight falls off linearly in surprise
  (``-log10(1 - score)``).  The baseline is therefore not poisoned by the
  spike it just flagged.
- A *sustained* change is a new normal, not an endless anomaly: once a series
  has been held out for ``relearn_after`` consecutive steps, the guard calls
  the detector's ``_rebase`` (re-anchor the baseline to its fast memory) and
  learns again, so after a real level shift the alarm lasts minutes, not days.
- The guard judges the score the detector reports.  With the ensemble's
  episode suppression (``refractory``) that score falls back right after an
  alarm, so the rest of an event is learned at once: post-detection
  re-learning.  On NAB this beats judging the unsuppressed evidence (50.3 vs
  47.2 standard, corpus-optimised), because most labelled events are new
  regimes rather than isolated glitches; the flagged point itself is never
  learned.

>>> import numpy as np
>>> from sentinel.detect.ensemble import Ensemble
>>> from sentinel.series import Batch
>>> det = Guard(Ensemble(step=60))
>>> x = np.r_[np.random.default_rng(1).normal(10, 1, 600), np.random.default_rng(2).normal(30, 1, 200)]
>>> s = det.process(Batch.from_rows([{}], np.arange(800) * 60, x[None, :])).score[0]
>>> bool(s[600] > 0.999), bool((s[650:] < 0.99).mean() > 0.95)
(True, True)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sentinel.detect.base import OnlineDetector, StepScores
from sentinel.series import Batch


def surprise(score: np.ndarray, cap: float = 12.0) -> np.ndarray:
    """``-log10(1 - score)``, the score in decades: 2 at 0.99, 3 at 0.999 (capped at ``cap``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(-np.log10(np.maximum(1.0 - score, 10.0**-cap)), cap)


class Guard(OnlineDetector):
    """Wrap an online detector and decide, per series and step, how much it learns."""

    name: ClassVar[str] = "guard"

    def __init__(
        self,
        inner: OnlineDetector,
        learn_below: float = 0.99,
        skip_above: float = 0.999,
        relearn_after: int = 10,
    ) -> None:
        super().__init__()
        if not 0 < learn_below < skip_above < 1:
            raise ValueError("guard needs 0 < learn_below < skip_above < 1")
        if relearn_after < 1:
            raise ValueError("relearn_after must be at least 1 step")
        self.inner = inner
        self.learn_below = learn_below
        self.skip_above = skip_above
        self.relearn_after = relearn_after
        self._lo = float(surprise(np.array(learn_below)))
        self._hi = float(surprise(np.array(skip_above)))
        self.index_ = inner.index_

    def get_params(self) -> dict[str, Any]:
        return {"learn_below": self.learn_below, "skip_above": self.skip_above, "relearn_after": self.relearn_after}

    def _on_batch(self, batch: Batch) -> None:
        self.inner._on_batch(batch)

    def _init_state(self, n: int) -> dict[str, np.ndarray]:
        st = self.inner._init_state(n)
        st["g.run"] = np.zeros(n, dtype=np.int64)
        st["g.last"] = np.zeros(n)
        st["g.t"] = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        return st

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        out = self.inner._score_step(state, t, x)
        state["g.last"] = np.nan_to_num(out.score, nan=0.0)
        state["g.t"][:] = t
        return out

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        if (state["g.t"] != t).any():  # learn() without score(): judge the point first
            self._score_step(state, t, x)
        q = surprise(state["g.last"])
        w = np.minimum(np.maximum((self._hi - q) / (self._hi - self._lo), 0.0), 1.0)
        seen = np.isfinite(x)
        held = seen & (w < 0.5)
        run = np.where(held, state["g.run"] + 1, np.where(seen, 0, state["g.run"]))
        shifted = run >= self.relearn_after
        if shifted.any():
            self.inner._rebase(state, shifted)
            run = np.where(shifted, 0, run)
            w = np.where(shifted, 1.0, w)
        state["g.run"] = run
        self.inner._learn_step(state, t, x, w * weight)
