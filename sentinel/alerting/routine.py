"""Routine excursions: how long a series' own runs outside its band last, so ``for`` can wait them out.

Why: the policy holds an episode open while the value stays outside the
expected band (a detector flags the start of an event and lowers the score
of its rest).  That assumes a value outside the band is rare unless the
event goes on.  On a series whose excursions come in runs (a disk or network
counter's bursts of two or three samples, a heavy-tailed latency) it is not:
the detector's report budget puts a report on a burst's first sample every
few days, the burst's next samples are outside the band, and ``for: 2m``
fired (the shapes benchmark's clean ``spiky`` twins: 1.57 false alerts per
series-week, every one a report at a 3-sample burst's first sample held by
the band).  So the policy remembers, per series and side of the band, the
longest run outside it that raised no alert, and a breach must outlast that
too.  A series whose excursions are single samples (Gaussian or count
noise) never learns more than one step and keeps plain ``for``.

- a run is consecutive seen values outside the band on one side (above:
  column 0, below: column 1; a burst up does not make a drop routine) on the
  harmful side; a missing value holds it; it ends at the first seen value
  not outside on that side;
- it is *routine* when no alert fired during it and it lasted at most
  :data:`CAP` x ``for`` (longer is an event the detector missed or a slow
  change, and learning it would delay every later alert as much; with
  ``for: 0`` nothing is learned);
- a breach is timed from its first value outside the band (from its start
  while it has none): a report one sample before a routine burst, just
  inside the band, then held by the burst, outlasted the burst by that
  sample when timed from the report (the clean ``spiky`` twins' false
  alerts: 0.35 -> 0.26 per series-week);
- the routine length is a maximum that halves every :data:`HALF_LIFE`, so a
  burst pattern seen every few days is kept, and a series whose bursts stop
  returns to plain ``for`` within days.

Only series in or entering a run, and breaches already past ``for``, are
touched per step: at 100k series the policy's step stays a few vector
operations.
"""

from __future__ import annotations

import numpy as np

NEVER = np.iinfo(np.int64).min
HALF_LIFE = 7 * 86400
"""Seconds over which a learned routine run length halves (a week)."""
CAP = 5
"""Runs longer than this many ``for`` are not routine (module docstring)."""
STATE = ("out_since", "out_fired", "in_run", "routine", "routine_at", "out_first")
"""The policy state this module keeps (a checkpoint from before it lacks them: they start fresh)."""


def init_state(n: int) -> dict[str, np.ndarray]:
    """State of ``n`` new series: no run, nothing learned."""
    return {
        "out_since": np.full((n, 2), NEVER, dtype=np.int64),  # the current run (above, below) began at ...
        "out_fired": np.zeros((n, 2), dtype=bool),  # ... and an alert fired during it (not routine)
        "in_run": np.zeros(n, dtype=bool),  # a run on either side is going on
        "routine": np.zeros((n, 2)),  # the longest routine run (s) ...
        "routine_at": np.zeros((n, 2), dtype=np.int64),  # ... as of this time (it halves every HALF_LIFE from there)
        "out_first": np.full(n, NEVER, dtype=np.int64),  # the open breach's first value outside the band
    }


def track(st: dict[str, np.ndarray], t: int, seen: np.ndarray, above: np.ndarray, below: np.ndarray,
          firing: np.ndarray, cap: float) -> None:
    """Advance the runs through one step at ``t`` (``above``/``below``: harmful and outside); learn the routine ones.

    ``firing``: the anomaly alert is firing after this step's decisions (its
    run is not routine); ``cap``: the longest routine run in seconds
    (:data:`CAP` x ``for``).  Only (series, side) cells in or entering a run
    are read or written.
    """
    rows = np.flatnonzero(above | below | st["in_run"])
    if rows.size == 0:
        return
    rr, cc = np.repeat(rows, 2), np.tile(np.arange(2), rows.size)  # every (series, side) cell of those rows
    out = np.stack([above[rows], below[rows]], axis=1).ravel()
    since = st["out_since"][rr, cc]
    running = since != NEVER
    hot = running & firing[rr]
    st["out_fired"][rr[hot], cc[hot]] = True
    ended = running & ~out & seen[rr]
    er, ec = rr[ended], cc[ended]
    length = t - since[ended]
    ok = ~st["out_fired"][er, ec] & (length <= cap)
    lr, lc = er[ok], ec[ok]
    st["routine"][lr, lc] = np.maximum(decayed(st, lr, lc, t), length[ok])
    st["routine_at"][lr, lc] = t
    st["out_since"][er, ec] = NEVER
    st["out_fired"][er, ec] = False
    start = out & ~running
    sr, sc = rr[start], cc[start]
    st["out_since"][sr, sc] = t
    st["out_fired"][sr, sc] = firing[sr]
    st["in_run"][rows] = (st["out_since"][rows] != NEVER).any(axis=1)


def decayed(st: dict[str, np.ndarray], rows: np.ndarray, sides: np.ndarray, t: int) -> np.ndarray:
    """The routine run lengths (seconds) of the cells ``(rows, sides)`` at ``t``: halved every :data:`HALF_LIFE`."""
    return st["routine"][rows, sides] * np.exp2((st["routine_at"][rows, sides] - t) / HALF_LIFE)


def breach_out(st: dict[str, np.ndarray], t: int, out: np.ndarray, pending_since: np.ndarray) -> None:
    """Note when each open breach (``pending_since`` set; opened at ``t``: a new one) first had its value outside
    the band (``out``)."""
    first = np.where((pending_since == NEVER) | (pending_since == t), NEVER, st["out_first"])  # none, or a new one
    st["out_first"] = np.where(out & (first == NEVER) & (pending_since != NEVER), t, first)


def outlasted(st: dict[str, np.ndarray], t: int, due: np.ndarray, dev: np.ndarray,
              pending_since: np.ndarray) -> np.ndarray:
    """``due`` (breaches past ``for``) less those that have not yet outlasted the routine run on their side.

    A breach is timed from its first value outside the band (:func:`breach_out`), or from its start
    while it has none: a report just inside the band, followed by a routine burst, is a routine run,
    not one that outlasted it.

    >>> st = init_state(2)
    >>> st["routine"][0, 0], st["routine_at"][0, 0] = 180.0, 1000
    >>> outlasted(st, 1120, np.array([True, True]), np.array([5.0, 5.0]), np.array([1000, 1000])).tolist()
    [False, True]
    >>> breach_out(st, 1060, np.array([True, False]), np.array([1000, 1000]))  # outside from a step after
    >>> outlasted(st, 1180, np.array([True, True]), np.array([5.0, 5.0]), np.array([1000, 1000])).tolist()
    [False, True]
    """
    rows = np.flatnonzero(due)
    if rows.size == 0:
        return due
    wait = decayed(st, rows, (dev[rows] < 0).astype(np.intp), t)
    first = st["out_first"][rows]
    out = due.copy()
    out[rows] = t - np.where(first == NEVER, pending_since[rows], first) >= wait
    return out
