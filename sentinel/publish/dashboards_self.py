"""The self-monitoring dashboard: is sentinel itself keeping up?

One row per part of the daemon, so an SRE sees every queue, drop, error and
latency sentinel exports: cycles and their stages, series retention
(:mod:`sentinel.retention`), sources, models and forecasts, the notification
path (queue, drops, Alertmanager and Grafana calls), checkpoints and config
reloads, and the logs path.  Per-series outputs (scores, bands, forecasts)
are on the watch dashboards; ``tests/test_grafana_self.py`` keeps the two
lists complete.  The same signals drive the dead-man's-switch and
self-failure rules.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row

from sentinel.config import Config
from sentinel.forecast import metrics as fm
from sentinel.publish import dashboards_common as c
from sentinel.publish import metrics as m
from sentinel.publish.dashboards_vars import base_dashboard, watch_variable

W = "~$watch"
RATE = "$__rate_interval"


def _panel(pid: int, title: str, unit: str, desc: str, *targets: tuple[str, str]) -> timeseries.Panel:
    panel = (timeseries.Panel().id(pid).title(title).description(desc).datasource(c.DATASOURCE)
             .span(12).height(8).unit(unit))
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(c.target(expr, chr(ord("A") + i), legend))
    return panel


def _per_min(metric: str, by: str, **matchers: str) -> str:
    """A counter's rate per minute, summed by ``by`` (empty: one total).

    >>> _per_min("x_total", "watch", watch="~$watch")
    'sum by (watch) (rate(x_total{watch=~"$watch"}[$__rate_interval])) * 60'
    """
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({c.sel(metric, **matchers)}[{RATE}])) * 60"


def _quantile(q: float, histogram: str, by: str, **matchers: str) -> str:
    """The ``q`` quantile of a histogram over the rate interval, per ``by``."""
    grouping = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({grouping}) (rate({c.sel(histogram + '_bucket', **matchers)}[{RATE}])))"


def _increase(metric: str, by: str, **matchers: str) -> str:
    """How often a rare event (a restore, a reload) happened in the interval."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (increase({c.sel(metric, **matchers)}[{RATE}]))"


def _cycles(dash: Dashboard) -> Dashboard:
    dash = dash.with_row(Row("Cycles").id(1))
    dash = dash.with_panel(_panel(
        2, "Cycle duration p50 / p95", "s", "Wall time of one watch cycle (fetch, score, decide, publish).",
        (_quantile(0.95, c.CYCLE_DURATION, "watch", watch=W), "p95 {{watch}}"),
        (_quantile(0.5, c.CYCLE_DURATION, "watch", watch=W), "p50 {{watch}}")))
    dash = dash.with_panel(_panel(
        3, "Seconds since last successful cycle", "s", "Grows without bound when a watch is stuck or failing.",
        (f"time() - {c.sel(c.LAST_SUCCESS, watch=W)}", "{{watch}}")))
    dash = dash.with_panel(_panel(
        4, "Cycles per minute by outcome", "none", "Cycles per watch: ok, idle (no new data) or error.",
        (f"{_per_min(c.CYCLES, 'watch, outcome', watch=W)}", "{{watch}} {{outcome}}")))
    dash = dash.with_panel(_panel(
        5, "Series tracked", "none", "Series modelled per watch (label explosions show here first).",
        (c.sel(c.SERIES_TRACKED, watch=W), "{{watch}}")))
    dash = dash.with_panel(_panel(
        6, "Cycle errors per minute by reason", "none",
        "Failed cycles per watch: source (no data fetched), data (unusable data) or internal (a bug: see the log).",
        (_per_min(m.CYCLE_ERRORS, "watch, reason", watch=W), "{{watch}} {{reason}}")))
    dash = dash.with_panel(_panel(
        7, "Cycle stage duration p95", "s",
        "Which stage (fetch, patterns, prune, score, decide, publish) makes a cycle slow.",
        (_quantile(0.95, m.CYCLE_STAGE_DURATION, "watch, stage", watch=W), "{{watch}} {{stage}}")))
    dash = dash.with_panel(_panel(
        8, "Data lag: seconds behind the newest processed sample", "s",
        "Now minus the watch's cursor: grows when the source is late or cycles fall behind.",
        (f"time() - {c.sel(m.DATA_TIMESTAMP, watch=W)}", "{{watch}}")))
    dash = dash.with_panel(_panel(
        9, "Watches ready", "none", "1 once a watch completed its first cycle; 0 while it restores or keeps failing.",
        (c.sel(m.WATCH_READY, watch=W), "{{watch}}")))
    return dash


def _retention(dash: Dashboard) -> Dashboard:
    dash = dash.with_row(Row("Series retention").id(30))
    dash = dash.with_panel(_panel(
        31, "Series forgotten per minute by reason", "none",
        "State dropped per watch: retention (no value for series_retention), limit (the longest-absent, over "
        "max_tracked_series) or removed (its scrape target left Prometheus' service discovery). A series that "
        "returns starts fresh (it warms up like a new one). Lookups: the `up` queries that tell removed targets "
        "from dead ones, by outcome (failed: their absent alerts page as if every target were still configured).",
        (_per_min(c.SERIES_FORGOTTEN, "watch, reason", watch=W), "{{watch}} {{reason}}"),
        (_per_min(m.SOURCE_TARGET_LOOKUPS, "watch, outcome", watch=W), "lookups {{watch}} {{outcome}}")))
    return dash.with_panel(_panel(
        32, "New series refused per minute", "none",
        "New series not scored (no alerts): max_tracked_series reached with no absent series to forget. "
        "Anything above 0 is a blind spot: raise max_tracked_series, shorten series_retention or split the watch.",
        (_per_min(c.SERIES_REFUSED, "watch, reason", watch=W), "{{watch}} {{reason}}")))


def _sources(dash: Dashboard) -> Dashboard:
    dash = dash.with_row(Row("Sources").id(10))
    dash = dash.with_panel(_panel(
        11, "Source errors per minute", "none", "Failed fetches (after retries) by source, watch and reason.",
        (_per_min(c.SOURCE_ERRORS, "source, watch, reason", watch=W), "{{source}} {{watch}} {{reason}}")))
    dash = dash.with_panel(_panel(
        17, "Source requests per minute by outcome", "none",
        "HTTP requests to each source: ok, http_5xx, http_4xx, timeout, connection, bad_response.",
        (_per_min(m.SOURCE_REQUESTS, "source, watch, outcome", watch=W), "{{source}} {{watch}} {{outcome}}")))
    dash = dash.with_panel(_panel(
        13, "Source request latency p95", "s", "Wall time of one request, including the server's query time.",
        (_quantile(0.95, m.SOURCE_REQUEST_DURATION, "source, watch", watch=W), "{{source}} {{watch}}")))
    dash = dash.with_panel(_panel(
        14, "Series returned per watch", "none", "Series in the last successful fetch (before the series cap).",
        (f"sum by (source, watch) ({c.sel(m.SOURCE_SERIES, watch=W)})", "{{source}} {{watch}}")))
    dash = dash.with_panel(_panel(
        15, "Series dropped and samples repaired per minute", "none",
        "Dropped: series over the watch's series cap (label explosion, not scored). Non-finite: NaN/Inf samples "
        "treated as missing. Resets: counter drops repaired.",
        (_per_min(m.SOURCE_SERIES_DROPPED, "watch", watch=W), "dropped {{watch}}"),
        (_per_min(m.SOURCE_NONFINITE, "watch", watch=W), "non-finite {{watch}}"),
        (_per_min("sentinel_source_reset_repairs_total", "watch", watch=W), "resets {{watch}}")))
    return dash.with_panel(_panel(
        16, "Source retries per minute", "none", "Requests retried after a transient failure (a slow or flaky source).",
        (_per_min("sentinel_source_retries_total", "source, watch", watch=W), "{{source}} {{watch}}")))


def _models(dash: Dashboard) -> Dashboard:
    fit_sum, fit_count = c.sel(f"{c.MODEL_FIT}_sum", watch=W), c.sel(f"{c.MODEL_FIT}_count", watch=W)
    dash = dash.with_row(Row("Models and forecasts").id(40))
    dash = dash.with_panel(_panel(
        12, "Mean model fit time", "s", "Time the watch's models spent scoring and learning per cycle.",
        (f"sum by (watch) (rate({fit_sum}[{RATE}])) / sum by (watch) (rate({fit_count}[{RATE}]))", "{{watch}}")))
    dash = dash.with_panel(_panel(
        41, "Batch detector fit time p95 / refits per minute", "s",
        "Fit time of batch detectors (by detector) and refits of retrained ones (by model and result: skipped "
        "means too little history, error means the model refused the window).",
        (_quantile(0.95, "sentinel_batch_fit_seconds", "detector"), "fit p95 {{detector}}"),
        (_per_min("sentinel_retrain_fits_total", "model, result"), "refits/min {{model}} {{result}}")))
    dash = dash.with_panel(_panel(
        42, "Stale points skipped per minute", "none",
        "Points a detector skipped because they were at or before its last learned time (a source rewinding).",
        (_per_min("sentinel_detector_stale_points_total", "detector"), "{{detector}}")))
    dash = dash.with_panel(_panel(
        43, "Forecast fit time p95", "s", "Time to select, fit and forecast one series, per watch.",
        (_quantile(0.95, fm.FIT_SECONDS, "watch", watch=W), "{{watch}}")))
    return dash.with_panel(_panel(
        44, "Forecast failures / screened series per minute", "none",
        "Failures (by reason) are series with no forecast; screened ones had no plausible trend toward the limit.",
        (_per_min(fm.FAILURES, "watch, reason", watch=W), "failed {{watch}} {{reason}}"),
        (_per_min(fm.SCREENED, "watch", watch=W), "screened {{watch}}")))


def _notifications(dash: Dashboard) -> Dashboard:
    dash = dash.with_row(Row("Notifications").id(20))
    dash = dash.with_panel(_panel(
        21, "Alerts sent / failed per minute", "none", "Alertmanager deliveries; failures are re-sent next cycle.",
        (_per_min(c.ALERTS_SENT, ""), "sent"),
        (_per_min(c.ALERTS_FAILED, "reason"), "failed {{reason}}")))
    dash = dash.with_panel(_panel(
        22, "Alert state size", "none", "Firing + recently resolved alerts held for re-sending; should not grow.",
        (f"sum by (state) ({c.OUTBOX})", "alert state {{state}}"),
        (f"sum by (severity) ({c.sel(c.ALERTS_FIRING, watch=W)})", "firing {{severity}}")))
    dash = dash.with_panel(_panel(
        23, "Send queue length / capacity", "none", "Alerts waiting to be sent; at capacity new alerts are dropped.",
        (m.NOTIFICATIONS_QUEUE_LENGTH, "queued"), (m.NOTIFICATIONS_QUEUE_CAPACITY, "capacity")))
    dash = dash.with_panel(_panel(
        24, "Alerts dropped / superseded, outbox write errors per minute", "none",
        "Dropped: the send queue was full (lost). Superseded: a newer state of the same alert replaced an unsent "
        "one (expected). Write errors: the store refused a write (kept in memory, retried).",
        (_per_min(m.NOTIFICATIONS_DROPPED, ""), "dropped"),
        (_per_min(m.NOTIFICATIONS_SUPERSEDED, ""), "superseded"),
        (_per_min(m.OUTBOX_WRITE_ERRORS, ""), "outbox write errors")))
    dash = dash.with_panel(_panel(
        25, "Alertmanager POST latency p50 / p95", "s", "Wall time of one batch POST to Alertmanager.",
        (_quantile(0.95, m.NOTIFICATION_LATENCY, ""), "p95"),
        (_quantile(0.5, m.NOTIFICATION_LATENCY, ""), "p50")))
    dash = dash.with_panel(_panel(
        26, "Seconds since Alertmanager accepted a batch", "s",
        "Grows while Alertmanager is down or refusing; it also grows when there is nothing to send.",
        (f"time() - {m.NOTIFICATION_LAST_SUCCESS}", "seconds")))
    dash = dash.with_panel(_panel(
        27, "Alert transitions per minute by status", "none", "Alert decisions per watch (firing, resolved, ...).",
        (_per_min(m.ALERT_EVENTS, "watch, status", watch=W), "{{watch}} {{status}}")))
    return dash.with_panel(_panel(
        28, "Grafana API calls / errors per minute, latency p95", "none",
        "Dashboard pushes and annotations by operation; latency p95 in seconds.",
        (_per_min("sentinel_grafana_requests_total", "operation"), "calls {{operation}}"),
        (_per_min("sentinel_grafana_errors_total", "operation"), "errors {{operation}}"),
        (_quantile(0.95, "sentinel_grafana_request_duration_seconds", "operation"), "p95 s {{operation}}")))


def _checkpoints(dash: Dashboard) -> Dashboard:
    dash = dash.with_row(Row("Checkpoints and reloads").id(50))
    dash = dash.with_panel(_panel(
        51, "Checkpoints written / failed per minute", "none",
        "Watch checkpoints (model + policy + cursor) and model files by result; failures lose progress on restart.",
        (_per_min(m.CHECKPOINTS, "watch", watch=W), "written {{watch}}"),
        (_per_min(m.CHECKPOINT_ERRORS, "watch", watch=W), "failed {{watch}}"),
        (_per_min("sentinel_model_checkpoint_saves_total", "result"), "model files {{result}}")))
    dash = dash.with_panel(_panel(
        52, "Checkpoint write time p95", "s", "Wall time of one watch checkpoint and of one model file.",
        (_quantile(0.95, m.CHECKPOINT_DURATION, "watch", watch=W), "{{watch}}"),
        (_quantile(0.95, "sentinel_model_checkpoint_save_seconds", ""), "model file")))
    dash = dash.with_panel(_panel(
        53, "Checkpoint restores and model loads by result", "none",
        "At start: restored, or started fresh because params, structure or config changed, or unreadable.",
        (_increase(m.CHECKPOINT_RESTORES, "watch, result", watch=W), "{{watch}} {{result}}"),
        (_increase("sentinel_model_checkpoint_loads_total", "result"), "model load {{result}}")))
    return dash.with_panel(_panel(
        54, "Config reloads applied / refused", "none", "SIGHUP reloads; a refused one keeps the old config.",
        (_increase(m.CONFIG_RELOADS, ""), "applied"), (_increase(m.CONFIG_RELOAD_ERRORS, ""), "refused")))


def _logs(dash: Dashboard) -> Dashboard:
    dash = dash.with_row(Row("Logs").id(60))
    dash = dash.with_panel(_panel(
        61, "Log lines per minute: mined, truncated, over the template cap", "none",
        "Lines mined into templates; truncated at the maximum line length; matching no template after the cap.",
        (_per_min("sentinel_log_lines_mined_total", "watch", watch=W), "mined {{watch}}"),
        (_per_min("sentinel_log_lines_truncated_total", "watch", watch=W), "truncated {{watch}}"),
        (_per_min("sentinel_log_template_overflow_lines_total", "watch", watch=W), "over cap {{watch}}")))
    dash = dash.with_panel(_panel(
        62, "Log templates / template series", "none",
        "Templates known, (group, template) series scored, and templates merged into an older one in the interval "
        "(a variable first word: a process or service name).",
        (c.sel("sentinel_log_templates", watch=W), "templates {{watch}}"),
        (c.sel("sentinel_log_template_series", watch=W), "series {{watch}}"),
        (_increase("sentinel_log_templates_merged_total", "watch", watch=W), "merged {{watch}}")))
    dash = dash.with_panel(_panel(
        63, "Log drops and failures per minute", "none",
        "Template series over logs.max_template_series (not scored), cycles whose sample was cut, failed state "
        "writes, documents Elasticsearch rejected.",
        (_per_min("sentinel_log_template_series_dropped_total", "watch", watch=W), "series dropped {{watch}}"),
        (_per_min("sentinel_elasticsearch_sample_truncated_total", "watch", watch=W), "sample cut {{watch}}"),
        (_per_min("sentinel_log_state_save_errors_total", "watch", watch=W), "state save errors {{watch}}"),
        (_per_min("sentinel_elasticsearch_docs_failed_total", "index"), "docs rejected {{index}}")))
    return dash.with_panel(_panel(
        64, "Log messages sampled, docs written, new patterns per minute", "none",
        "Raw messages fetched for mining, documents bulk-written, new error/warning templates reported.",
        (_per_min("sentinel_elasticsearch_messages_sampled_total", "watch", watch=W), "sampled {{watch}}"),
        (_per_min("sentinel_elasticsearch_docs_written_total", "index"), "written {{index}}"),
        (_per_min("sentinel_log_new_patterns_total", "watch", watch=W), "new patterns {{watch}}")))


def self_dashboard(config: Config) -> Dashboard:
    dash = base_dashboard("self", "sentinel / self-monitoring", config, "now-6h")
    dash = dash.description("sentinel's own health: cycles, sources, models, notifications, checkpoints, logs.")
    dash = dash.with_variable(watch_variable(c.SERIES_TRACKED))
    for add in (_cycles, _retention, _sources, _models, _notifications, _checkpoints, _logs):
        dash = add(dash)
    return dash
