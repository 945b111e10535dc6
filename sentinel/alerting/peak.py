"""The episode's peak: the highest score of an alert episode and the members that flagged it then.

Why: the policy fires after ``for`` and holds an episode while the value
stays outside the band, but the detector reports an event at its start and
then lowers the score of the rest (it re-anchors after a lasting shift).  So
at the moment an alert fires, or resolves, the score there is usually low:
the demo's pages read ``score 0.0000`` with no member named, for a value
three half-bands above its range.  An alert carries the score that made it
an episode instead: the highest since the report that opened it, and the
ensemble members at or above the threshold at that point (issue 4's
explanations: which members fired).

- an episode opens at a breach while no alert is pending or firing; its
  first score resets the peak;
- while it is pending or firing, a higher score replaces the peak (and its
  members);
- the peak stays after the episode ends, so the resolution carries it too,
  and an alert fired by the density condition carries the score of the
  latest report among its excursions (each report outside an episode opens
  one).

Members are kept as bits (bit k: the k-th name of the detector's
``Scores.members``, whose order is the detector's own and fixed), so the
state is 12 bytes per series.

>>> import numpy as np
>>> st = init_state(2)
>>> names = ["residual", "range"]
>>> opened, active = np.array([True, False]), np.array([True, False])
>>> track(st, opened, active, np.array([0.999, 0.5]), {"residual": np.array([0.999, 0.1]),
...                                                     "range": np.array([0.2, 0.1])}, 0.99)
>>> track(st, np.array([False, False]), active, np.array([0.3, 0.5]), None, 0.99)  # lower: the peak holds
>>> float(st["peak_score"][0]), members_of(st, 0, names)
(0.999, ['residual'])
"""

from __future__ import annotations

import numpy as np

STATE = ("peak_score", "peak_members")
"""The policy state this module keeps (a checkpoint from before it lacks them: they start fresh)."""

_BITS = 32


def init_state(n: int) -> dict[str, np.ndarray]:
    """State of ``n`` new series: no episode yet (peak NaN)."""
    return {"peak_score": np.full(n, np.nan), "peak_members": np.zeros(n, dtype=np.uint32)}


def track(st: dict[str, np.ndarray], opened: np.ndarray, active: np.ndarray, score: np.ndarray,
          members: dict[str, np.ndarray] | None, threshold: float) -> None:
    """Advance the peaks through one step: ``opened`` episodes reset, ``active`` ones keep their maximum.

    ``score`` and ``members`` are this step's (one value per series; NaN where missing).
    """
    with np.errstate(invalid="ignore"):
        higher = opened | (active & (score > st["peak_score"]))
    rows = np.flatnonzero(higher & ~np.isnan(score))
    if not len(rows):
        return
    st["peak_score"][rows] = score[rows]
    bits = np.zeros(len(rows), dtype=np.uint32)
    for k, values in enumerate(list((members or {}).values())[:_BITS]):
        bits |= (values[rows] >= threshold).astype(np.uint32) << np.uint32(k)
    st["peak_members"][rows] = bits


def members_of(st: dict[str, np.ndarray], i: int, names: list[str]) -> list[str]:
    """The members (of ``names``, the detector's member names in order) that flagged row ``i``'s peak."""
    bits = int(st["peak_members"][i])
    return [name for k, name in enumerate(names[:_BITS]) if bits >> k & 1]
