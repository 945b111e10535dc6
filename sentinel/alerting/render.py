"""An alert event as Alertmanager sees it: labels, annotations and links.

The label and annotation contract (README "Alert contract"):

- ``alertname``: one per alert kind, so Alertmanager routes by kind and the
  ``watch`` label tells watches apart: ``SentinelAnomaly`` (score breach),
  ``SentinelAbsent`` (a known series stopped reporting), ``SentinelStuck``
  (a series repeats one value far longer than it ever has), ``SentinelCapacity``
  (a forecast crosses the limit), ``SentinelNewLogPattern`` (a new error
  template);
- ``severity`` (info, warning, critical) and ``watch``;
- the series' own labels, minus ``__name__`` (as Prometheus drops it from
  alert labels); a series label that clashes with ``alertname``,
  ``severity`` or ``watch`` is renamed ``exported_<name>``;
- the watch's extra ``labels:`` from sentinel.yaml.

Annotations: ``summary``, ``description`` (value, expected band, score,
flagging members), ``runbook_url`` (the watch's), ``dashboard_url`` (the
Grafana panel over the alert's time range, when ``grafana:`` is configured)
and ``sentinel_url`` (sentinel's own ``/alerts`` view of the watch).
``generatorURL`` points at the evidence: the watch's PromQL in the
Prometheus graph view around the alert, or ``sentinel_url`` for watches
that are not PromQL.

>>> alertname("anomaly"), alertname("forecast"), alertname("odd_kind")
('SentinelAnomaly', 'SentinelCapacity', 'SentinelOddKind')
>>> alert_labels((("__name__", "up"), ("agent", "a1"), ("watch", "x")), "lat", "anomaly", "warning", {})
{'agent': 'a1', 'exported_watch': 'x', 'alertname': 'SentinelAnomaly', 'severity': 'warning', 'watch': 'lat'}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlencode

from sentinel.config import Config, WatchConfig
from sentinel.labels import clean_label_name
from sentinel.series import Labels

log = logging.getLogger(__name__)

_ALERTNAMES = {
    "anomaly": "SentinelAnomaly",
    "absent": "SentinelAbsent",
    "stuck": "SentinelStuck",
    "drift": "SentinelDrift",
    "forecast": "SentinelCapacity",
    "new_pattern": "SentinelNewLogPattern",
}
RESERVED_LABELS = ("alertname", "severity", "watch")
"""Set by sentinel on every alert: a series label of one of these names is renamed, a watch's is refused."""

DashboardURL = Callable[..., str]


def alertname(kind: str) -> str:
    """The ``alertname`` of an alert kind (``Sentinel`` + CamelCase kind for unknown kinds)."""
    return _ALERTNAMES.get(kind) or "Sentinel" + "".join(p.title() for p in kind.split("_"))


def alert_labels(series: Labels, watch: str, kind: str, severity: str, extra: Mapping[str, str]) -> dict[str, str]:
    """Alertmanager labels of one alert (see the module docstring)."""
    out: dict[str, str] = {}
    for name, value in series:
        if name == "__name__":
            continue
        name = clean_label_name(name)  # Alertmanager refuses the whole batch on one invalid name
        while name in RESERVED_LABELS or name in out:
            name = "exported_" + name
        out[name] = value
    out.update({clean_label_name(k): v for k, v in extra.items() if k not in RESERVED_LABELS})
    out.update({"alertname": alertname(kind), "severity": severity, "watch": watch})
    return out


def _prometheus_time(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def generator_url(watch: WatchConfig, config: Config, start: int, end: int | None) -> str:
    """Where the alert's evidence is: the Prometheus graph of the watch's query, or sentinel's /alerts.

    >>> from sentinel.config import Config
    >>> cfg = Config.model_validate({"prometheus": {"url": "http://prom:9090"},
    ...                              "watches": [{"name": "w", "query": "up == 0"}]})
    >>> generator_url(cfg.watches[0], cfg, 1_700_000_000, None)
    'http://prom:9090/graph?g0.expr=up%20%3D%3D%200&g0.tab=0&g0.range_input=2h&g0.end_input=2023-11-14%2023%3A13%3A20'
    """
    if watch.query is not None and config.prometheus is not None:
        span = max(3600, (end or start) - start + 3600)
        params = {"g0.expr": watch.query, "g0.tab": "0", "g0.range_input": f"{span // 3600 + 1}h",
                  "g0.end_input": _prometheus_time((end or start) + 3600)}
        return f"{config.prometheus.url.rstrip('/')}/graph?{urlencode(params, quote_via=quote)}"
    return sentinel_url(watch.name, config)


def sentinel_url(watch: str, config: Config) -> str:
    """sentinel's own view of a watch's alerts (served by the daemon's ``/alerts``)."""
    base = config.alertmanager.external_url if config.alertmanager else f"http://{config.server.listen}"
    return f"{base.rstrip('/')}/alerts?{urlencode({'watch': watch})}"


def _grafana_dashboard_url() -> DashboardURL | None:
    try:
        from sentinel.publish.grafana import dashboard_url
    except ImportError:  # grafana extras missing: alerts simply carry no dashboard link
        return None
    return dashboard_url


def annotations(
    watch: WatchConfig, config: Config, series: Labels, kind: str, summary: str, description: str,
    start: int, end: int | None,
) -> dict[str, str]:
    """Alertmanager annotations of one alert (empty links are left out)."""
    out = {"summary": summary, "description": description, "sentinel_url": sentinel_url(watch.name, config)}
    if watch.runbook_url:
        out["runbook_url"] = watch.runbook_url
    if config.grafana is not None and (fn := _grafana_dashboard_url()) is not None:
        panel = "forecast" if kind == "forecast" else None
        try:
            out["dashboard_url"] = fn(watch, series, start - 3600, (end or start) + 3600, config=config, kind=panel)
        except ValueError as exc:
            log.debug("no dashboard_url for watch %s: %s", watch.name, exc)
    return out
