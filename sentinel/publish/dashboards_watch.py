"""One dashboard per watch group: actual vs expected band vs score, forecasts with their limit.

Each watch gets a row.  The "actual" line is the watch's own PromQL query, so
the operator sees exactly what sentinel saw; the expected band and the score
come from sentinel's exported metrics.  Capacity watches add the forecast
with the limit drawn as a threshold line, and the time left per series.
"""

from __future__ import annotations

import re

from grafana_foundation_sdk.builders import bargauge, common, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row, ThresholdsConfig
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    GraphThresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue, Threshold, ThresholdsMode

from sentinel.config import Config, WatchConfig, format_duration
from sentinel.publish import dashboards_common as c
from sentinel.publish.dashboards_vars import agent_variable, base_dashboard, filters_variable

_BY = re.compile(r"\bby\s*\(([^)]*)\)")
_BAND_COLOR = "#8e8e8e"


def legend_for(query: str | None) -> str:
    """A legend from the query's last ``by (...)`` labels, so sentinel's series and the
    watch's own series get the same names.

    >>> legend_for('histogram_quantile(0.95, sum by (agent, le) (rate(x_bucket[5m])))')
    '{{agent}}'
    >>> legend_for("up")
    '{{agent}}'
    """
    found = _BY.findall(query or "")
    labels = [x.strip() for x in found[-1].split(",") if x.strip() and x.strip() != "le"] if found else []
    return " ".join("{{" + name + "}}" for name in labels or ["agent"])


def _has_promql(watch: WatchConfig, config: Config) -> bool:
    """Only Prometheus-mode metric watches have a query Grafana can run itself."""
    return watch.query is not None and config.prometheus is not None


def _actual(watch: WatchConfig) -> str:
    return c.keep_matching(watch.query or "", "agent", "$agent")


def _legend_opts() -> common.VizLegendOptions:
    legend = common.VizLegendOptions().display_mode(LegendDisplayMode.LIST)
    return legend.placement(LegendPlacement.BOTTOM).show_legend(True)


def _band_style(dashed: bool) -> list[DynamicConfigValue]:
    style = {"fill": "dash", "dash": [10, 10]} if dashed else {"fill": "dot", "dash": [0, 10]}
    return [
        DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": _BAND_COLOR}),
        DynamicConfigValue(id_val="custom.lineStyle", value=style),
        DynamicConfigValue(id_val="custom.lineWidth", value=1),
    ]


def anomaly_panel(watch: WatchConfig, config: Config) -> timeseries.Panel:
    """Actual (the watch's query) against the expected value and its band."""
    legend = legend_for(watch.query)
    panel = (
        timeseries.Panel()
        .id(c.panel_id(watch.name, "anomaly"))
        .title(f"{watch.name}: actual vs expected")
        .description(f"Actual: the watch's query `{watch.query or 'logs'}`. Grey: sentinel's expected value (dotted) "
                     "and band (dashed), from sentinel_expected_value.")
        .datasource(c.DATASOURCE)
        .span(16)
        .height(8)
        .legend(_legend_opts())
        .line_width(2)
    )
    if _has_promql(watch, config):
        panel = panel.with_target(c.target(_actual(watch), "A", legend))
    for ref, bound in (("B", "mid"), ("C", "lower"), ("D", "upper")):
        expr = f"max without (watch, bound) ({c.sel(c.EXPECTED, watch=watch.name, bound=bound, agent='~$agent')})"
        panel = panel.with_target(c.target(expr, ref, f"{bound} {legend}"))
        panel = panel.override_by_query(ref, _band_style(dashed=bound != "mid"))
    return panel


def score_panel(watch: WatchConfig) -> timeseries.Panel:
    """The calibrated score with the alert threshold drawn as a red line."""
    steps = [Threshold(value=None, color="green"), Threshold(value=watch.alert.threshold, color="red")]
    return (
        timeseries.Panel()
        .id(c.panel_id(watch.name, "score"))
        .title(f"{watch.name}: anomaly score")
        .description(f"Alert threshold {watch.alert.threshold} for {format_duration(watch.alert.for_)} "
                     f"({watch.alert.severity}).")
        .datasource(c.DATASOURCE)
        .span(8)
        .height(8)
        .min(0)
        .max(1)
        .legend(_legend_opts())
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        .thresholds_style(common.GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.LINE))
        .with_target(c.target(f"max without (watch) ({c.sel(c.SCORE, watch=watch.name, agent='~$agent')})", "A",
                              legend_for(watch.query)))
    )


def forecast_panel(watch: WatchConfig, config: Config) -> timeseries.Panel:
    """Actual and forecast values per horizon, with the limit as a threshold line."""
    assert watch.forecast is not None
    legend = legend_for(watch.query)
    panel = (
        timeseries.Panel()
        .id(c.panel_id(watch.name, "forecast"))
        .title(f"{watch.name}: forecast and limit")
        .description("Forecast lines: the value sentinel expects `horizon` ahead (sentinel_forecast_value); "
                     "the red line is the configured limit.")
        .datasource(c.DATASOURCE)
        .span(16)
        .height(8)
        .legend(_legend_opts())
    )
    if _has_promql(watch, config):
        panel = panel.with_target(c.target(_actual(watch), "A", legend))
    expr = f"max without (watch) ({c.sel(c.FORECAST, watch=watch.name, agent='~$agent')})"
    panel = panel.with_target(c.target(expr, "B", f"forecast +{{{{horizon}}}} {legend}"))
    panel = panel.override_by_query("B", _band_style(dashed=True)[1:])
    if watch.forecast.limit is not None:
        steps = [Threshold(value=None, color="transparent"), Threshold(value=watch.forecast.limit, color="red")]
        panel = panel.thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)).thresholds_style(
            common.GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)
        )
    return panel


def runway_panel(watch: WatchConfig) -> bargauge.Panel:
    """Time left until the limit per series, coloured by the warn/critical runway."""
    assert watch.forecast is not None
    steps = [
        Threshold(value=None, color="red"),
        Threshold(value=float(watch.forecast.critical_within), color="orange"),
        Threshold(value=float(watch.forecast.warn_within), color="green"),
    ]
    expr = f"max without (watch) ({c.sel(c.TIME_TO_LIMIT, watch=watch.name, agent='~$agent')})"
    return (
        bargauge.Panel()
        .id(c.panel_id(watch.name, "runway"))
        .title(f"{watch.name}: time to limit")
        .description(f"Warn within {format_duration(watch.forecast.warn_within)}, "
                     f"critical within {format_duration(watch.forecast.critical_within)}. No bar: limit not in sight.")
        .datasource(c.DATASOURCE)
        .span(8)
        .height(8)
        .unit("s")
        .min(0)
        .max(float(watch.forecast.horizon))
        .orientation(VizOrientation.HORIZONTAL)
        .display_mode(BarGaugeDisplayMode.GRADIENT)
        .thresholds(ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        .with_target(c.target(expr, "A", legend_for(watch.query), instant=True))
    )


def watch_rows(dash: Dashboard, watch: WatchConfig, config: Config) -> Dashboard:
    """Add one watch's row and panels."""
    dash = dash.with_row(Row(watch.name).id(c.panel_id(watch.name, "row")))
    if watch.detector is not None:
        dash = dash.with_panel(anomaly_panel(watch, config)).with_panel(score_panel(watch))
    if watch.forecast is not None:
        dash = dash.with_panel(forecast_panel(watch, config)).with_panel(runway_panel(watch))
    return dash


def watch_group_dashboard(group: str, watches: list[WatchConfig], config: Config) -> Dashboard:
    """The dashboard of one watch group."""
    name = c.watch_dashboard_name(group)
    names = "|".join(w.name for w in watches)
    dash = base_dashboard(name, f"sentinel / {group}", config, "now-24h")
    dash = dash.description(f"Actual vs expected vs score for the watches: {', '.join(w.name for w in watches)}.")
    dash = dash.with_variable(agent_variable(f'{{__name__=~"{c.EXPECTED}|{c.FORECAST}", watch=~"{names}"}}'))
    dash = dash.with_variable(filters_variable())
    for watch in watches:
        dash = watch_rows(dash, watch, config)
    return dash
