"""The pattern stage of a log watch: template count series and new error patterns.

A log watch's cycle (:class:`~sentinel.watch.WatchRunner`) fetches the
per-group counts from its :class:`~sentinel.logs.records.LogSource`
(Elasticsearch or the simulated fleet's logs), then hands them to
:meth:`LogWatch.run`, which samples the range's messages, mines them and
returns

* the per-(group, template) count series (:mod:`sentinel.logs.patterns`),
  which the runner stacks under the group counts, so the watch's own detector
  and policy score them and their state is checkpointed with the watch's;
* new-pattern transitions (kind ``new_pattern``): a pattern is news, not a
  state, so its alert fires once and resolves after
  ``watch.alert.resolve_after`` (at least one hour).  Open ones are kept in
  the miner's metadata, so a restart still resolves them.

:meth:`LogWatch.annotate` adds the masked template text and a masked example
line to alerts on template series (labels carry only ``template_id``).

A failed sample (node down, index gone) is one line in the log and
``errors``; the counts go on.  The miner state is saved after every cycle that
mined something, so a restart resumes with the same template ids and does not
report known patterns again.

Typical wiring (tests; the daemon does the same through the watch runner)::

    lw = LogWatch(watch, source, state_dir=cfg.store.models_dir / "logs")
    cycle = lw.cycle(start, end)   # counts + templates + new patterns
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from sentinel.alerting.event import AlertEvent
from sentinel.config import WatchConfig
from sentinel.logs.miner import OVERFLOW_ID, LogMiner
from sentinel.logs.patterns import TEMPLATE_LABEL, TemplateTracker
from sentinel.logs.records import LogSource
from sentinel.logs.state_file import StateError
from sentinel.retention import NEVER, last_value_at
from sentinel.series import Batch, Labels, labels_key
from sentinel.sources.base import SourceError

log = logging.getLogger(__name__)


@dataclass
class PatternResult:
    """What the pattern stage adds to a cycle: template series (None if the sample failed) and events."""

    templates: Batch | None = None
    events: list[AlertEvent] = field(default_factory=list)
    error: str | None = None
    seen_at: np.ndarray | None = None  # when each template series last had a value (template_seen_at)
    absorbed: list[Labels] = field(default_factory=list)  # template series merged into others: to forget now


@dataclass
class LogCycle:
    """Results of one stand-alone cycle; a part that failed is ``None`` and its error is in ``errors``."""

    counts: Batch | None = None
    templates: Batch | None = None
    new_patterns: list[AlertEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    template_text: dict[int, str] = field(default_factory=dict)


def state_path(state_dir: Path, watch: str) -> Path:
    """Where a watch's miner state lives."""
    return state_dir / f"{watch}.drain3.json"


class LogWatch:
    """The pattern stage of one log watch (see the module doc)."""

    def __init__(
        self,
        watch: WatchConfig,
        source: LogSource,
        *,
        state_dir: str | Path | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if watch.logs is None:
            raise ValueError(f"watch {watch.name!r} has no `logs:` section")
        self.watch = watch
        self.source = source
        path = None if state_dir is None else state_path(Path(state_dir), watch.name)
        try:
            miner = LogMiner(watch=watch.name, max_templates=watch.logs.max_templates, state_path=path,
                             registry=registry)
        except StateError as exc:
            raise SourceError(f"watch {watch.name!r}: {exc}") from None
        self.tracker = TemplateTracker(
            miner, watch=watch.name, levels=watch.logs.new_pattern_levels, severity=watch.alert.severity,
            max_series=watch.logs.max_template_series, registry=registry,
        )
        self._open: dict[tuple[tuple[str, str], ...], AlertEvent] = {
            ev.labels: ev for ev in (_event_from(d) for d in miner.meta.get("open", []))
        }

    def run(self, counts: Batch | None, start: int, end: int) -> PatternResult:
        """Sample, mine and count ``[start, end)``; ``counts`` (the group counts) scale sampled counts."""
        events: list[AlertEvent] = []
        hold = max(self.watch.alert.resolve_after, 3600)
        for key, ev in list(self._open.items()):
            if end - ev.starts_at >= hold:
                events.append(replace(ev, status="resolved", at=end))
                del self._open[key]
        assert self.watch.logs is not None
        out = PatternResult(events=events)
        if self.watch.logs.templates:
            try:
                sample = self.source.sample(self.watch, start, end)
            except SourceError as exc:
                log.warning("%s", exc)
                out.error = str(exc)
            else:
                result = self.tracker.update(sample, start, end, self.watch.sample_step, counts)
                out.templates, out.absorbed = result.templates, result.absorbed
                if counts is not None:
                    out.seen_at = template_seen_at(counts, result.templates, last_value_at(counts))
                for ev in result.new_patterns:
                    self._open[ev.labels] = ev
                events.extend(result.new_patterns)
        self.tracker.miner.meta["open"] = [_event_doc(e) for e in self._open.values()]
        self.tracker.miner.save()
        return out

    def annotate(self, events: list[AlertEvent]) -> list[AlertEvent]:
        """Alerts on template series get the masked template text and a masked example (in place)."""
        for ev in events:
            tid = dict(ev.labels).get(TEMPLATE_LABEL)
            if ev.kind == "new_pattern" or tid is None:
                continue
            t, miner = int(tid), self.tracker.miner
            root = miner.root(t)
            text = "(template no longer known)" if t != OVERFLOW_ID and root not in miner.templates() \
                else miner.template(t) + (f" (merged into template {root})" if root != t else "")
            example = self.tracker.example(root)
            ev.summary = f"{ev.summary} -- log template: {text[:200]}"
            ev.description = f"{ev.description}\ntemplate {t}: {text[:500]}" + (
                f"\nexample (masked): {example}" if example else "")
        return events

    def forget(self, labels: Iterable[Labels]) -> None:
        """Template series among ``labels`` are gone (:mod:`sentinel.retention`): no longer emitted."""
        self.tracker.forget(labels)

    def confirms(self, series: tuple[tuple[str, str], ...], starts_at: int) -> bool:
        """Whether the new-pattern alert ``(series, starts_at)`` is still open."""
        ev = self._open.get(series)
        return ev is not None and ev.starts_at == starts_at

    def cycle(self, start: int, end: int) -> LogCycle:
        """Fetch counts, then (if the watch mines templates) sample, mine and report new patterns."""
        out = LogCycle()
        try:
            out.counts = self.source.fetch(self.watch, start, end)
        except SourceError as exc:
            out.errors.append(str(exc))
        res = self.run(out.counts, start, end)
        if res.error:
            out.errors.append(res.error)
        out.templates = res.templates
        out.new_patterns = [e for e in res.events if e.status == "firing"]
        if res.templates is not None:
            out.template_text = self.tracker.miner.templates()
        return out


def template_seen_at(counts: Batch, templates: Batch, seen: np.ndarray) -> np.ndarray:
    """When each template series last had a value, for :mod:`sentinel.retention` (``seen``: the group counts').

    Known pairs are emitted every cycle, zeros included, so a template series
    always has values; it lives as long as its group does, or as long as it
    counts lines (a group the counts do not list).

    >>> c = Batch.from_rows([{"g": "a"}], [0, 60], [[3.0, 0.0]])
    >>> t = Batch.from_rows([{"g": "a", "template_id": "1"}, {"g": "b", "template_id": "1"}], [0, 60],
    ...                     [[1.0, 0.0], [0.0, 0.0]])
    >>> template_seen_at(c, t, np.array([60])).tolist() == [60, NEVER]
    True
    """
    group = dict(zip(counts.labels, seen.tolist(), strict=True))
    counted = templates.values > 0
    last = templates.n_steps - 1 - np.argmax(counted[:, ::-1], axis=1) if templates.n_steps else np.zeros(0, int)
    own = np.where(counted.any(axis=1), templates.timestamps[last] if templates.n_steps else NEVER, NEVER)
    of_group = np.fromiter((group.get(tuple(kv for kv in k if kv[0] != TEMPLATE_LABEL), NEVER)
                            for k in templates.labels), dtype=np.int64, count=templates.n_series)
    return np.maximum(own, of_group).astype(np.int64)


def _event_doc(e: AlertEvent) -> dict[str, object]:
    """An open new-pattern alert as JSON (only masked text: it is stored with the miner state)."""
    return {"labels": [list(kv) for kv in e.labels], "starts_at": e.starts_at, "watch": e.watch,
            "severity": e.severity, "summary": e.summary, "description": e.description}


def _event_from(doc: dict[str, object]) -> AlertEvent:
    labels = labels_key(tuple(tuple(kv) for kv in doc["labels"]))  # type: ignore[union-attr]
    at = int(doc["starts_at"])  # type: ignore[call-overload]
    return AlertEvent(status="firing", watch=str(doc["watch"]), labels=labels, starts_at=at, at=at,
                      kind="new_pattern", severity=str(doc["severity"]), value=1.0,
                      summary=str(doc["summary"]), description=str(doc["description"]))
