"""One watch, one cycle: fetch -> score -> forecast -> decide.

A :class:`WatchRunner` is the unit the daemon schedules, ``demo`` and
``backtest`` replay, and notebooks drive by hand.  Each cycle pulls the
samples since the last processed step (the cursor, kept in the store so a
restart fills the gap), runs them through the watch's detector (causal:
score, then learn) and its policy, forecasts the watch's rolling history
when it has a ``forecast`` section, mines log templates for log watches
(per-template count series scored with the group counts, and new-pattern
alerts), and returns what happened.  Outputs
(Alertmanager, /metrics, console, Grafana) consume the :class:`CycleResult`;
the runner itself never talks to them.

>>> from sentinel.config import WatchConfig
>>> w = WatchConfig(name="x", query="up", every="1m")
>>> aligned_end(1_000_030, w)  # last grid point 1_000_020
1000080
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sentinel.alerting.policy import AlertEvent, Policy
from sentinel.config import WatchConfig
from sentinel.detect import build_detector
from sentinel.detect.base import OnlineDetector
from sentinel.detect.scores import Scores
from sentinel.errors import one_line
from sentinel.logs.patterns import stack_series
from sentinel.retention import Decision, SeriesRetention, drop_series, last_value_at
from sentinel.series import Batch, Labels, append_window, format_labels, last_observed
from sentinel.sources.base import Source, SourceError, TargetSource
from sentinel.sources.targets import REMOVED, SLACK
from sentinel.store import Store

if TYPE_CHECKING:  # the forecast stack (statsmodels, scipy) loads only for watches that forecast
    from sentinel.alerting.forecast import ForecastPolicy
    from sentinel.forecast.result import BatchForecast
    from sentinel.forecast.runner import ForecastRunner
    from sentinel.logs.watch import PatternResult

log = logging.getLogger(__name__)


class PatternStage(Protocol):
    """Log template mining for a log watch (:class:`sentinel.logs.watch.LogWatch`).

    ``run`` gets the cycle's group counts and returns the per-(group, template)
    count series (scored with the counts by the watch's detector and policy)
    and the new-pattern transitions; ``annotate`` adds the masked template
    text to alerts on template series; ``confirms`` says whether a
    new-pattern alert is still open (for the daemon's reconcile).
    """

    def run(self, counts: Batch, start: int, end: int) -> PatternResult: ...

    def annotate(self, events: list[AlertEvent]) -> list[AlertEvent]: ...

    def confirms(self, series: Labels, starts_at: int) -> bool: ...

    def forget(self, labels: Iterable[Labels]) -> None: ...


def aligned_end(now: float, watch: WatchConfig) -> int:
    """The exclusive end of the grid a cycle at ``now`` may read: one step past the last grid point <= now.

    A metric sample at ``t`` is the value *at* ``t``; a log watch's count at ``t`` counts the lines of
    ``[t, t + step)``, so it is complete only once ``t + step`` has passed.  Reading the bucket still in
    progress would count a few seconds of it as the whole step (a dip on every group, every cycle), and
    the cursor would move past it for good.

    >>> logs = WatchConfig(name="l", logs={"index": "x"}, every="1m")
    >>> aligned_end(1_000_030, logs)  # the bucket at 1_000_020 runs to 1_000_080: not yet
    1000020
    """
    step = watch.sample_step
    last = int((now - watch.delay) // step) * step
    return last if watch.logs is not None else last + step


@dataclass
class CycleResult:
    """What one cycle saw and decided (everything the outputs need)."""

    watch: str
    batch: Batch
    scores: Scores
    events: list[AlertEvent]
    warmup: bool = False
    forecast: BatchForecast | None = None
    timings: dict[str, float] = field(default_factory=dict)
    forgotten: dict[str, list[Labels]] = field(default_factory=dict)  # reason -> series forgotten this cycle
    refused: int = 0  # new series not admitted this cycle (max_tracked_series)
    tracked: int = 0  # series the watch keeps state for after this cycle

    @property
    def last(self) -> int:
        return self.batch.end


class WatchRunner:
    """Fetch, score and decide for one watch, resuming from the store's cursor."""

    def __init__(
        self,
        cfg: WatchConfig,
        source: Source,
        store: Store | None = None,
        detector: OnlineDetector | None = None,
        warmup: int = 7 * 86400,
        patterns: PatternStage | None = None,
    ) -> None:
        self.cfg = cfg
        self.source = source
        self.store = store
        if detector is None and cfg.detector is not None:
            det_cfg = cfg.detector
            if cfg.logs is not None and "counts" not in det_cfg.params:  # log lines are counts (detect.counts)
                det_cfg = det_cfg.model_copy(update={"params": {**det_cfg.params, "counts": {}}})
            detector = build_detector(det_cfg, step=cfg.sample_step)
        self.detector = detector
        self.policy = Policy(cfg.alert, cfg.name)
        self.forecaster: ForecastRunner | None = None
        self.forecast_policy: ForecastPolicy | None = None  # predictive-alert state (checkpointed with the rest)
        self._forecast_section(cfg)
        self.history: Batch | None = None
        self.patterns = patterns
        self.retention = SeriesRetention()
        self.warmup = warmup
        self.cursor: int | None = store.cursor(cfg.name) if store else None

    def _forecast_section(self, cfg: WatchConfig) -> None:
        """Build the forecaster and predictive-alert policy of ``cfg.forecast`` (or none), keeping the
        alert state of series a policy already holds."""
        old = self.forecast_policy
        self.forecaster = self.forecast_policy = None
        if cfg.forecast is None:
            return
        from sentinel.alerting.forecast import ForecastPolicy
        from sentinel.forecast.runner import ForecastRunner

        self.forecaster = ForecastRunner(cfg)
        if cfg.forecast.limit is not None:
            self.forecast_policy = ForecastPolicy(cfg.forecast, cfg.name)
            if old is not None:
                self.forecast_policy.adopt(old)

    def reconfigure(self, cfg: WatchConfig) -> None:
        """Take a new alert policy and forecast section without losing learned state (detector changes need
        a rebuild).  A changed forecast section forecasts again at the next cycle."""
        forecast_changed = cfg.forecast != self.cfg.forecast
        self.cfg = cfg
        state = self.policy.state_, self.policy.index_
        self.policy = Policy(cfg.alert, cfg.name)
        self.policy.state_, self.policy.index_ = state
        if forecast_changed:
            self._forecast_section(cfg)

    def cycle(self, now: float | None = None) -> CycleResult | None:
        """Process every complete step up to ``now``; None when there is nothing new."""
        now = time.time() if now is None else now
        step = self.cfg.sample_step
        end = aligned_end(now, self.cfg)
        warmup = self.cursor is None
        start = end - self.warmup if warmup else self.cursor + step
        start = max(start, end - self.warmup)  # a long outage catches up on at most `warmup`
        if start >= end:
            return None
        t0 = time.perf_counter()
        batch = self.source.fetch(self.cfg, start, end)
        t_fetch = time.perf_counter()
        found = None
        seen = last_value_at(batch)
        if self.patterns is not None:  # log watch: template count series are scored with the group counts
            found = self.patterns.run(batch, start, end)
            if found.templates is not None and found.templates.n_series:
                t_seen = found.seen_at if found.seen_at is not None else last_value_at(found.templates)
                batch, seen = stack_series(batch, found.templates), np.concatenate([seen, t_seen])
        t1 = time.perf_counter()
        batch, decision = self._retain(batch, seen, batch.end if batch.n_steps else end - step)
        released = self._removed(batch, decision)
        if found is not None and found.absorbed:  # merged log templates: their series end now, not at retention
            self._drop(found.absorbed, "merged", decision)
        t_prune = time.perf_counter()
        if self.detector is not None:
            scores = self.detector.process(batch)
        else:
            scores = Scores.empty(batch.n_series, batch.n_steps)
        t2 = time.perf_counter()
        events = released + self.policy.update(batch, scores) if self.detector is not None else []
        forecast = None
        if self.forecaster is not None and self.cfg.forecast is not None:
            self.history = append_window(self.history, batch, self.cfg.forecast.history)
            if self.forecaster.due(self.history.end):
                forecast = self.forecaster.run(self.history)
                if self.forecast_policy is not None:
                    events += self.forecast_policy.update(forecast)
        if self.patterns is not None and found is not None:
            events = self.patterns.annotate(events) + found.events
        events.sort(key=lambda e: e.at)  # each stage's transitions are in time order; the cycle's are too (stable)
        if warmup:
            events = _still_firing(events)
        if self.store is not None:
            muted = self.store.muted(self.cfg.name)
            if muted:
                events = [e for e in events if e.labels not in muted or e.status == "resolved"]
            self.store.add_events(events)
        t3 = time.perf_counter()
        self.cursor = batch.end if batch.n_steps else end - step
        if self.store is not None:
            self.store.set_cursor(self.cfg.name, self.cursor)
        return CycleResult(
            self.cfg.name, batch, scores, events, warmup, forecast,
            {"fetch": t_fetch - t0, **({"patterns": t1 - t_fetch} if found is not None else {}),
             "prune": t_prune - t1, "score": t2 - t_prune, "decide": t3 - t2},
            decision.forgotten, decision.refused, len(self.retention),
        )

    def _retain(self, batch: Batch, seen: np.ndarray, now: int) -> tuple[Batch, Decision]:
        """Forget series gone for ``series_retention`` (or over ``max_tracked_series``) everywhere, and drop
        the batch's refused new series (:mod:`sentinel.retention`)."""
        cfg = self.cfg
        decision = self.retention.observe(batch.labels, seen, now, cfg.series_retention, cfg.max_tracked_series)
        if decision.forgotten:
            self.forget(decision.gone)
        if decision.admitted is None:
            return batch, decision
        if decision.example is not None:
            log.warning("watch %s tracks its max_tracked_series of %d: %d new series refused (not scored), e.g. %s; "
                        "raise max_tracked_series, shorten series_retention or narrow the query", cfg.name,
                        cfg.max_tracked_series, decision.refused, format_labels(decision.example))
        return batch.select(np.flatnonzero(decision.admitted)), decision

    def _removed(self, batch: Batch, decision: Decision) -> list[AlertEvent]:
        """Forget the vanished series whose scrape target was removed (a fleet scaled down, not an agent gone
        silent: :mod:`sentinel.sources.targets`), resolving their open absent alerts; a failed lookup leaves
        them to page as before."""
        absent_for = self.cfg.alert.absent_for
        if absent_for is None or self.detector is None or not self.cfg.target_labels or \
                not isinstance(self.source, TargetSource):
            return []
        series = self.policy.vanished(batch)
        if not series:
            return []
        window = absent_for + batch.end - int(batch.timestamps[0]) + batch.step + SLACK
        try:
            status = np.asarray(self.source.targets(self.cfg, series, batch.end, window))
            if status.shape != (len(series),):
                raise SourceError(f"watch {self.cfg.name!r}: {status.shape} target verdicts for {len(series)} series")
        except SourceError as exc:
            log.warning("%s; their absent alerts page as if every target were still configured", one_line(exc))
            return []
        gone = [s for s, v in zip(series, status.tolist(), strict=True) if v == REMOVED]
        released = self.policy.removed(gone, batch.end)
        self._drop(gone, "removed", decision)
        return released

    def _drop(self, labels: list[Labels], reason: str, decision: Decision) -> None:
        """Forget ``labels`` everywhere now, counted under ``reason``; the daemon's reconcile then resolves
        any alert left open on them."""
        if labels:
            self.forget(labels)
            self.retention.forget(labels)
            decision.forgotten[reason] = labels

    def forget(self, labels: Sequence[Labels]) -> None:
        """Forget ``labels`` everywhere the watch keeps per-series state (each part compacts its own arrays)."""
        if self.detector is not None:
            self.detector.forget(labels)
        self.policy.forget(labels)
        if self.forecast_policy is not None:
            self.forecast_policy.forget(labels)
        self.history = drop_series(self.history, labels)
        if self.patterns is not None:
            self.patterns.forget(labels)


def _still_firing(events: list[AlertEvent]) -> list[AlertEvent]:
    """After a warm-up replay, keep only the last firing transition of alerts that are still firing."""
    last: dict[tuple[str, str, object], AlertEvent] = {}
    for e in events:
        last[e.key] = e
    return [e for e in last.values() if e.status == "firing"]


def latest_scores(result: CycleResult) -> dict[str, np.ndarray]:
    """The last observed score, value and band per series (what /metrics exports)."""
    vals = result.batch.values
    idx = last_observed(vals)
    rows = np.arange(vals.shape[0])

    def pick(a: np.ndarray) -> np.ndarray:
        return np.where(idx >= 0, a[rows, idx], np.nan)

    s = result.scores
    return {"value": pick(vals), "score": pick(s.score), "expected": pick(s.expected),
            "lower": pick(s.lower), "upper": pick(s.upper)}
