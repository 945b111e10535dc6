"""Every metric name sentinel exports, in one place, and the self-monitoring collectors.

Dashboards (:mod:`sentinel.publish.dashboards_common`), Prometheus rule files
and the README are generated from, or checked against, these constants, so a
rename happens here once.  Names follow Prometheus' rules: ``sentinel_``
prefix, base units (``_seconds``, ``_bytes``), ``_total`` on counters (the
constants of counters carry the ``_total`` the exposition shows; the
prometheus_client objects are created without it, as the library wants).

Result metrics (one sample per series per watch, labelled ``watch`` plus the
series' own labels, see :mod:`sentinel.publish.exporter`):

- ``sentinel_anomaly_score``: latest calibrated score in [0, 1];
- ``sentinel_expected_value{bound="lower|mid|upper"}``: the expected band;
- ``sentinel_forecast_value{horizon="1h|6h|..."}``: forecast at a horizon;
- ``sentinel_time_to_limit_seconds``: forecast time until the watch's limit.

Self-monitoring collectors are created once per registry:

>>> from prometheus_client import CollectorRegistry
>>> reg = CollectorRegistry()
>>> self_metrics(reg) is self_metrics(reg)
True
>>> self_metrics(reg).cycles.labels(watch="w", outcome="ok").inc()
>>> reg.get_sample_value(CYCLES, {"watch": "w", "outcome": "ok"})
1.0
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from sentinel.telemetry import per_registry

# -- results (exporter) ------------------------------------------------------------
ANOMALY_SCORE = "sentinel_anomaly_score"
EXPECTED_VALUE = "sentinel_expected_value"
FORECAST_VALUE = "sentinel_forecast_value"
TIME_TO_LIMIT = "sentinel_time_to_limit_seconds"

# -- cycles (daemon) ---------------------------------------------------------------
CYCLES = "sentinel_cycles_total"
CYCLE_ERRORS = "sentinel_cycle_errors_total"
CYCLE_DURATION = "sentinel_cycle_duration_seconds"
CYCLE_STAGE_DURATION = "sentinel_cycle_stage_duration_seconds"
MODEL_FIT = "sentinel_model_fit_seconds"
SERIES_TRACKED = "sentinel_series_tracked"
SERIES_FORGOTTEN = "sentinel_series_forgotten_total"
SERIES_REFUSED = "sentinel_series_refused_total"
LAST_SUCCESS = "sentinel_last_success_timestamp_seconds"
DATA_TIMESTAMP = "sentinel_data_timestamp_seconds"
WATCH_READY = "sentinel_watch_ready"
CHECKPOINTS = "sentinel_checkpoints_total"
CHECKPOINT_ERRORS = "sentinel_checkpoint_errors_total"
CHECKPOINT_DURATION = "sentinel_checkpoint_duration_seconds"
CHECKPOINT_RESTORES = "sentinel_watch_checkpoint_restores_total"
CONFIG_RELOADS = "sentinel_config_reloads_total"
CONFIG_RELOAD_ERRORS = "sentinel_config_reload_errors_total"

# -- sources (defined in sentinel.sources.metrics; named here for dashboards) ------
SOURCE_ERRORS = "sentinel_source_errors_total"
SOURCE_REQUESTS = "sentinel_source_requests_total"
SOURCE_REQUEST_DURATION = "sentinel_source_request_duration_seconds"
SOURCE_SERIES = "sentinel_source_series"
SOURCE_SERIES_DROPPED = "sentinel_source_series_dropped_total"
SOURCE_NONFINITE = "sentinel_source_nonfinite_samples_total"
SOURCE_TARGET_LOOKUPS = "sentinel_source_target_lookups_total"

# -- alerts and notifications (notifier) -------------------------------------------
ALERTS_ACTIVE = "sentinel_alerts_active"
ALERT_EVENTS = "sentinel_alert_events_total"
OUTBOX_ALERTS = "sentinel_outbox_alerts"
NOTIFICATIONS_SENT = "sentinel_notifications_sent_total"
NOTIFICATIONS_FAILED = "sentinel_notifications_failed_total"
NOTIFICATIONS_DROPPED = "sentinel_notifications_dropped_total"
NOTIFICATIONS_SUPERSEDED = "sentinel_notifications_superseded_total"
OUTBOX_WRITE_ERRORS = "sentinel_outbox_write_errors_total"
NOTIFICATION_LATENCY = "sentinel_notification_latency_seconds"
NOTIFICATIONS_QUEUE_LENGTH = "sentinel_notifications_queue_length"
NOTIFICATIONS_QUEUE_CAPACITY = "sentinel_notifications_queue_capacity"
NOTIFICATION_LAST_SUCCESS = "sentinel_notification_last_success_timestamp_seconds"


def _plain(name: str) -> str:
    """prometheus_client appends ``_total`` to counters itself."""
    return name.removesuffix("_total")


@dataclass(frozen=True)
class SelfMetrics:
    """Collectors the daemon and the notifier update (one set per registry)."""

    cycles: Counter
    cycle_errors: Counter
    cycle_duration: Histogram
    stage_duration: Histogram
    model_fit: Histogram
    series_tracked: Gauge
    series_forgotten: Counter
    series_refused: Counter
    last_success: Gauge
    data_timestamp: Gauge
    watch_ready: Gauge
    checkpoints: Counter
    checkpoint_errors: Counter
    checkpoint_duration: Histogram
    checkpoint_restores: Counter
    config_reloads: Counter
    config_reload_errors: Counter
    alerts_active: Gauge
    alert_events: Counter
    outbox_alerts: Gauge
    sent: Counter
    failed: Counter
    dropped: Counter
    superseded: Counter
    outbox_write_errors: Counter
    latency: Histogram
    queue_length: Gauge
    queue_capacity: Gauge
    notify_last_success: Gauge

    def cycle_failed(self, watch: str, reason: str) -> None:
        self.cycle_errors.labels(watch=watch, reason=reason).inc()
        self.cycles.labels(watch=watch, outcome="error").inc()

    def cycle_done(self, watch: str, outcome: str, seconds: float) -> None:
        self.cycles.labels(watch=watch, outcome=outcome).inc()
        self.cycle_duration.labels(watch=watch).observe(seconds)
        self.last_success.labels(watch=watch).set(time.time())

    def published(
        self, watch: str, statuses: Iterable[str], timings: Mapping[str, float], publish_seconds: float,
        series: int, cursor: int | None,
    ) -> None:
        """One published cycle: its alert transitions, stage timings, model size and data time."""
        for status in statuses:
            self.alert_events.labels(watch=watch, status=status).inc()
        for stage, seconds in timings.items():
            self.stage_duration.labels(watch=watch, stage=stage).observe(seconds)
        self.stage_duration.labels(watch=watch, stage="publish").observe(publish_seconds)
        self.model_fit.labels(watch=watch).observe(timings.get("score", 0.0))
        self.series_tracked.labels(watch=watch).set(series)
        if cursor is not None:
            self.data_timestamp.labels(watch=watch).set(cursor)


    def retained(self, watch: str, forgotten: Mapping[str, Sequence[object]], refused: int) -> None:
        """Series a cycle forgot (by reason) or refused (:mod:`sentinel.retention`)."""
        for reason, keys in forgotten.items():
            self.series_forgotten.labels(watch=watch, reason=reason).inc(len(keys))
        if refused:
            self.series_refused.labels(watch=watch, reason="limit").inc(refused)


_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


@per_registry
def self_metrics(registry: CollectorRegistry = REGISTRY) -> SelfMetrics:
    """The self-monitoring collectors registered in ``registry`` (created on first use)."""
    r = {"registry": registry}
    m = SelfMetrics(
        cycles=Counter(
            _plain(CYCLES), "Watch cycles run, by outcome (ok, idle, error).", ["watch", "outcome"], **r
        ),
        cycle_errors=Counter(
            _plain(CYCLE_ERRORS), "Cycles that failed, by reason (source, data, internal).",
            ["watch", "reason"], **r,
        ),
        cycle_duration=Histogram(
            CYCLE_DURATION, "Wall time of one watch cycle (fetch, score, decide, publish).", ["watch"],
            buckets=_SECONDS, **r,
        ),
        stage_duration=Histogram(
            CYCLE_STAGE_DURATION, "Wall time of one stage of a watch cycle.", ["watch", "stage"],
            buckets=_SECONDS, **r,
        ),
        model_fit=Histogram(
            MODEL_FIT, "Wall time the watch's models spent scoring and learning in one cycle.", ["watch"],
            buckets=_SECONDS, **r,
        ),
        series_tracked=Gauge(_plain(SERIES_TRACKED), "Series a watch keeps state for (bounded by series_retention "
                             "and max_tracked_series).", ["watch"], **r),
        series_forgotten=Counter(
            _plain(SERIES_FORGOTTEN), "Series a watch forgot, by reason (retention: no value for series_retention; "
            "limit: the longest-absent, over max_tracked_series).", ["watch", "reason"], **r,
        ),
        series_refused=Counter(
            _plain(SERIES_REFUSED), "New series a watch did not admit (not scored), by reason (limit: "
            "max_tracked_series reached with no absent series to forget).", ["watch", "reason"], **r,
        ),
        last_success=Gauge(LAST_SUCCESS, "Wall-clock time of the watch's last successful cycle.", ["watch"], **r),
        data_timestamp=Gauge(
            DATA_TIMESTAMP, "Timestamp of the newest sample a watch has processed (its cursor).", ["watch"], **r
        ),
        watch_ready=Gauge(WATCH_READY, "1 once the watch has completed its first cycle.", ["watch"], **r),
        checkpoints=Counter(_plain(CHECKPOINTS), "Model and policy checkpoints written.", ["watch"], **r),
        checkpoint_errors=Counter(_plain(CHECKPOINT_ERRORS), "Checkpoints that failed.", ["watch"], **r),
        checkpoint_duration=Histogram(
            CHECKPOINT_DURATION, "Wall time of writing one watch checkpoint.", ["watch"], buckets=_SECONDS, **r
        ),
        checkpoint_restores=Counter(
            _plain(CHECKPOINT_RESTORES), "Watch checkpoint restores at start, by result (restored, params_changed, "
            "structure_changed, config_changed, unreadable).", ["watch", "result"], **r,
        ),
        config_reloads=Counter(_plain(CONFIG_RELOADS), "Configuration reloads applied (SIGHUP).", **r),
        config_reload_errors=Counter(
            _plain(CONFIG_RELOAD_ERRORS), "Configuration reloads refused (old config kept).", **r
        ),
        alerts_active=Gauge(
            ALERTS_ACTIVE, "Alerts firing now, by watch and severity.", ["watch", "severity"], **r
        ),
        alert_events=Counter(
            _plain(ALERT_EVENTS), "Alert transitions decided, by watch and status.", ["watch", "status"], **r
        ),
        outbox_alerts=Gauge(
            OUTBOX_ALERTS, "Alerts in the notifier's persisted desired state, by state.", ["state"], **r
        ),
        sent=Counter(_plain(NOTIFICATIONS_SENT), "Alerts delivered to Alertmanager.", **r),
        failed=Counter(
            _plain(NOTIFICATIONS_FAILED), "Alerts in batches Alertmanager did not accept, by reason.",
            ["reason"], **r,
        ),
        dropped=Counter(
            _plain(NOTIFICATIONS_DROPPED), "Alerts dropped because the send queue was full.", **r
        ),
        superseded=Counter(
            _plain(NOTIFICATIONS_SUPERSEDED), "Owed alert states never sent because a newer state of the same "
            "Alertmanager alert replaced them (an older episode of the series, or a queued state).", **r
        ),
        outbox_write_errors=Counter(
            _plain(OUTBOX_WRITE_ERRORS), "Notifier writes the store refused (locked or full): delivery marks kept "
            "in memory and written with the next store write, prunes done by the next flush.", **r
        ),
        latency=Histogram(
            NOTIFICATION_LATENCY, "Wall time of one batch POST to Alertmanager.", buckets=_SECONDS, **r
        ),
        queue_length=Gauge(NOTIFICATIONS_QUEUE_LENGTH, "Alerts waiting in the send queue.", **r),
        queue_capacity=Gauge(NOTIFICATIONS_QUEUE_CAPACITY, "Capacity of the send queue.", **r),
        notify_last_success=Gauge(
            NOTIFICATION_LAST_SUCCESS, "Wall-clock time of the last batch Alertmanager accepted.", **r
        ),
    )
    return m
