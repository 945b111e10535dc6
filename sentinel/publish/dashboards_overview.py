"""The overview dashboard: fleet health, active anomalies, capacity runway, sentinel's own health.

It is the landing page: every number on it comes from sentinel's exported
metrics, so it works for any fleet whatever its own metric names are.
"Anomalous" uses each watch's own alert threshold (the same one the rule
files use), not one global cut-off.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders.dashboard import Dashboard, DashboardLink, Row, ThresholdsConfig
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    GraphDrawStyle,
    StackingMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import DashboardLinkType, Threshold, ThresholdsMode

from sentinel.config import Config, WatchConfig
from sentinel.publish import dashboards_common as c
from sentinel.publish.dashboards_vars import base_dashboard, watch_variable

W = '~$watch'


def anomalous(watches: list[WatchConfig]) -> str:
    """Series whose score is at or over their own watch's threshold, as one PromQL expression.

    >>> from sentinel.config import WatchConfig
    >>> anomalous([WatchConfig(name="a", query="up"), WatchConfig(name="b", query="up", alert={"threshold": 0.9})])
    '(sentinel_anomaly_score{watch="a", watch=~"$watch"} >= 0.99 or \
sentinel_anomaly_score{watch="b", watch=~"$watch"} >= 0.9)'
    """
    parts = [f"{c.SCORE}{{watch=\"{w.name}\", watch=~\"$watch\"}} >= {w.alert.threshold:g}"
             for w in watches if w.detector is not None]
    return "(" + " or ".join(parts) + ")" if parts else f"({c.SCORE}{{watch=~\"$watch\"}} >= 0.99)"


def _stat(pid: int, title: str, expr: str, unit: str, steps: list[Threshold], desc: str) -> stat.Panel:
    return (
        stat.Panel()
        .id(pid)
        .title(title)
        .description(desc)
        .datasource(c.DATASOURCE)
        .span(6)
        .height(4)
        .unit(unit)
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.AREA)
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        .with_target(c.target(expr, "A", title))
    )


def _series(pid: int, title: str, desc: str, *targets: tuple[str, str]) -> timeseries.Panel:
    panel = timeseries.Panel().id(pid).title(title).description(desc).datasource(c.DATASOURCE).span(12).height(8)
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(c.target(expr, chr(ord("A") + i), legend))
    return panel


def _green_red(red_at: float) -> list[Threshold]:
    return [Threshold(value=None, color="green"), Threshold(value=red_at, color="red")]


def fleet_row(dash: Dashboard, config: Config) -> Dashboard:
    hot = anomalous(config.watches)
    scored = f'{c.SCORE}{{watch=~"$watch"}}'
    dash = dash.with_row(Row("Fleet health").id(1))
    dash = dash.with_panel(_stat(2, "Firing alerts", f'sum({c.sel(c.ALERTS_FIRING, watch=W)}) or vector(0)', "none",
                                 _green_red(1), "Alerts sentinel currently holds firing (all severities)."))
    dash = dash.with_panel(_stat(
        3, "Critical alerts", f'sum({c.sel(c.ALERTS_FIRING, watch=W, severity="critical")}) or vector(0)', "none",
        _green_red(1), "Firing alerts with severity=critical."))
    dash = dash.with_panel(_stat(4, "Series watched", f"sum({c.sel(c.SERIES_TRACKED, watch=W)})", "none",
                                 [Threshold(value=None, color="blue")], "Series modelled across the selected watches."))
    healthy = f"1 - ((count({hot}) or vector(0)) / count({scored}))"
    dash = dash.with_panel(_stat(5, "Healthy series", healthy, "percentunit",
                                 [Threshold(value=None, color="red"), Threshold(value=0.95, color="orange"),
                                  Threshold(value=0.99, color="green")],
                                 "Share of scored series under their watch's alert threshold."))
    by_sev = _series(6, "Active anomalies by watch and severity", "Firing alerts per watch and severity.",
                     (f"sum by (watch, severity) ({c.sel(c.ALERTS_FIRING, watch=W)})", "{{watch}} {{severity}}"))
    by_sev = by_sev.draw_style(GraphDrawStyle.BARS).fill_opacity(80)
    by_sev = by_sev.stacking(cb.StackingConfig().mode(StackingMode.NORMAL))
    dash = dash.with_panel(by_sev)
    over = _series(7, "Series over their alert threshold",
                   "Series per watch whose score is at or over the watch's threshold right now; the alert's `for` "
                   "decides whether it fires (about 1% of normal points cross a 0.99 threshold).",
                   (f"count by (watch) ({hot})", "{{watch}}"))
    dash = dash.with_panel(over.draw_style(GraphDrawStyle.BARS).fill_opacity(60).min(0).decimals(0))
    top = (
        bargauge.Panel().id(8).title("Most anomalous series now").datasource(c.DATASOURCE).span(24).height(8)
        .description("The 10 highest scores right now, across the selected watches.")
        .min(0).max(1).orientation(VizOrientation.HORIZONTAL).display_mode(BarGaugeDisplayMode.GRADIENT)
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
            [Threshold(value=None, color="green"), Threshold(value=0.95, color="orange"),
             Threshold(value=0.99, color="red")]))
        .with_target(c.target(f"topk(10, {scored})", "A", "{{watch}} {{agent}}", instant=True))
    )
    return dash.with_panel(top)


def capacity_row(dash: Dashboard, config: Config) -> Dashboard:
    ttl = c.sel(c.TIME_TO_LIMIT, watch=W)
    warn = min((w.forecast.warn_within for w in config.watches if w.forecast), default=86400)
    crit = min((w.forecast.critical_within for w in config.watches if w.forecast), default=4 * 3600)
    steps = [Threshold(value=None, color="red"), Threshold(value=float(crit), color="orange"),
             Threshold(value=float(warn), color="green")]
    dash = dash.with_row(Row("Capacity runway").id(10))
    runway = (
        bargauge.Panel().id(11).title("Shortest runway").datasource(c.DATASOURCE).span(12).height(8)
        .description("Series closest to their limit (sentinel_time_to_limit_seconds). Absent: no limit in sight.")
        .unit("s").min(0).orientation(VizOrientation.HORIZONTAL).display_mode(BarGaugeDisplayMode.GRADIENT)
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        .with_target(c.target(f"bottomk(10, {ttl})", "A", "{{watch}} {{agent}}", instant=True))
    )
    dash = dash.with_panel(runway)
    trend = _series(12, "Runway over time", "Shortest time to limit per watch.",
                    (f"min by (watch) ({ttl})", "{{watch}}"))
    trend = trend.unit("s").min(0).thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
    return dash.with_panel(trend)


def health_row(dash: Dashboard) -> Dashboard:
    self_link = (DashboardLink("sentinel self-monitoring").type(DashboardLinkType.LINK)
                 .url(f"/d/{c.dashboard_uid('self')}?${{__url_time_range}}"))
    dash = dash.with_row(Row("sentinel health").id(20))
    panels = [
        _stat(21, "Oldest successful cycle", f"max(time() - {c.sel(c.LAST_SUCCESS, watch=W)})", "s",
              [Threshold(value=None, color="green"), Threshold(value=600, color="red")],
              "Seconds since the stalest watch last completed a cycle."),
        _stat(22, "Source errors /min", f"sum(rate({c.sel(c.SOURCE_ERRORS, watch=W)}[5m])) * 60 or vector(0)",
              "none", _green_red(0.1), "Failed fetches from Prometheus / Elasticsearch."),
        _stat(23, "Alerts held for re-sending", f"sum({c.OUTBOX}) or vector(0)", "none", _green_red(500),
              "The notifier's persisted alert state (firing + recently resolved)."),
        _stat(24, "Failed notifications /min", f"sum(rate({c.ALERTS_FAILED}[5m])) * 60 or vector(0)", "none",
              _green_red(0.1), "Alertmanager sends that failed; the next cycle re-sends."),
    ]
    for p in panels:
        dash = dash.with_panel(p.links([self_link]))
    return dash


def overview_dashboard(config: Config) -> Dashboard:
    dash = base_dashboard("overview", "sentinel / overview", config, "now-6h")
    dash = dash.description("Fleet health, active anomalies, capacity runway and sentinel's own health.")
    dash = dash.with_variable(watch_variable(c.SERIES_TRACKED))
    dash = fleet_row(dash, config)
    dash = capacity_row(dash, config)
    return health_row(dash)
