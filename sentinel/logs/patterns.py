"""Templates -> per-(group, template) count series, and new error patterns -> alert events.

Per cycle, the sampled messages of a log watch are mined
(:class:`~sentinel.logs.miner.LogMiner`) and turned into two things:

* a :class:`~sentinel.series.Batch` with one series per (group, template)
  pair seen so far -- labels: the watch's ``group_by`` labels plus
  ``template_id`` (never the text: a template's text generalises as it
  learns; the masked text and a masked example travel as alert annotations).
  The watch's detector and policy score these series with the group counts,
  so a known template whose rate jumps raises an alert;
* :class:`~sentinel.alerting.event.AlertEvent` s of kind ``new_pattern``: a
  template seen for the first time at one of the watch's
  ``new_pattern_levels`` (error, warn...), once warmed up.  The event carries the
  masked template and one *masked* example line -- never a raw message.

**Counts from a bounded sample.**  A cycle samples at most
``max_messages_per_cycle`` messages, so a template's count is estimated per
group and step by scaling: ``count(g, k, t) = sampled(g, k, t) * N(g, t) / n(g, t)``
with ``N`` the group's exact line count from the counts query and ``n`` the
lines of that group sampled in that step.  When a step is only partly sampled,
the template's share ``sampled / n`` is first shrunk toward its share over the
whole cycle (``shrink`` pseudo-lines, weighted by the unsampled fraction), so
one sampled line in a busy step does not become "every line was this
template" (on the simulated fleet's error logs, ``benchmarks/log_counts.py``,
alerts outside incidents 4 -> 1 with ``shrink`` 0 -> 5).  A complete sample has ``n = N`` (exact
counts); a uniform sample (the simulated source) gives unbiased estimates; a
time-ordered cut (Elasticsearch's ``search_after``) gives exact counts before
the cut, an estimate for the step it falls in and NaN (missing, not zero)
after it, where ``n = 0 < N``.  A group that logged nothing in a step counts
zero for all its templates.  (Filling ``n = 0 < N`` steps with the cycle's
shares instead was measured worse: 6 alerts outside incidents instead of 1,
because the smooth warm-up estimates teach the detector too narrow a band.)  Without the group
counts (or for a group they do not list) counts are the sampled ones up to
``complete_until`` and NaN after.  Storing a template id in Elasticsearch to
count with a ``terms`` aggregation would be exact but needs an ingest step
sentinel does not own; scaling needs nothing but the two queries it already
makes.

**Bounded series.**  Pairs are tracked in first-seen order up to
``max_series``; further pairs are not tracked (one warning,
``sentinel_log_template_series_dropped_total``).  Known pairs are emitted in
every cycle (zeros included), so an alert on one can resolve.

**Merged templates** (:mod:`sentinel.logs.merge`): lines count under their survivor, a merged group
alerts once at most, an absorbed template's series goes quiet.

Which templates were already seen at an alerting level, the tracked pairs and
one masked example per template are kept in the miner's metadata, so they
survive restarts with the templates themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry

from sentinel.alerting.event import AlertEvent
from sentinel.logs.metrics import logs_metrics
from sentinel.logs.miner import OVERFLOW_ID, LogMiner
from sentinel.logs.parse import clip
from sentinel.logs.records import Sample
from sentinel.series import Batch, Labels, labels_key
from sentinel.sources.base import grid

log = logging.getLogger(__name__)

_EXAMPLE_CHARS = 500
TEMPLATE_LABEL = "template_id"


@dataclass(frozen=True)
class TemplateCycle:
    """What one cycle's messages produced."""

    templates: Batch
    new_patterns: list[AlertEvent]
    absorbed: list[Labels] = field(default_factory=list)  # series of templates merged into others this cycle


class TemplateTracker:
    """Mines a watch's samples into template count series and new-pattern events (see the module doc)."""

    def __init__(
        self,
        miner: LogMiner,
        *,
        watch: str,
        levels: Sequence[str] = ("error", "warn", "warning", "critical", "fatal"),
        severity: str = "warning",
        max_series: int = 2000,
        shrink: float = 5.0,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if max_series <= 0:
            raise ValueError("max_series must be positive")
        self.miner = miner
        self.watch = watch
        self.levels = frozenset(lv.lower() for lv in levels)
        self.severity = severity
        self.max_series = max_series
        self.shrink = shrink
        self._metrics = logs_metrics(registry)
        self._alerted: set[int] = {int(t) for t in miner.meta.get("alerted", [])}
        self._series: dict[Labels, None] = {
            labels_key(tuple(tuple(kv) for kv in k)): None for k in miner.meta.get("series", [])
        }
        self._examples: dict[str, str] = dict(miner.meta.get("examples", {}))
        self._warned_cap = False
        self._metrics.template_series.labels(watch).set(len(self._series))

    @property
    def warmed(self) -> bool:
        """False until the first update: the first cycle learns what exists and reports nothing as new."""
        return bool(self.miner.meta.get("warmed"))

    def example(self, template_id: int) -> str | None:
        """The last masked example line of a template (never a raw message)."""
        return self._examples.get(str(template_id))

    def update(self, sample: Sample, start: int, end: int, step: int, counts: Batch | None = None) -> TemplateCycle:
        """Mine ``sample``; count its lines per (group, template) on the grid of ``[start, end)``.

        ``counts``: the watch's exact per-group counts on the same grid, used to
        scale sampled counts (see the module doc).
        """
        first, stop = grid(start, end, step)
        timestamps = np.arange(first, stop, step, dtype=np.int64)
        report = self.warmed
        n = len(sample.records)
        ids = np.empty(n, dtype=np.int64)
        times = np.empty(n, dtype=np.float64)
        groups: list[Labels] = []
        new: dict[int, tuple[str, str, Labels, int]] = {}  # first line of each template not yet seen at a level
        for i, rec in enumerate(sample.records):
            text, cut = clip(rec.message)
            if cut:
                self._metrics.truncated.labels(self.watch).inc()
            masked = self.miner.mask(text)
            tid = self.miner.add_masked(masked).template_id
            ids[i], times[i] = tid, rec.timestamp
            groups.append(rec.labels)
            if tid != OVERFLOW_ID:
                self._examples[str(tid)] = _clip_example(masked)
                if rec.level in self.levels and tid not in self._alerted and tid not in new:
                    new[tid] = (masked, rec.level, rec.labels, int(rec.timestamp))
        # merged templates (sentinel.logs.merge): the cycle's lines count, and are news, under their survivor
        ids = self.miner.resolve(ids)
        root = self.miner.root
        self._alerted = {root(t) for t in self._alerted}
        events = []
        for tid, (masked, level, group, at) in new.items():
            if root(tid) not in self._alerted:
                self._alerted.add(root(tid))
                if report:
                    events.append(self._event(root(tid), masked, level, group, at))
        known = self.miner.templates()
        examples = {k: v for k, v in self._examples.items() if int(k) in known}  # a survivor's own example wins
        for k, v in self._examples.items():
            if root(int(k)) in known:
                examples.setdefault(str(root(int(k))), v)
        self._examples = examples
        absorbed = [k for k in self._series if _template_of(k) not in (OVERFLOW_ID, root(_template_of(k)))]
        for k in absorbed:
            del self._series[k]
        self.miner.meta["alerted"] = sorted(self._alerted)
        self.miner.meta["warmed"] = True
        self.miner.meta["examples"] = self._examples
        self._metrics.new_patterns.labels(self.watch).inc(len(events))
        batch = self._counts(ids, times, groups, timestamps, step, sample.complete_until, counts)
        self.miner.meta["series"] = [list(map(list, k)) for k in self._series]
        return TemplateCycle(batch, events, absorbed)

    def forget(self, labels: Iterable[Labels]) -> None:
        """Stop emitting the (group, template) series among ``labels`` (gone: :mod:`sentinel.retention`)."""
        n = len(self._series)
        for key in labels:
            self._series.pop(key, None)
        if len(self._series) < n:
            self.miner.meta["series"] = [list(map(list, k)) for k in self._series]
            self._metrics.template_series.labels(self.watch).set(len(self._series))

    def _track(self, pairs: list[Labels]) -> None:
        """Add new (group, template) series in first-seen order, up to the cap."""
        for key in pairs:
            if key in self._series:
                continue
            if len(self._series) >= self.max_series:
                self._metrics.template_series_dropped.labels(self.watch).inc()
                if not self._warned_cap:
                    self._warned_cap = True
                    log.warning("log watch %r tracks its cap of %d template series; new (group, template) pairs "
                                "are not scored (raise logs.max_template_series, or narrow group_by)",
                                self.watch, self.max_series)
                continue
            self._series[key] = None
        self._metrics.template_series.labels(self.watch).set(len(self._series))

    def _counts(
        self, ids: np.ndarray, times: np.ndarray, groups: list[Labels], timestamps: np.ndarray, step: int,
        complete_until: float, counts: Batch | None,
    ) -> Batch:
        """Per-(group, template) counts, scaled to the group totals (see the module doc)."""
        n_t = len(timestamps)
        cols = ((times - timestamps[0]) // step).astype(np.int64) if n_t else np.zeros(0, dtype=np.int64)
        ok = (cols >= 0) & (cols < n_t)
        group_keys = list(dict.fromkeys(groups))
        group_row = {g: r for r, g in enumerate(group_keys)}
        grow = np.fromiter((group_row[g] for g in groups), dtype=np.int64, count=len(groups))
        pair_of = {(g, t): labels_key((*g, (TEMPLATE_LABEL, str(t)))) for g, t in
                   dict.fromkeys(zip(groups, ids.tolist(), strict=True))}
        self._track([pair_of[(groups[i], int(ids[i]))] for i in np.flatnonzero(ok)])
        keys = list(self._series)
        row_of = {k: r for r, k in enumerate(keys)}
        values = np.zeros((len(keys), n_t))
        rows = np.fromiter((row_of.get(pair_of[(groups[i], int(ids[i]))], -1) for i in range(len(groups))),
                           dtype=np.int64, count=len(groups))
        use = ok & (rows >= 0)
        np.add.at(values, (rows[use], cols[use]), 1.0)
        # sampled lines per group and step, and the group's exact total from the counts query
        sampled = np.zeros((len(group_keys), n_t))
        np.add.at(sampled, (grow[ok], cols[ok]), 1.0)
        total = _totals(counts, timestamps, step)
        fallback = (timestamps + step > complete_until)[None, :]
        # every row at once: its group's sampled lines n and exact total (rows whose group has no total: NaN after
        # complete_until)
        of_row = [tuple(kv for kv in key if kv[0] != TEMPLATE_LABEL) for key in keys]
        grow_of = np.array([group_row.get(g, len(group_keys)) for g in of_row], dtype=np.int64)
        n = np.concatenate([sampled, np.zeros((1, n_t))])[grow_of]
        has_total = np.array([g in total for g in of_row], dtype=bool)
        big = np.array([total.get(g, np.zeros(n_t)) for g in of_row]).reshape(len(keys), n_t)
        values = np.where(has_total[:, None], _scale(values, n, big, self.shrink), np.where(fallback, np.nan, values))
        return Batch(timestamps, values, tuple(keys), step)

    def _event(self, tid: int, masked: str, level: str, group: Labels, at: int) -> AlertEvent:
        template = self.miner.template(tid)
        labels = labels_key({**dict(group), TEMPLATE_LABEL: str(tid)})
        example = _clip_example(masked)
        return AlertEvent(
            status="firing",
            watch=self.watch,
            labels=labels,
            starts_at=at,
            at=at,
            kind="new_pattern",
            severity=self.severity,
            value=1.0,
            summary=f"{self.watch}: new {level} log pattern: {template[:200]}",
            description=f"template {tid}: {template[:_EXAMPLE_CHARS]}\nexample (masked): {example}",
        )


def _scale(sampled: np.ndarray, n: np.ndarray, total: np.ndarray, shrink: float) -> np.ndarray:
    """(group, template) rows (or one row): sampled counts -> estimated counts (see the module doc).

    The template's share of a step's sampled lines is shrunk toward its share
    over the whole cycle by ``shrink`` pseudo-lines, weighted by the unsampled
    fraction: a complete step stays exact, a step with one sampled line does
    not turn into "all N lines were this template"; a step with lines but none
    sampled is missing.

    >>> _scale(np.array([2.0, 0, 1, 0]), np.array([4.0, 0, 1, 0]), np.array([4.0, 0, 5, 3]), 5.0).tolist()
    [2.0, 0.0, 3.4, nan]
    """
    big = np.fmax(total, n)  # never below the sample (documents that arrived between the two queries)
    share = sampled.sum(axis=-1, keepdims=True) / np.maximum(n.sum(axis=-1, keepdims=True), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        a = shrink * (1.0 - n / big)
        est = big * (sampled + a * share) / (n + a)
    return np.where(n > 0, est, np.where(total == 0, 0.0, np.nan))


def _template_of(key: Labels) -> int:
    """The template id of a (group, template) series."""
    return int(dict(key)[TEMPLATE_LABEL])


def _clip_example(masked: str) -> str:
    return masked if len(masked) <= _EXAMPLE_CHARS else masked[: _EXAMPLE_CHARS - 3] + "..."


def _totals(counts: Batch | None, timestamps: np.ndarray, step: int) -> dict[Labels, np.ndarray]:
    """Each group's line count on ``timestamps`` (NaN where the counts batch has no value)."""
    if counts is None or counts.step != step:
        return {}
    cols = np.searchsorted(counts.timestamps, timestamps)
    hit = (cols < counts.n_steps) & (counts.timestamps[np.minimum(cols, max(counts.n_steps - 1, 0))] == timestamps) \
        if counts.n_steps else np.zeros(len(timestamps), dtype=bool)
    out = {}
    for r, key in enumerate(counts.labels):
        row = np.full(len(timestamps), np.nan)
        row[hit] = counts.values[r, cols[hit]]
        out[key] = row
    return out


def stack_series(a: Batch, b: Batch) -> Batch:
    """The series of ``a`` and then those of ``b`` (same grid) in one batch."""
    if not np.array_equal(a.timestamps, b.timestamps) or a.step != b.step:
        raise ValueError("stack_series needs batches on the same grid")
    return Batch(a.timestamps, np.vstack([a.values, b.values]), a.labels + b.labels, a.step)
