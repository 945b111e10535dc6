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

An agent a fleet scales away is not a silent one.  Before the batch is decided, the runner asks the
source about the targets of the series that are absent or go absent by its end (:func:`vanished`); one
whose scrape target was removed from Prometheus' service discovery (:mod:`sentinel.sources.targets`)
raises no alert, an open one resolves saying so (:func:`event` with ``removed``), and the series is
forgotten at once rather than after ``series_retention``.  A dead target still scraped (``up == 0``),
or one the source cannot place, pages as before.

>>> import numpy as np
>>> st = {"last_seen": np.array([0, 0]), "absent": np.zeros(2, bool), "absent_at": np.full(2, NEVER)}
>>> ts = np.array([600, 660, 720])
>>> rows, at = missing(st, np.array([0]), ts, absent_for=660)  # row 1 is not in the batch
>>> rows.tolist(), at.tolist(), st["absent"].tolist()
([1], [660], [False, True])
"""

from __future__ import annotations

import numpy as np

from sentinel.alerting.event import AlertEvent
from sentinel.config import format_duration
from sentinel.series import Labels, format_labels

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


def vanished(st: dict[str, np.ndarray], rows: np.ndarray, end: int, absent_for: int) -> np.ndarray:
    """Known series outside ``rows`` (the batch's) silent for ``absent_for`` by ``end``: absent already, or
    going absent in this batch (:func:`missing`'s candidates, without marking them).

    >>> st = {"last_seen": np.array([0, 0, 500, NEVER]), "absent": np.array([True, False, False, False])}
    >>> vanished(st, np.array([1]), end=600, absent_for=300).tolist()
    [0]
    """
    out = np.ones(len(st["absent"]), dtype=bool)
    out[rows] = False
    known = st["last_seen"] != NEVER
    return np.flatnonzero(out & known & (st["absent"] | (st["last_seen"] + absent_for <= end)))


def event(watch: str, severity: str, status: str, labels: Labels, starts_at: int, at: int, last_seen: int,
          removed: bool = False) -> AlertEvent:
    """An ``absent`` transition; ``last_seen``: the series' last value before the silence; ``removed``: it
    resolves because the series' scrape target left service discovery, not because data came back."""
    ev = AlertEvent(status=status, watch=watch, labels=labels, kind="absent", starts_at=starts_at, at=at,
                    severity=severity)
    who, silence = format_labels(labels), format_duration(at - last_seen)
    ev.summary = f"{watch}: no data from {who}"
    if status == "firing":
        ev.description = f"{who} has sent no data for {silence}."
    elif removed:
        ev.description = (f"{who}: its scrape target was removed from Prometheus' service discovery (no `up` "
                          f"sample; a scaled-down agent, not a silent one), {silence} after its last value.")
    else:
        ev.description = f"{who} sends data again, after {silence} without."
    return ev
