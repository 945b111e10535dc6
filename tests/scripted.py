"""Inner detectors with known outputs (a scripted surprise; nothing unusual at all), so what a wrapper above them
does is known point by point."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sentinel.detect.base import OnlineDetector
from sentinel.detect.scores import StepScores
from sentinel.series import Batch


class Scripted(OnlineDetector):
    """Surprise ``L[k]`` decades (score ``1 - 10**-L``) at each series' k-th value; ``L[i, k]`` for series ``i``
    when ``L`` is 2-D.  Expected value 0, a band wide enough to hold everything."""

    name: ClassVar[str] = "scripted"

    def __init__(self, L: np.ndarray) -> None:
        super().__init__()
        self.L = L

    def _init_state(self, n: int) -> dict[str, np.ndarray]:
        return {"sc.k": np.zeros(n, dtype=np.int64)}

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        k = state["sc.k"]
        L = self.L[k] if self.L.ndim == 1 else self.L[np.arange(len(x)), k]
        s = np.where(np.isnan(x), np.nan, -np.expm1(-L * np.log(10.0)))
        return StepScores(s, np.zeros_like(x), np.full_like(x, -1e9), np.full_like(x, 1e9))

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        state["sc.k"] += 1


class Calm(OnlineDetector):
    """An inner detector that finds nothing unusual (score 0.5 everywhere a value exists)."""

    name: ClassVar[str] = "calm"

    def _init_state(self, n: int) -> dict[str, np.ndarray]:
        return {"calm.n": np.zeros(n)}

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        s = np.where(np.isnan(x), np.nan, 0.5)
        return StepScores(s, np.zeros_like(x), np.full_like(x, -1e9), np.full_like(x, 1e9))

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        state["calm.n"] += 1


def stepwise_decades(det: OnlineDetector, x: np.ndarray, step: int) -> np.ndarray:
    """``det``'s decades ``-log10(1 - score)`` for one series' values ``x``, scored and learned one step at a time
    (what a watch's one-step cycles do), to compare with a batch ``process``."""
    got = []
    for k in range(len(x)):
        b = Batch.from_rows([{}], np.array([k * step]), x[None, k:k + 1], step=step)
        got.append(det.score(b).score[0, 0])
        det.learn(b)
    with np.errstate(divide="ignore"):
        return -np.log10(1.0 - np.array(got))


def scripted_decades(L: np.ndarray, step: int, **kw: object) -> np.ndarray:
    """Decision decades of the likelihood layer over :class:`Scripted` surprises ``L`` (series x steps), the L
    channel alone (no sequence or novelty channel), one row per series."""
    from sentinel.detect.likelihood import Likelihood

    det = Likelihood(Scripted(L), sequence=False, novelty=False, **kw)
    batch = Batch.from_rows([{"s": str(i)} for i in range(len(L))], np.arange(L.shape[1]) * step, np.zeros(L.shape))
    with np.errstate(divide="ignore"):
        return -np.log10(1.0 - det.process(batch).score)
