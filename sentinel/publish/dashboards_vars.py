"""The frame every sentinel dashboard shares: uid, datasource variable, filters, annotations, links.

The datasource is a variable (defaulting to the provisioned one), so the same
JSON imports into any Grafana whatever its Prometheus datasource is called.
sentinel's anomaly annotations (tag ``sentinel``) are shown on every dashboard.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import (
    AdHocVariable,
    AnnotationQuery,
    AnnotationTarget,
    Dashboard,
    DashboardLink,
    DatasourceVariable,
    QueryVariable,
    TimePicker,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from sentinel.config import Config
from sentinel.publish import dashboards_common as c

_GRAFANA_DS = DataSourceRef(type_val="grafana", uid="-- Grafana --")


def base_dashboard(name: str, title: str, config: Config, since: str) -> Dashboard:
    """An empty dashboard with sentinel's uid, datasource variable, annotations and links."""
    ds_uid = config.grafana.datasource_uid if config.grafana else "prometheus"
    refresh = "1m"
    return (
        Dashboard(title)
        .uid(c.dashboard_uid(name))
        .tags([c.ANNOTATION_TAG])
        .timezone("browser")
        .time(f"now-{since.removeprefix('now-')}", "now")
        .refresh(refresh)
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .readonly()
        .timepicker(TimePicker().refresh_intervals(["30s", "1m", "5m", "15m", "1h"]))
        .with_variable(
            DatasourceVariable(c.DATASOURCE_VAR)
            .label("Prometheus")
            .type("prometheus")
            .current(VariableOption(selected=True, text=ds_uid, value=ds_uid))
        )
        .annotation(
            AnnotationQuery()
            .name("sentinel anomalies")
            .datasource(_GRAFANA_DS)
            .enable(True)
            .icon_color("red")
            .target(AnnotationTarget().type("tags").tags([c.ANNOTATION_TAG]).limit(500).match_any(False))
        )
        .link(
            DashboardLink("sentinel")
            .type(DashboardLinkType.DASHBOARDS)
            .tags([c.ANNOTATION_TAG])
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(False)
        )
    )


def watch_variable(selector: str) -> QueryVariable:
    """``$watch``: the watches that export ``selector`` (multi, All = every watch)."""
    return _label_variable("watch", "Watch", selector)


def agent_variable(selector: str) -> QueryVariable:
    """``$agent``: the agents seen in ``selector``; All is ``.*`` so unlabelled series still show."""
    return _label_variable("agent", "Agent", selector)


def _label_variable(name: str, label: str, selector: str) -> QueryVariable:
    return (
        QueryVariable(name)
        .label(label)
        .datasource(c.DATASOURCE)
        .query({"query": f"label_values({selector}, {name})", "refId": f"{name}-values"})
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def filters_variable() -> AdHocVariable:
    """Ad hoc filters on any series label (Grafana adds them to every Prometheus query)."""
    return AdHocVariable("filters").label("Series labels").datasource(c.DATASOURCE)
