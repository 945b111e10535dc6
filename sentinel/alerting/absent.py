"""The ``absent`` alert: a series that stops reporting is an incident (a silent agent), not a quiet one.

A series is *absent* once it has had a value and then none for ``absent_for``; it is *back* at its next
value.  A series can go silent in two ways, and both raise the alert:

- the source still returns it, with missing values (the simulator's silent agent, a scrape that fails
  while its target stays listed): the per-step check sees the gap (:func:`step`);
- the source stops returning it at all.  A real Prometheus leaves out of a range query's result every
  series with no sample in the range, so a dead agent's series vanish from the batch
  (:class:`sentinel.sources.base.Source`).  The policy knows every series it has seen, so after each
  batch the known series it did not carry are checked too (:func:`missing`); each fires at the first
  grid time at or after its last value + ``absent_for``.  Before session 11 only the first way raised
  the alert: against a real Prometheus a dead agent never did.

A series forgotten by retention (:mod:`sentinel.retention`) leaves the policy, and the daemon's reconcile
resolves its absent alert.

>>> import numpy as np
>>> st = {"last_seen": np.array([0, 0]), "absent": np.zeros(2, bool), "absent_at": np.full(2, NEVER)}
>>> ts = np.array([600, 660, 720])
>>> rows, at = missing(st, np.array([0]), ts, absent_for=660)  # row 1 is not in the batch
>>> rows.tolist(), at.tolist(), st["absent"].tolist()
([1], [660], [False, True])
"""

from __future__ import annotations

import numpy as np

NEVER = np.iinfo(np.int64).min


def step(st: dict[str, np.ndarray], t: int, absent_for: int) -> tuple[np.ndarray, np.ndarray]:
    """Advance through the column at ``t``: ``(rows absent from now, rows back now)``.

    Call :func:`seen` first; the rows back keep their ``absent_at`` (the episode's start).
    """
    known = st["last_seen"] != NEVER
    gone = known & (t - st["last_seen"] >= absent_for)
    new_gone, back = gone & ~st["absent"], ~gone & st["absent"]
    st["absent_at"] = np.where(new_gone, t, st["absent_at"])
    st["absent"] = gone
    return np.flatnonzero(new_gone), np.flatnonzero(back)


def seen(st: dict[str, np.ndarray], t: int, x: np.ndarray) -> None:
    """Record the values of column ``x`` at ``t`` (every policy keeps this, with or without ``absent_for``)."""
    st["last_seen"] = np.where(~np.isnan(x), t, st["last_seen"])


def missing(st: dict[str, np.ndarray], rows: np.ndarray, timestamps: np.ndarray,
            absent_for: int) -> tuple[np.ndarray, np.ndarray]:
    """Known series outside ``rows`` (the batch's) silent for ``absent_for`` by the batch's end: mark them absent.

    Returns ``(rows, at)``: the series that go absent and the first grid time at or after their last value
    + ``absent_for`` (the batch's first time for one silent since before it).
    """
    out = np.ones(len(st["absent"]), dtype=bool)
    out[rows] = False
    due = st["last_seen"] + absent_for
    gone = np.flatnonzero(out & (st["last_seen"] != NEVER) & ~st["absent"] & (due <= timestamps[-1]))
    at = timestamps[np.searchsorted(timestamps, due[gone])]
    st["absent"][gone] = True
    st["absent_at"][gone] = at
    return gone, at
