"""Grafana as an output: links into the dashboards, pushing them, and anomaly annotations.

:func:`dashboard_url` is what every alert's ``dashboard_url`` annotation
carries: it opens the watch's panel alone (``viewPanel``) on the alert's time
range with the series' labels selected.  :class:`GrafanaPublisher` talks to
Grafana's HTTP API through grafana-client: it creates the folder if needed,
uploads every dashboard with ``overwrite`` (uids are stable, so a push
updates in place) and writes anomaly annotations tagged ``sentinel``,
``watch:NAME`` and ``severity:LEVEL`` on the watch's panel.

>>> from sentinel.config import Config
>>> cfg = Config.model_validate({"grafana": {"url": "http://grafana:3000/"}, "prometheus": {},
...     "watches": [{"name": "lat", "query": "up"}]})
>>> dashboard_url("lat", {"agent": "a1", "tool": "search"}, 1_700_000_000, 1_700_003_600, config=cfg)
'http://grafana:3000/d/sentinel-watches-anomalies/sentinel-watches-anomalies?orgId=1&from=1700000000000&to=1700003600000&viewPanel=4503321&var-agent=a1&var-filters=tool%7C%3D%7Csearch'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from sentinel.config import Config, GrafanaConfig, WatchConfig
from sentinel.publish import dashboards_common as c
from sentinel.publish.dashboards_files import build_dashboards
from sentinel.series import Labels, format_labels
from sentinel.telemetry import per_registry

PanelKind = Literal["anomaly", "score", "forecast", "runway"]


def _watch(watch: str | WatchConfig, config: Config) -> WatchConfig:
    if isinstance(watch, WatchConfig):
        return watch
    for w in config.watches:
        if w.name == watch:
            return w
    raise ValueError(f"unknown watch {watch!r}: it is not in the config's watches")


def panel_for(watch: str | WatchConfig, config: Config, kind: PanelKind | None = None) -> tuple[str, int]:
    """(dashboard uid, panel id) of a watch's panel; ``kind`` defaults to the
    anomaly panel, or the forecast panel for forecast-only watches."""
    w = _watch(watch, config)
    if kind is None:
        kind = "anomaly" if w.detector is not None else "forecast"
    return c.dashboard_uid(c.watch_dashboard_name(c.group_of(w, config))), c.panel_id(w.name, kind)


def dashboard_url(
    watch: str | WatchConfig,
    labels: Mapping[str, str] | Labels,
    start: float,
    end: float,
    *,
    config: Config,
    kind: PanelKind | None = None,
) -> str:
    """A link to the watch's panel (viewPanel) over ``start``..``end`` (Unix seconds), filtered to ``labels``.

    ``agent`` selects the ``$agent`` variable; every other label becomes an ad
    hoc filter.  The link works with Grafana 10.x and 11.x (numeric viewPanel).
    """
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        raise ValueError(f"bad time range {start!r}..{end!r}: need finite start <= end (Unix seconds)")
    uid, pid = panel_for(watch, config, kind)
    base = (config.grafana.url if config.grafana else GrafanaConfig().url).rstrip("/")
    items = labels.items() if isinstance(labels, Mapping) else labels
    params: list[tuple[str, str]] = [
        ("orgId", "1"),
        ("from", str(int(start * 1000))),
        ("to", str(int(end * 1000))),
        ("viewPanel", str(pid)),
    ]
    for name, value in sorted(items):
        if name == "agent":
            params.append(("var-agent", value))
        elif name not in ("watch", "__name__"):
            params.append(("var-filters", f"{name}|=|{value}"))
    return f"{base}/d/{uid}/{uid}?{urlencode(params)}"


def _reason(exc: Exception) -> str:
    """Grafana's own message (``{"message": ...}``) with the HTTP status, else the exception text."""
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", 0)
    if isinstance(response, dict) and response.get("message"):
        return f"HTTP {status}: {response['message']}"
    if isinstance(exc, niquests.exceptions.ConnectionError):
        errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
        return f"cannot connect ({errno.group(1) if errno else type(exc).__name__})"
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


class PublishError(Exception):
    """Grafana refused or could not be reached; the message says which call and why."""


@dataclass
class _Metrics:
    requests: Counter
    errors: Counter
    latency: Histogram


@per_registry
def grafana_metrics(registry: CollectorRegistry) -> _Metrics:
    """The Grafana client's collectors in ``registry``, created once (several publishers may share it)."""
    r = {"registry": registry}
    m = _Metrics(
        Counter("sentinel_grafana_requests", "Grafana API calls by operation.", ["operation"], **r),
        Counter("sentinel_grafana_errors", "Failed Grafana API calls by operation.", ["operation"], **r),
        Histogram("sentinel_grafana_request_duration_seconds", "Wall time of one Grafana API call.",
                  ["operation"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), **r),
    )
    return m


class GrafanaPublisher:
    """Push dashboards and write annotations through Grafana's HTTP API.

    Authentication comes from the config's ``bearer_token``/``_file`` (a
    service-account token) or ``username``/``password``; TLS verification
    follows ``tls_verify``.
    """

    def __init__(self, config: Config, *, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.config = config
        g = config.grafana or GrafanaConfig()
        self.grafana = g
        try:
            credential: Any = g.token() or g.basic_auth()
        except OSError as exc:
            raise PublishError(f"grafana: cannot read the token/password file {exc.filename}: {exc.strerror}") from None
        self.api = GrafanaApi.from_url(g.url, credential=credential, timeout=float(g.timeout))
        self.api.client.verify = g.tls_verify
        self.metrics = grafana_metrics(registry or CollectorRegistry())

    def _call(self, operation: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.metrics.requests.labels(operation).inc()
        try:
            with self.metrics.latency.labels(operation).time():
                return fn(*args, **kwargs)
        except (GrafanaException, niquests.exceptions.RequestException) as exc:
            self.metrics.errors.labels(operation).inc()
            raise PublishError(f"grafana {operation} at {self.grafana.url}: {_reason(exc)}") from None

    def ensure_folder(self) -> str:
        """The uid of the dashboards' folder, created when missing."""
        uid = c.dashboard_uid(f"folder-{self.grafana.folder}")
        self.metrics.requests.labels("get_folder").inc()
        try:
            with self.metrics.latency.labels("get_folder").time():
                return str(self.api.folder.get_folder(uid)["uid"])
        except GrafanaClientError as exc:
            if exc.status_code != 404:
                self.metrics.errors.labels("get_folder").inc()
                raise PublishError(f"grafana get_folder at {self.grafana.url}: {_reason(exc)}") from None
        except (GrafanaException, niquests.exceptions.RequestException) as exc:
            self.metrics.errors.labels("get_folder").inc()
            raise PublishError(f"grafana get_folder at {self.grafana.url}: {_reason(exc)}") from None
        created = self._call("create_folder", self.api.folder.create_folder, self.grafana.folder, uid=uid)
        return str(created["uid"])

    def push(self, dashboards: Mapping[str, dict[str, Any]] | None = None) -> list[str]:
        """Upload every dashboard into the folder (overwrite by uid); returns their URLs."""
        folder = self.ensure_folder()
        urls = []
        for doc in (dashboards or build_dashboards(self.config)).values():
            body = {"dashboard": {**doc, "id": None}, "folderUid": folder, "overwrite": True,
                    "message": "sentinel dashboards push"}
            result = self._call("push_dashboard", self.api.dashboard.update_dashboard, body)
            urls.append(self.grafana.url.rstrip("/") + str(result.get("url", "")))
        return urls

    def annotate(self, watch: str, labels: Labels, severity: str, text: str, start: int,
                 end: int | None = None, kind: PanelKind | None = None) -> int:
        """Write one anomaly annotation on the watch's panel; ``end`` makes it a region.

        Returns Grafana's annotation id.
        """
        uid, pid = panel_for(watch, self.config, kind)
        tags = [c.ANNOTATION_TAG, f"watch:{watch}", f"severity:{severity}"]
        result = self._call(
            "annotate", self.api.annotations.add_annotation,
            dashboard_uid=uid, panel_id=pid, time_from=int(start * 1000),
            time_to=int((end if end is not None else start) * 1000), tags=tags,
            text=f"{text}\n{format_labels(labels)}",
        )
        return int(result["id"])

    def annotate_event(self, event: Any) -> int:
        """Annotate a :class:`sentinel.alerting.policy.AlertEvent`: a point when it fires,
        the whole episode as a region when it resolves."""
        kind: PanelKind | None = "forecast" if event.kind == "forecast" else None
        text = event.summary or f"{event.watch} {event.status}"
        if event.description:
            text += f"\n{event.description}"
        end = event.at if event.status == "resolved" else None
        return self.annotate(event.watch, event.labels, event.severity, f"[{event.status}] {text}",
                             event.starts_at, end, kind)
