"""Templates -> per-template count series, and new error patterns -> alert events.

Per cycle, the sampled messages of a log watch are mined
(:class:`~sentinel.logs.miner.LogMiner`) and turned into two things:

* a :class:`~sentinel.series.Batch` with one series per known template
  (identity: ``template_id`` only, because a template's text generalises as it
  learns), counting lines per grid step, so the common detectors score
  per-template rates like any other series.  Steps at or after the sample's
  ``complete_until`` are NaN (not looked at, so missing, not zero);
* :class:`~sentinel.alerting.policy.AlertEvent` s of kind ``new_pattern``: a
  template seen for the first time at one of the watch's
  ``new_pattern_levels`` (error, warn...), once warmed up.  The event carries the
  masked template and one *masked* example line -- never a raw message.

Which templates were already seen at an alerting level is kept in the miner's
metadata, so it survives restarts with the templates themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from prometheus_client import CollectorRegistry

from sentinel.alerting.policy import AlertEvent
from sentinel.logs.metrics import logs_metrics
from sentinel.logs.miner import OVERFLOW_ID, LogMiner
from sentinel.logs.parse import clip
from sentinel.logs.records import Sample
from sentinel.series import Batch, labels_key
from sentinel.sources.base import grid

_EXAMPLE_CHARS = 500


@dataclass(frozen=True)
class TemplateCycle:
    """What one cycle's messages produced."""

    templates: Batch
    new_patterns: list[AlertEvent]


class TemplateTracker:
    """Mines a watch's samples into template count series and new-pattern events (see the module doc)."""

    def __init__(
        self,
        miner: LogMiner,
        *,
        watch: str,
        levels: Sequence[str] = ("error", "warn", "warning", "critical", "fatal"),
        severity: str = "warning",
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.miner = miner
        self.watch = watch
        self.levels = frozenset(lv.lower() for lv in levels)
        self.severity = severity
        self._metrics = logs_metrics(registry)
        self._alerted: set[int] = {int(t) for t in miner.meta.get("alerted", [])}

    @property
    def warmed(self) -> bool:
        """False until the first update: the first cycle learns what exists and reports nothing as new."""
        return bool(self.miner.meta.get("warmed"))

    def update(self, sample: Sample, start: int, end: int, step: int) -> TemplateCycle:
        """Mine ``sample`` and count its lines per template on the grid of ``[start, end)``."""
        first, stop = grid(start, end, step)
        timestamps = np.arange(first, stop, step, dtype=np.int64)
        report = self.warmed
        ids = np.empty(len(sample.records), dtype=np.int64)
        times = np.empty(len(sample.records), dtype=np.float64)
        events: list[AlertEvent] = []
        for i, rec in enumerate(sample.records):
            text, cut = clip(rec.message)
            if cut:
                self._metrics.truncated.labels(self.watch).inc()
            masked = self.miner.mask(text)
            tid = self.miner.add_masked(masked).template_id
            ids[i], times[i] = tid, rec.timestamp
            if rec.level in self.levels and tid != OVERFLOW_ID and tid not in self._alerted:
                self._alerted.add(tid)
                if report:
                    events.append(self._event(tid, masked, rec.level, rec.labels, int(rec.timestamp)))
        self.miner.meta["alerted"] = sorted(self._alerted)
        self.miner.meta["warmed"] = True
        self._metrics.new_patterns.labels(self.watch).inc(len(events))
        return TemplateCycle(self._counts(ids, times, timestamps, step, sample.complete_until), events)

    def _counts(
        self, ids: np.ndarray, times: np.ndarray, timestamps: np.ndarray, step: int, complete_until: float
    ) -> Batch:
        known = sorted(self.miner.templates())
        if (ids == OVERFLOW_ID).any():
            known = [OVERFLOW_ID, *known]
        row_of = {tid: r for r, tid in enumerate(known)}
        values = np.zeros((len(known), len(timestamps)))
        if len(ids) and len(timestamps):
            cols = ((times - timestamps[0]) // step).astype(np.int64)
            ok = (cols >= 0) & (cols < len(timestamps))
            rows = np.fromiter((row_of[int(t)] for t in ids[ok]), dtype=np.int64, count=int(ok.sum()))
            np.add.at(values, (rows, cols[ok]), 1.0)
        values[:, timestamps + step > complete_until] = np.nan
        labels = tuple(labels_key({"template_id": str(t)}) for t in known)
        return Batch(timestamps, values, labels, step)

    def _event(self, tid: int, masked: str, level: str, group: tuple[tuple[str, str], ...], at: int) -> AlertEvent:
        template = self.miner.template(tid)
        labels = labels_key({**dict(group), "template_id": str(tid)})
        example = masked if len(masked) <= _EXAMPLE_CHARS else masked[: _EXAMPLE_CHARS - 3] + "..."
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
