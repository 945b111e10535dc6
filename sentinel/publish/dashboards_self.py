"""The self-monitoring dashboard: is sentinel itself keeping up?

Cycle latency and freshness per watch, series tracked, series forgotten and
refused (:mod:`sentinel.retention`), source errors, model fit time, and the
notification path (sent, failed, alert state size).  The
same signals drive the dead-man's-switch and self-failure rules.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row

from sentinel.config import Config
from sentinel.publish import dashboards_common as c
from sentinel.publish.dashboards_vars import base_dashboard, watch_variable

W = "~$watch"
RATE = "$__rate_interval"


def _panel(pid: int, title: str, unit: str, desc: str, *targets: tuple[str, str]) -> timeseries.Panel:
    panel = (timeseries.Panel().id(pid).title(title).description(desc).datasource(c.DATASOURCE)
             .span(12).height(8).unit(unit))
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(c.target(expr, chr(ord("A") + i), legend))
    return panel


def self_dashboard(config: Config) -> Dashboard:
    cycles = c.sel(f"{c.CYCLE_DURATION}_bucket", watch=W)
    cycles_total = c.sel(c.CYCLES, watch=W)
    fit_sum, fit_count = c.sel(f"{c.MODEL_FIT}_sum", watch=W), c.sel(f"{c.MODEL_FIT}_count", watch=W)
    dash = base_dashboard("self", "sentinel / self-monitoring", config, "now-6h")
    dash = dash.description("sentinel's own health: cycles, sources, models, notifications.")
    dash = dash.with_variable(watch_variable(c.SERIES_TRACKED))
    dash = dash.with_row(Row("Cycles").id(1))
    dash = dash.with_panel(_panel(
        2, "Cycle duration p50 / p95", "s", "Wall time of one watch cycle (fetch, score, decide, publish).",
        (f"histogram_quantile(0.95, sum by (watch, le) (rate({cycles}[{RATE}])))", "p95 {{watch}}"),
        (f"histogram_quantile(0.5, sum by (watch, le) (rate({cycles}[{RATE}])))", "p50 {{watch}}")))
    dash = dash.with_panel(_panel(
        3, "Seconds since last successful cycle", "s", "Grows without bound when a watch is stuck or failing.",
        (f"time() - {c.sel(c.LAST_SUCCESS, watch=W)}", "{{watch}}")))
    dash = dash.with_panel(_panel(
        4, "Cycles per minute by outcome", "none", "Cycles per watch: ok, idle (no new data) or error.",
        (f"sum by (watch, outcome) (rate({cycles_total}[{RATE}])) * 60", "{{watch}} {{outcome}}")))
    dash = dash.with_panel(_panel(
        5, "Series tracked", "none", "Series modelled per watch (label explosions show here first).",
        (c.sel(c.SERIES_TRACKED, watch=W), "{{watch}}")))
    dash = dash.with_row(Row("Series retention").id(30))
    dash = dash.with_panel(_panel(
        31, "Series forgotten per minute by reason", "none",
        "State dropped per watch: retention (no value for series_retention) or limit (the longest-absent, over "
        "max_tracked_series). A series that returns starts fresh (it warms up like a new one).",
        (f"sum by (watch, reason) (rate({c.sel(c.SERIES_FORGOTTEN, watch=W)}[{RATE}])) * 60",
         "{{watch}} {{reason}}")))
    dash = dash.with_panel(_panel(
        32, "New series refused per minute", "none",
        "New series not scored (no alerts): max_tracked_series reached with no absent series to forget. "
        "Anything above 0 is a blind spot: raise max_tracked_series, shorten series_retention or split the watch.",
        (f"sum by (watch, reason) (rate({c.sel(c.SERIES_REFUSED, watch=W)}[{RATE}])) * 60",
         "{{watch}} {{reason}}")))
    dash = dash.with_row(Row("Sources and models").id(10))
    dash = dash.with_panel(_panel(
        11, "Source errors per minute", "none", "Failed fetches by source and watch.",
        (f"sum by (source, watch) (rate({c.sel(c.SOURCE_ERRORS, watch=W)}[{RATE}])) * 60", "{{source}} {{watch}}")))
    dash = dash.with_panel(_panel(
        12, "Mean model fit time", "s", "Time spent fitting/updating models per watch.",
        (f"sum by (watch) (rate({fit_sum}[{RATE}])) / sum by (watch) (rate({fit_count}[{RATE}]))", "{{watch}}")))
    dash = dash.with_row(Row("Notifications").id(20))
    dash = dash.with_panel(_panel(
        21, "Alerts sent / failed per minute", "none", "Alertmanager deliveries; failures are re-sent next cycle.",
        (f"sum(rate({c.ALERTS_SENT}[{RATE}])) * 60", "sent"),
        (f"sum by (reason) (rate({c.ALERTS_FAILED}[{RATE}])) * 60", "failed {{reason}}")))
    dash = dash.with_panel(_panel(
        22, "Alert state size", "none", "Firing + recently resolved alerts held for re-sending; should not grow.",
        (f"sum by (state) ({c.OUTBOX})", "alert state {{state}}"),
        (f"sum by (severity) ({c.sel(c.ALERTS_FIRING, watch=W)})", "firing {{severity}}")))
    return dash
