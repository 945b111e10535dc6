"""The ``drift`` alert's state: the detector's drift condition, held for ``for``, raised and resolved.

Why a condition of its own and not the anomaly alert: a slow drift (a
latency creeping up over hours, a daily cycle that stopped) has no run of
high scores for ``for`` to wait on, and its value sits inside the band the
baseline follows it with, so the anomaly alert's breach never lasts.  The
detector says per point whether the series' recent level is beyond every
level it held over the past days (:attr:`sentinel.detect.base.Scores.drift`,
:mod:`sentinel.detect.drift`); the policy raises a ``drift`` alert once
that has held for the watch's ``drift`` duration (the embedded default:
15 minutes; at least ``for``) on the harmful side, with a big enough
excess (``min_deviation``), and resolves it when it stops holding (the
level came back, or held long enough to be the new normal).  A drift is
slow by nature, so waiting a quarter of an hour costs little, and it
keeps out the short level's brief excursions (a cluster of routine spikes
on a flat series: the shapes benchmark's clean ``spiky`` twins raised 0.96
alerts per series-week with ``for: 2m`` alone).  Missing values hold the
state, as they do for ``stuck``.

>>> import numpy as np
>>> st = init_state(1)
>>> one = np.array([True])
>>> [step(st, t, np.array([v]), one, 60)[0].tolist() for t, v in [(0, 0.0), (60, 2.0), (120, 2.5)]]
[[], [], [0]]
>>> _, summary, description = texts("firing", "w", (("a", "1"),), 2.5, 12.0, st, 0, 120)
>>> summary
'w: {a="1"} has drifted up to a level not seen in days'
>>> description.split(", ")[2:4]
['2.5 beyond the highest it held in the past days (about 9.5)', 'for 1m; a slow change']
>>> [step(st, t, np.array([0.0]), one, 60)[1].tolist() for t in (180, 240)]
[[], [0]]
"""

from __future__ import annotations

import numpy as np

from sentinel.config import format_duration
from sentinel.series import Labels, format_labels

NEVER = np.iinfo(np.int64).min
STATE = ("drift", "drift_since", "drift_at", "drift_calm")
"""The policy state this module keeps (a checkpoint from before it lacks them: they start fresh)."""


def init_state(n: int) -> dict[str, np.ndarray]:
    """State of ``n`` new series: no drift."""
    return {
        "drift": np.zeros(n, dtype=bool),  # the drift alert is firing
        "drift_since": np.full(n, NEVER, dtype=np.int64),  # the condition has held since (pending or firing)
        "drift_at": np.full(n, NEVER, dtype=np.int64),  # the firing alert's start
        "drift_calm": np.full(n, NEVER, dtype=np.int64),  # the firing alert's condition has not held since
    }


def step(st: dict[str, np.ndarray], t: int, excess: np.ndarray, ok: np.ndarray,
         hold: float) -> tuple[np.ndarray, np.ndarray]:
    """Advance through one step at ``t``; ``(rows that fire, rows that resolve)``.

    ``excess``: the detector's drift condition (signed excess, 0 none, NaN
    missing); ``ok``: the excess is on the harmful side and big enough;
    ``hold``: seconds the condition must hold before the alert fires, and
    stop holding before it resolves (a level hovering at the bound of the
    levels held before would otherwise page again and again).
    """
    on = (excess != 0.0) & ~np.isnan(excess) & ok
    off = ~on & ~np.isnan(excess)  # NaN (missing): neither, so the state holds
    st["drift_since"] = np.where(on & (st["drift_since"] == NEVER), t, st["drift_since"])
    st["drift_since"] = np.where(off, NEVER, st["drift_since"])
    fire = on & ~st["drift"] & (t - st["drift_since"] >= hold)
    st["drift_calm"] = np.where(off & st["drift"] & (st["drift_calm"] == NEVER), t, st["drift_calm"])
    st["drift_calm"] = np.where(on, NEVER, st["drift_calm"])
    resolve = off & st["drift"] & (t - st["drift_calm"] >= hold)
    st["drift_calm"] = np.where(resolve, NEVER, st["drift_calm"])
    st["drift_at"] = np.where(fire, t, st["drift_at"])
    st["drift"] = (st["drift"] | fire) & ~resolve
    return np.flatnonzero(fire), np.flatnonzero(resolve)


def texts(status: str, watch: str, labels: Labels, excess: float, expected: float, st: dict[str, np.ndarray],
          i: int, t: int) -> tuple[int, str, str]:
    """``(starts_at, summary, description)`` of a drift alert transition of row ``i`` (after :func:`step`).

    The bound it drifted from is the expected value less the excess: on a
    slow drift the expected value, which follows it, is about the level.
    """
    who = format_labels(labels)
    began = int(st["drift_at"][i])
    if status == "firing":
        way, bound = ("up", "highest") if excess > 0 else ("down", "lowest")
        return began, f"{watch}: {who} has drifted {way} to a level not seen in days", (
            f"{who}: its level (30-minute mean, daily cycle taken out) has drifted {way}, {abs(excess):.4g} beyond "
            f"the {bound} it held in the past days (about {expected - excess:.4g}), for "
            f"{format_duration(t - int(st['drift_since'][i]))}; a slow change, which the anomaly band follows.")
    return began, f"{watch}: {who} no longer drifting", (
        f"{who}: its level is back within the levels it held before, or has held long enough to be its new "
        f"normal, after {format_duration(t - began)}.")
