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

import math
from typing import Any, ClassVar, NamedTuple

import numpy as np

from sentinel.detect.base import OnlineDetector
from sentinel.detect.jit import kernel
from sentinel.detect.scores import Scores, StepScores
from sentinel.series import Batch


def surprise(score: np.ndarray, cap: float = 12.0) -> np.ndarray:
    """``-log10(1 - score)``, the score in decades: 2 at 0.99, 3 at 0.999 (capped at ``cap``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(-np.log10(np.maximum(1.0 - score, 10.0**-cap)), cap)


class Params(NamedTuple):
    """The guard's constants, for the kernels (``m_*``: the surprise bounds as tail probabilities)."""

    lo: float
    hi: float
    m_lo: float  # 1 - score at or above this: surprise <= lo, weight 1
    m_hi: float  # at or below this: surprise >= hi, weight 0
    cap: float
    m_cap: float  # 10**-cap
    relearn_after: int


@kernel(inline=False)
def weight_one(g: Params, last: float, x: float, run: int) -> tuple:
    """``(weight, run, shifted)`` for a series whose last score was ``last`` and whose value is ``x``."""
    m = max(1.0 - last, g.m_cap)
    if m >= g.m_lo:
        w = 1.0
    elif m <= g.m_hi:
        w = 0.0
    else:
        q = min(-math.log10(m), g.cap)
        w = min(max((g.hi - q) / (g.hi - g.lo), 0.0), 1.0)
    seen = math.isfinite(x)
    run = run + 1 if (seen and w < 0.5) else (0 if seen else run)
    shifted = run >= g.relearn_after
    if shifted:
        return 1.0, 0, True
    return w, run, False


@kernel
def _weights_all(g: Params, last: np.ndarray, x: np.ndarray, run: np.ndarray, w: np.ndarray,
                 shifted: np.ndarray) -> None:
    for i in range(len(x)):
        w[i], run[i], shifted[i] = weight_one(g, last[i], x[i], run[i])


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
        # the weight is exactly 1 (0) beyond these bounds, so most points need no logarithm
        self.params = Params(self._lo, self._hi, 10.0**-self._lo * (1 + 1e-9), 10.0**-self._hi * (1 - 1e-9), 12.0,
                             10.0**-12.0, int(relearn_after))
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
        n = len(x)
        w, shifted = np.empty(n), np.empty(n, dtype=np.bool_)
        _weights_all(self.params, state["g.last"], np.ascontiguousarray(x, dtype=np.float64), state["g.run"], w,
                     shifted)
        if shifted.any():
            self.inner._rebase(state, shifted)
        self.inner._learn_step(state, t, x, w * weight)

    @property
    def fusable(self) -> bool:
        """Whether the inner detector runs batches compiled under this guard (the ensemble with built-in members)."""
        return getattr(self.inner, "fused_process", None) is not None and self.inner.fusable  # type: ignore[attr-defined]

    def fused_process(self, state: dict[str, np.ndarray], batch: Batch, decision: tuple | None = None) -> Scores:
        """The inner ensemble's compiled pass under this guard (``decision``: see ``Ensemble.fused_process``)."""
        return self.inner.fused_process(state, batch, self, decision)  # type: ignore[attr-defined]

    def _process_state(self, state: dict[str, np.ndarray], batch: Batch) -> Scores:
        if self.fusable:
            return self.fused_process(state, batch)
        return super()._process_state(state, batch)
