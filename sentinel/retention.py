"""Series retention: which series a watch forgets, and how many it tracks at most.

Agents are ephemeral: every new agent id is a new label set, so a fleet's
watches keep meeting new series while old ones fall silent for good.  Every
stateful part of a watch (detector, alert policy, forecast policy and
history, log template series, the exporter's rows) keeps state per series,
so without forgetting, memory and checkpoints only grow.

:class:`SeriesRetention` is the one place that knows when each series of a
watch last had a value (the runner shows it every cycle's batch, before
scoring) and decides, per cycle at data time ``now``:

- **retention**: a series with no value for ``series_retention`` is
  forgotten (Prometheus marks a vanished series stale and drops it from its
  head block; Elastic ML prunes models not updated for
  ``model_prune_window``).  A series that comes back later is new again: it
  warms up like any other;
- **limit**: when the cycle would track more than ``max_tracked_series``,
  the longest-absent series are forgotten first; if that is not enough, new
  series are refused (their points are not scored) until room frees up.
  A series with a value in this cycle's batch is never forgotten, so no
  scored point is lost; a new series without one is not admitted (a source
  may return a dead series as all NaN: it is not back).

The runner then asks every stateful part to forget the same label sets
(each has a small ``forget(labels)`` that compacts its own arrays).

>>> from sentinel.series import Batch
>>> r = SeriesRetention()
>>> b = Batch.from_rows([{"a": "1"}, {"a": "2"}], [0, 60], [[1.0, 1.0], [2.0, float("nan")]])
>>> d = r.observe(b.labels, last_value_at(b), now=60, retention=120, limit=10)
>>> len(r), d.forgotten, r.last_seen_.tolist()
(2, {}, [60, 0])
>>> later = Batch.from_rows([{"a": "1"}], [180], [[1.0]], step=60)
>>> d = r.observe(later.labels, last_value_at(later), now=180, retention=120, limit=10)
>>> d.forgotten
{'retention': [(('a', '2'),)]}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sentinel.series import Batch, Labels, last_observed
from sentinel.series_index import SeriesIndex

NEVER = np.iinfo(np.int64).min
"""``last_value_at`` of a series without a value in the batch."""


def last_value_at(batch: Batch) -> np.ndarray:
    """Per series of ``batch``, the time of its last finite value (:data:`NEVER` when it has none)."""
    last = last_observed(batch.values)
    if not batch.n_steps:
        return np.full(batch.n_series, NEVER, dtype=np.int64)
    return np.where(last >= 0, batch.timestamps[last], NEVER).astype(np.int64)


@dataclass
class Decision:
    """One cycle's verdict: label sets to forget (by reason) and the batch rows admitted."""

    forgotten: dict[str, list[Labels]] = field(default_factory=dict)
    admitted: np.ndarray | None = None  # bool per batch row; None = every row
    refused: int = 0  # new series not admitted (the limit)
    example: Labels | None = None  # the first of them, for the warning

    @property
    def gone(self) -> list[Labels]:
        """Every forgotten label set, whatever the reason."""
        return [k for keys in self.forgotten.values() for k in keys]


class SeriesRetention:
    """When each series of one watch last had a value; who to forget and who to refuse (module doc)."""

    def __init__(self, keys: Sequence[Labels] = (), last_seen: np.ndarray | None = None) -> None:
        self.index_ = SeriesIndex(keys)
        self.last_seen_ = np.zeros(len(keys), dtype=np.int64) if last_seen is None else \
            np.asarray(last_seen, dtype=np.int64)
        if len(self.last_seen_) != len(self.index_):
            raise ValueError(f"{len(self.index_)} series but {len(self.last_seen_)} last-seen times")

    def __len__(self) -> int:
        return len(self.index_)

    def forget(self, keys: Iterable[Labels]) -> None:
        """Forget ``keys`` now, whatever their last-seen times (a series whose scrape target was removed).

        >>> r = SeriesRetention([(("a", "1"),), (("a", "2"),)], np.array([0, 60]))
        >>> r.forget([(("a", "1"),)]); r.index_.keys, r.last_seen_.tolist()
        ([(('a', '2'),)], [60])
        """
        keep = self.index_.forget(keys)
        if keep is not None:
            self.last_seen_ = self.last_seen_[keep]

    def observe(self, labels: Sequence[Labels], seen_at: np.ndarray, now: int, retention: int,
                limit: int) -> Decision:
        """Take a batch's series (``seen_at``: :func:`last_value_at`) at data time ``now``; decide (module doc).

        Vectorised over series: the only per-series Python work is the label
        lookup (skipped when the batch has the same series as last time) and
        rebuilding the index when something is forgotten.
        """
        rows = self.index_.find(labels)
        known, present = rows >= 0, seen_at != NEVER
        last = self.last_seen_.copy()
        last[rows[known]] = np.maximum(last[rows[known]], seen_at[known])
        in_batch = np.zeros(len(last), dtype=bool)
        in_batch[rows[known & present]] = True  # a value this cycle: never forgotten now
        drop = ~in_batch & (now - last >= retention)
        expired = np.flatnonzero(drop)
        new = np.flatnonzero(~known & present)  # a new series without a value has nothing to score: not admitted
        over = len(last) - len(expired) + len(new) - limit
        evicted = np.zeros(0, dtype=np.intp)
        if over > 0:  # the longest-absent first
            candidates = np.flatnonzero(~drop & ~in_batch)
            evicted = candidates[np.argsort(last[candidates], kind="stable")][:over]
            drop[evicted] = True
            over -= len(evicted)
        refused = new[max(len(new) - over, 0):] if over > 0 else new[:0]  # over may exceed the newcomers
        admitted = ~known & present
        admitted[refused] = False
        admitted[known] = ~drop[rows[known]]  # a row forgotten now that is in the batch has no value in it
        out = Decision(admitted=None if admitted.all() else admitted, refused=len(refused),
                       example=labels[int(refused[0])] if len(refused) else None)
        keys = self.index_.keys
        for reason, which in (("retention", expired), ("limit", evicted)):
            if len(which):
                out.forgotten[reason] = [keys[r] for r in np.sort(which).tolist()]
        if drop.any():
            self.index_.forget(out.gone)
            last = last[~drop]
        fresh = np.flatnonzero(admitted & ~known)
        if len(fresh):
            self.index_.rows([labels[i] for i in fresh.tolist()])
            last = np.concatenate([last, seen_at[fresh]])
        self.last_seen_ = last
        return out


def drop_series(batch: Batch | None, keys: Iterable[Labels]) -> Batch | None:
    """``batch`` without the series ``keys`` (a rolling window forgetting series that are gone).

    >>> b = Batch.from_rows([{"s": "x"}, {"s": "y"}], [0, 60], [[1.0, 2.0], [3.0, 4.0]])
    >>> drop_series(b, [(("s", "x"),)]).labels
    ((('s', 'y'),),)
    """
    if batch is None:
        return None
    gone = set(keys)
    keep = np.fromiter((k not in gone for k in batch.labels), dtype=bool, count=batch.n_series)
    return batch if keep.all() else batch.select(np.flatnonzero(keep))
