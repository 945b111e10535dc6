"""A detector's clock: one sampling step, one time grid, and a stream that only moves forward.

Every online detector learns a stream: its seasonal slots, decays and run
lengths count *steps*, so the numbers are right only if each batch continues
the last one on the same step and grid.  The daemon guarantees that with its
cursors (every source snaps to the absolute step grid); a library or
notebook caller of :meth:`~sentinel.detect.base.OnlineDetector.process`
gets the same guarantees here, the same for every detector kind:

- a batch at **another step** than the detector's is refused
  (``ValueError``): a 5-minute batch read as 1-minute steps would age the
  model five times too slowly and put every point in the wrong slot;
- a batch **off the grid** of what the detector learned (its first time is
  not the last learned time plus a whole number of steps) is refused
  (``ValueError``): its points would land between the learned slots;
- the **already-learned part** of a batch (times at or before the last time
  learned) is skipped, the way Prometheus drops out-of-order samples and
  keeps the rest of a write: those columns are neither scored nor learned
  (their scores are NaN), counted in ``sentinel_detector_stale_points_total``
  and logged once per batch.  Learning the same range twice would count
  every point twice; skipping keeps a retried cycle, or an overlapping
  polling window (``the last hour, every minute``), harmless.

The clock is the detector's, not a series': a series the detector has never
seen joins at the next new time.  To score several streams over the same
time range, give them to one batch (as ``sentinel detect`` does with many
files) or to one detector each.  A detector that has learned nothing takes
its grid from its first batch, and its step from the batch unless it was
built with one.

>>> import numpy as np
>>> from sentinel.series import Batch
>>> b = Batch.from_rows([{}], [600, 660, 720], [[1.0, 2.0, 3.0]])
>>> new_columns(b, step=60, end=660, label="doc")  # 600 and 660 were learned: skip two columns
2
>>> new_columns(b, step=300, end=None, label="doc")
Traceback (most recent call last):
...
ValueError: batch step 60s differs from this detector's step 300s: build one detector per step
>>> new_columns(b, step=60, end=630, label="doc")
Traceback (most recent call last):
...
ValueError: batch starts at 600, off this detector's 60s grid: it learned up to 630, so it continues at 690, 750, ...
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client import Counter

from sentinel.series import Batch

if TYPE_CHECKING:
    from sentinel.detect.scores import Scores

log = logging.getLogger("sentinel.detect")

STALE = Counter("sentinel_detector_stale_points", "Points a detector skipped because they were at or before the "
                "last time it learned (a stream only moves forward), by detector kind", ["detector"])


def check_step(batch: Batch, step: int | None) -> None:
    """Refuse a batch at another sampling step than ``step`` (None: not known yet, anything goes)."""
    if step is not None and batch.step != step:
        raise ValueError(f"batch step {batch.step}s differs from this detector's step {step}s: "
                         "build one detector per step")


def new_columns(batch: Batch, step: int | None, end: int | None, label: str) -> int:
    """Index of the first column of ``batch`` after ``end`` (the last time learned; None: nothing yet).

    Raises ``ValueError`` for another step or a grid that does not continue
    ``end``; counts and logs the columns it skips (module docstring).
    """
    check_step(batch, step)
    if end is None or not batch.n_steps:
        return 0
    t0 = int(batch.timestamps[0])
    if (t0 - end) % batch.step:
        raise ValueError(f"batch starts at {t0}, off this detector's {batch.step}s grid: it learned up to {end}, "
                         f"so it continues at {end + batch.step}, {end + 2 * batch.step}, ...")
    if t0 > end:
        return 0
    j = int(np.searchsorted(batch.timestamps, end, side="right"))
    if batch.n_series:
        STALE.labels(label).inc(j * batch.n_series)
        log.warning("%s detector: skipped %d of %d step(s) at or before %d, the last time it learned (a stream only "
                    "moves forward; their scores are NaN)", label, j, batch.n_steps, end)
    return j


def behind(scores: Scores, skipped: int) -> Scores:
    """``scores`` behind ``skipped`` NaN columns: the part of a batch that was learned already."""
    def pad(a: np.ndarray | None) -> Any:
        return None if a is None else np.hstack([np.full((len(a), skipped), np.nan), a])

    fields = {k: pad(getattr(scores, k)) for k in ("score", "expected", "lower", "upper", "stuck", "drift")}
    members = scores.members
    fields["members"] = {k: pad(v) for k, v in members.items()} if members else members
    return dataclasses.replace(scores, **fields)
