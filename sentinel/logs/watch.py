"""One cycle of one log watch: counts per group, template counts, new error patterns.

This is the logs half of a watch runner.  Each part can fail on its own
(Elasticsearch down, index missing, a rejected query): the failure is one line
in :attr:`LogCycle.errors` and the other part (and every other watch) goes on.
The miner state is saved after every cycle that mined something, so a restart
resumes with the same template ids and does not report known patterns again.

Typical wiring (daemon / tests)::

    source = ElasticsearchSource(cfg.elasticsearch)
    lw = LogWatch(watch, source, state_dir=cfg.store.models_dir / "logs")
    cycle = lw.cycle(start, end)
    # cycle.counts -> the watch's detector + policy, like any metrics batch
    # cycle.templates -> per-template rates, same detectors (labels: template_id)
    # cycle.new_patterns -> AlertEvents (kind "new_pattern") for the notifier/store
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from prometheus_client import CollectorRegistry

from sentinel.alerting.policy import AlertEvent
from sentinel.config import WatchConfig
from sentinel.logs.miner import LogMiner, StateError
from sentinel.logs.patterns import TemplateTracker
from sentinel.series import Batch
from sentinel.sources.base import SourceError
from sentinel.sources.elasticsearch import ElasticsearchSource

log = logging.getLogger(__name__)


@dataclass
class LogCycle:
    """Results of one cycle; a part that failed is ``None`` and its error is in ``errors``."""

    counts: Batch | None = None
    templates: Batch | None = None
    new_patterns: list[AlertEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    template_text: dict[int, str] = field(default_factory=dict)


def state_path(state_dir: Path, watch: str) -> Path:
    """Where a watch's miner state lives."""
    return state_dir / f"{watch}.drain3.json"


class LogWatch:
    """Runs a log watch's cycles against an :class:`ElasticsearchSource`."""

    def __init__(
        self,
        watch: WatchConfig,
        source: ElasticsearchSource,
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
        self._open: dict[tuple[tuple[str, str], ...], AlertEvent] = {}
        self.tracker = TemplateTracker(
            miner, watch=watch.name, levels=watch.logs.new_pattern_levels, severity=watch.alert.severity,
            registry=registry,
        )

    def new_patterns(self, start: int, end: int) -> list[AlertEvent]:
        """The pattern stage of a watch cycle: mine ``[start, end)``, return new-pattern transitions.

        A new pattern is news, not a state: its alert fires once and resolves
        after ``watch.alert.resolve_after`` (at least one hour), so nothing stays
        firing forever.  A failed sample is logged and the counts go on.
        """
        events: list[AlertEvent] = []
        hold = max(self.watch.alert.resolve_after, 3600)
        for key, ev in list(self._open.items()):
            if end - ev.starts_at >= hold:
                events.append(replace(ev, status="resolved", at=end))
                del self._open[key]
        assert self.watch.logs is not None
        if not self.watch.logs.templates:
            return events
        try:
            sample = self.source.sample(self.watch, start, end)
        except SourceError as exc:
            log.warning("%s", exc)
            return events
        result = self.tracker.update(sample, start, end, self.watch.sample_step)
        self.tracker.miner.save()
        for ev in result.new_patterns:
            self._open[ev.labels] = ev
        return events + result.new_patterns

    def cycle(self, start: int, end: int) -> LogCycle:
        """Fetch counts, then (if the watch mines templates) sample, mine and report new patterns."""
        out = LogCycle()
        try:
            out.counts = self.source.fetch(self.watch, start, end)
        except SourceError as exc:
            out.errors.append(str(exc))
        assert self.watch.logs is not None
        if self.watch.logs.templates:
            try:
                sample = self.source.sample(self.watch, start, end)
            except SourceError as exc:
                out.errors.append(str(exc))
            else:
                result = self.tracker.update(sample, start, end, self.watch.sample_step)
                out.templates, out.new_patterns = result.templates, result.new_patterns
                out.template_text = self.tracker.miner.templates()
                self.tracker.miner.save()
        return out
