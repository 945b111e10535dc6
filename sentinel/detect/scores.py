"""What every detector returns: scores on one calibrated scale, with the expected value and band.

``score`` in [0, 1] is one minus the tail probability under the learned
normal (DESIGN §2), so one threshold works for every series and detector;
``expected``, ``lower`` and ``upper`` say what was expected, so an alert can
say why.  :class:`StepScores` is one time step (what an online detector's
``_score_step`` returns), :class:`Scores` a whole batch, shaped like it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class StepScores:
    """Scores of one time step, one entry per series (``members``, ``stuck``, ``drift``: as in :class:`Scores`)."""

    score: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    members: dict[str, np.ndarray] | None = None
    stuck: np.ndarray | None = None
    drift: np.ndarray | None = None


@dataclass
class Scores:
    """Scores of a batch, each array shaped (series, time) like the batch.

    ``score`` is NaN where the value was missing.  ``members`` optionally holds
    the per-member scores of an ensemble (name -> array), so an alert can say
    which members fired.  ``stuck`` is, per point, 1.0 while the series is in
    a run of one value past its stuck limit (:mod:`sentinel.detect.stuck`),
    0.0 otherwise and NaN where the value was missing; ``None`` from a
    detector without the stuck check.  It is a condition, not a report: the
    alert policy's ``stuck`` alert holds while it does.  ``drift`` is, per
    point, the signed excess of the series' recent de-seasonalised level
    beyond every level it held over the past days, where that is a drift
    (:mod:`sentinel.detect.drift`), 0.0 otherwise and NaN where the value was
    missing; ``None`` without the drift check.  A condition too: the policy's
    ``drift`` alert holds while it does.
    """

    score: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    members: dict[str, np.ndarray] | None = None
    stuck: np.ndarray | None = None
    drift: np.ndarray | None = None

    @classmethod
    def empty(cls, n_series: int, n_steps: int) -> Scores:
        # column-major: each step writes one contiguous column
        return cls(*(np.full((n_series, n_steps), np.nan, order="F") for _ in range(4)))

    def put(self, t: int, step: StepScores) -> None:
        """Store one step's scores in column ``t``."""
        self.score[:, t] = step.score
        self.expected[:, t] = step.expected
        self.lower[:, t] = step.lower
        self.upper[:, t] = step.upper
        if step.members:
            if self.members is None:
                self.members = {}
            for name, values in step.members.items():
                if name not in self.members:
                    self.members[name] = np.full(self.score.shape, np.nan, order="F")
                self.members[name][:, t] = values
        if step.stuck is not None:
            if self.stuck is None:
                self.stuck = np.full(self.score.shape, np.nan, order="F")
            self.stuck[:, t] = step.stuck
        if step.drift is not None:
            if self.drift is None:
                self.drift = np.full(self.score.shape, np.nan, order="F")
            self.drift[:, t] = step.drift
