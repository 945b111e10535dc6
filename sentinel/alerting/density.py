"""Intermittent breaches: the anomaly alert also fires on ``count`` excursions outside the band ``within`` a window.

Why: ``for`` pages on a breach that *lasts*.  A series whose noise grows
several-fold for hours (latency turning erratic) leaves its band every few
minutes for a sample or two and comes back, so no breach lasts ``for``; and
the detector reports such an event once (its report budget), then widens its
scale.  On the shapes benchmark, noise x3 / x5 / x8 for 2 h was *reported*
0.93 / 0.99 / 1.00 of the time but alerted 0.16 / 0.39 / 0.75.  Datadog's
anomaly monitors ("x % of the points anomalous over the window") and
Elastic's bucket scores page on the density of anomalous points instead;
this is that condition, in units an SRE can check on the chart:

- an *excursion* is a run of seen values outside the band on the harmful
  side that reaches a deviation of at least ``min_deviation`` (the rules of
  the ``for`` path) and of :data:`DEPTH` half-bands: well past the band's
  edge, not just over it (a value just over the edge is what a calibrated band
  shows routinely; in the fleet simulator such shallow excursions, 1.0-1.4
  half-bands, made every false alarm of a version without the depth: 6 in
  three simulated weeks, and 2 in the demo's); one side at a time (up and
  down are separate runs), and a missing value holds a run.  It counts
  once, at its first sample that deep (a long run hovering about the depth
  is one excursion, not several): separate excursions are what tells an
  erratic series from one long breach, which is ``for``'s to judge
  (counting *samples* outside the band let AR(1) wanders, whose
  excursions are long runs, page: +0.7 false alerts per series-week on
  the shapes benchmark's clean ``ar1`` series; counting excursions, none);
- the alert fires once ``count`` excursions began within the last
  ``within`` and the detector reported (score >= threshold, harmful) within
  it too: the detector says the episode is news (and the watch's
  ``threshold`` keeps its meaning), the density says it goes on;
- *routine clusters* do not page: a cluster (excursions while the window
  holds any) that raised no alert teaches the series' routine peak count,
  a maximum that halves every week like :mod:`sentinel.alerting.routine`'s
  run lengths, and the count must exceed it (rounded up: a routine 3 stays
  3 until it has faded below 2, four days without another such cluster).
  A series whose excursions routinely come ``count`` to a window (a cron
  job's spikes) stops paging on them after its first unreported cluster;
  the report gate is what lets it learn them (without it, each such
  cluster would page, and having paged, never count as routine);
- a firing anomaly alert (either path) resolves only once the window holds
  no excursion and the value has been back in band for ``resolve_after``,
  so an erratic series that dips into its band between excursions does not
  flap.

State: the start times of the last :data:`MAX_COUNT` excursions, per series
(the window count is exact, so the alert can say "4 excursions in 13m");
the run flags (outside the band, counted yet), the last report, the current
cluster's peak and the learned routine: 100 bytes per series, whatever ``count`` is, so a reload that
changes it keeps the state.  Per step, only series with an excursion
starting, a report or a cluster ending are written.

>>> st = init_state(1)
>>> out = np.array([[True, False]])
>>> fired = []
>>> for t, x in enumerate([1, 0, 1, 0, 1]):
...     fired.append(step(st, t * 60, out * bool(x), out * bool(x), np.array([True]), np.array([t == 0]), 3,
...                           1200).tolist())
...     end(st, t * 60, np.array([False]), 1200)
>>> fired
[[False], [False], [False], [False], [True]]
>>> summary_of(st, 0, 240, DensityConfig(count=3, within=1200))
'3 excursions outside the band in 4m (3 needed within 20m)'
"""

from __future__ import annotations

import numpy as np

from sentinel.alerting.routine import HALF_LIFE
from sentinel.config import format_duration
from sentinel.config.watches import DENSITY_MAX_COUNT as MAX_COUNT
from sentinel.config.watches import DensityConfig

NEVER = np.iinfo(np.int64).min
DEPTH = 1.5
"""Half-bands an excursion must reach to count (see the module docstring)."""
MARK = "intermittent: "
"""Opens the density part of a firing alert's description (the console prints such an alert as ERRATIC)."""
STATE = ("dense_starts", "dense_side", "dense_counted", "dense_report", "dense_peak", "dense_fired", "dense_routine",
         "dense_routine_at")
"""The policy state this module keeps (a checkpoint from before it lacks them: they start fresh)."""


def init_state(n: int) -> dict[str, np.ndarray]:
    """State of ``n`` new series: no excursion, no report, nothing learned."""
    return {
        "dense_starts": np.full((n, MAX_COUNT), NEVER, dtype=np.int64),  # excursion start times, newest first
        "dense_side": np.zeros((n, 2), dtype=bool),  # the last seen value was outside the band above / below
        "dense_counted": np.zeros((n, 2), dtype=bool),  # ... and that run has counted as an excursion
        "dense_report": np.full(n, NEVER, dtype=np.int64),  # the last harmful report
        "dense_peak": np.zeros(n, dtype=np.int8),  # the current cluster's highest window count (0: no cluster)
        "dense_fired": np.zeros(n, dtype=bool),  # an alert fired during the current cluster (not routine)
        "dense_routine": np.zeros(n),  # the highest window count of a cluster that raised no alert ...
        "dense_routine_at": np.zeros(n, dtype=np.int64),  # ... as of this time (halves every HALF_LIFE)
    }


def step(st: dict[str, np.ndarray], t: int, out: np.ndarray, deep: np.ndarray, seen: np.ndarray,
         report: np.ndarray, count: int, within: int) -> np.ndarray:
    """Advance the excursions through one step at ``t``; the series whose density condition holds now.

    ``out``: (series, 2) harmful values outside the band, above / below;
    ``deep``: those of them big enough and at least :data:`DEPTH` half-bands
    out; ``seen``: the value is there (a missing one holds the runs);
    ``report``: a harmful report (score >= threshold).  The caller fires
    the rows that are not firing yet, then calls :func:`end`.
    """
    st["dense_report"][report] = t
    counted = st["dense_counted"] & st["dense_side"]  # a run that ended has not counted yet
    begins = deep & ~counted
    st["dense_counted"] = np.where(seen[:, None], out & (counted | begins), st["dense_counted"])
    st["dense_side"] = np.where(seen[:, None], out, st["dense_side"])
    new = np.flatnonzero(begins.any(axis=1))  # both sides at once cannot happen: one value, one side
    if new.size:
        starts = st["dense_starts"]
        starts[new, 1:] = starts[new, :-1]
        starts[new, 0] = t
        n_in = (starts[new] > t - within).sum(axis=1)
        st["dense_peak"][new] = np.maximum(st["dense_peak"][new], n_in)
    rows = np.flatnonzero(st["dense_starts"][:, count - 1] > t - within)  # count excursions in the window
    if rows.size == 0:
        return np.zeros(len(seen), dtype=bool)
    recent = st["dense_report"][rows] > t - within
    n_in = (st["dense_starts"][rows] > t - within).sum(axis=1)
    beyond = n_in > np.ceil(_routine(st, rows, t))  # a count, so a routine 3 holds until it has faded below 2
    holds = np.zeros(len(seen), dtype=bool)
    holds[rows[recent & beyond]] = True
    return holds


def end(st: dict[str, np.ndarray], t: int, firing: np.ndarray, within: int) -> None:
    """Close the step: mark clusters that alerted, learn the ones that ended without an alert.

    ``firing``: the anomaly alert is firing after this step's decisions.
    """
    st["dense_fired"] |= firing & (st["dense_peak"] > 0)
    over = np.flatnonzero((st["dense_peak"] > 0) & (st["dense_starts"][:, 0] <= t - within))
    if over.size == 0:
        return
    quiet = over[~st["dense_fired"][over]]
    st["dense_routine"][quiet] = np.maximum(_routine(st, quiet, t), st["dense_peak"][quiet])
    st["dense_routine_at"][quiet] = t
    st["dense_peak"][over] = 0
    st["dense_fired"][over] = False


def deep(dev: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The deviation reaches :data:`DEPTH` half-bands: well past the band's edge, not just over it.

    >>> deep(np.array([2.5, 3.5, -3.5]), np.array([-2.0] * 3), np.array([2.0] * 3)).tolist()
    [False, True, True]
    """
    with np.errstate(invalid="ignore"):
        return np.abs(dev) >= DEPTH * (upper - lower) / 2


def held(st: dict[str, np.ndarray], t: int, within: int) -> np.ndarray:
    """Series with an excursion in the window: a firing alert does not resolve while this holds."""
    return st["dense_starts"][:, 0] > t - within


def _routine(st: dict[str, np.ndarray], rows: np.ndarray, t: int) -> np.ndarray:
    """The routine peak count of ``rows`` at ``t``: halved every :data:`HALF_LIFE`."""
    return st["dense_routine"][rows] * np.exp2((st["dense_routine_at"][rows] - t) / HALF_LIFE)


def summary_of(st: dict[str, np.ndarray], i: int, t: int, cfg: DensityConfig) -> str:
    """Why row ``i`` fired at ``t``: how many excursions began in the window, over how long."""
    starts = st["dense_starts"][i]
    inside = starts[starts > t - cfg.within]
    return (f"{len(inside)} excursions outside the band in {format_duration(t - int(inside.min()))} "
            f"({cfg.count} needed within {format_duration(cfg.within)})")
