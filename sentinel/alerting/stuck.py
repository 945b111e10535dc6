"""The ``stuck`` alert's state: the detector's stuck condition, held for ``for``, raised and resolved.

A series that repeats one value far longer than it ever has (a frozen exporter, a hung agent
re-reporting its last gauge) is stuck while the detector's condition holds
(:attr:`~sentinel.detect.base.Scores.stuck`, :mod:`sentinel.detect.stuck`); the alert fires once it has
held for ``for`` and resolves at the first value that differs.  Missing values hold the state.  Kept
apart from :mod:`sentinel.alerting.policy`, as :mod:`sentinel.alerting.drift` is.

>>> st = init_state(1)
>>> [step(st, t, np.array([1.0]), np.array([h]), 60)[0].tolist() for t, h in [(0, 1.0), (60, 1.0)]]
[[], [0]]
>>> texts("firing", "w", (("a", "1"),), 1.0, 1.0, 0, 60)[1].split(",")[0]
'{a="1"}: value 1 unchanged for 1m'
>>> texts("resolved", "w", (("a", "1"),), 2.0, 1.0, 0, 60)[1]
'{a="1"}: value changed from 1 to 2 after 1m unchanged.'
"""

from __future__ import annotations

import numpy as np

from sentinel.config import format_duration
from sentinel.series import Labels, format_labels

NEVER = np.iinfo(np.int64).min
STATE = ("stuck", "stuck_since", "stuck_at", "run_value", "run_from")
"""State of the ``stuck`` alert (a checkpoint from before it lacks them: they start fresh)."""


def init_state(n: int) -> dict[str, np.ndarray]:
    never = np.full(n, NEVER, dtype=np.int64)
    return {
        "stuck": np.zeros(n, dtype=bool),
        "stuck_since": never.copy(),  # the stuck condition has held since (pending or firing)
        "stuck_at": never.copy(),  # the firing stuck alert's start
        "run_value": np.full(n, np.nan),  # the last value seen ...
        "run_from": never.copy(),  # ... first seen at (for the alert's text)
    }


def step(st: dict[str, np.ndarray], t: int, x: np.ndarray, held: np.ndarray,
         for_: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Advance through values ``x`` and the condition ``held`` (1, 0, NaN) at ``t``.

    Returns ``(rows firing, rows resolving, run start and value before this column)``.
    """
    was, before = st["run_from"], st["run_value"]  # the run a changed value ends (np.where makes new arrays)
    seen = ~np.isnan(x)
    st["run_from"] = np.where(seen & (x != before), t, was)
    st["run_value"] = np.where(seen, x, before)
    on, off = held == 1.0, held == 0.0  # NaN (missing): neither, so the state holds
    st["stuck_since"] = np.where(on & (st["stuck_since"] == NEVER), t, st["stuck_since"])
    st["stuck_since"] = np.where(off, NEVER, st["stuck_since"])
    fire = on & ~st["stuck"] & (t - st["stuck_since"] >= for_)
    resolve = off & st["stuck"]
    st["stuck_at"] = np.where(fire, t, st["stuck_at"])
    st["stuck"] = (st["stuck"] | fire) & ~resolve
    return np.flatnonzero(fire), np.flatnonzero(resolve), was, before


def texts(status: str, watch: str, labels: Labels, value: float, before: float, since: int,
          t: int) -> tuple[str, str]:
    """Summary and description of a transition at ``t``: ``value`` now, ``before`` it, the run ``since``."""
    who = format_labels(labels)
    if status == "firing":
        return (f"{watch}: {who} is stuck at {value:.4g}",
                f"{who}: value {value:.4g} unchanged for {format_duration(t - since)}, a run of one value far "
                "longer than any this series had shown (a frozen exporter, or an agent re-reporting its last "
                "value?).")
    return (f"{watch}: {who} is stuck at {before:.4g}",
            f"{who}: value changed from {before:.4g} to {value:.4g} after {format_duration(t - since)} unchanged.")
