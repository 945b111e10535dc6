"""Shared pieces of the generated Grafana dashboards: names, uids, ids, queries.

Every dashboard and rule file is generated from the same watch definitions, so
the metric names sentinel exports, the dashboard uids and the panel ids live
here once.  Uids and panel ids are derived from names (not from positions), so
re-ordering watches in ``sentinel.yaml`` never breaks a bookmarked link or an
alert's ``dashboard_url``.

>>> dashboard_uid("overview")
'sentinel-overview'
>>> dashboard_uid("a" * 60) == dashboard_uid("a" * 60) and len(dashboard_uid("a" * 60)) <= 40
True
>>> panel_id("disk_runway", "forecast") == panel_id("disk_runway", "forecast")
True
"""

from __future__ import annotations

import hashlib
import re

from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from sentinel.config import Config, WatchConfig
from sentinel.publish import metrics as m

# -- the metric names sentinel exports: one place, sentinel.publish.metrics ------
SCORE = m.ANOMALY_SCORE
EXPECTED = m.EXPECTED_VALUE
FORECAST = m.FORECAST_VALUE
TIME_TO_LIMIT = m.TIME_TO_LIMIT
ALERTS_FIRING = m.ALERTS_ACTIVE
CYCLES = m.CYCLES
CYCLE_DURATION = m.CYCLE_DURATION
SERIES_TRACKED = m.SERIES_TRACKED
SERIES_FORGOTTEN = m.SERIES_FORGOTTEN
SERIES_REFUSED = m.SERIES_REFUSED
SOURCE_ERRORS = m.SOURCE_ERRORS
ALERTS_SENT = m.NOTIFICATIONS_SENT
ALERTS_FAILED = m.NOTIFICATIONS_FAILED
OUTBOX = m.OUTBOX_ALERTS
MODEL_FIT = m.MODEL_FIT
LAST_SUCCESS = m.LAST_SUCCESS

DATASOURCE_VAR = "datasource"
"""Every panel points at ``${datasource}``, so one import works with any Prometheus."""
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VAR + "}")
ANNOTATION_TAG = "sentinel"
"""Every annotation sentinel writes carries this tag (plus ``watch:NAME`` and ``severity:LEVEL``)."""

_UID_OK = re.compile(r"[^a-zA-Z0-9_-]+")


def dashboard_uid(name: str) -> str:
    """A Grafana uid (<= 40 chars of ``[a-zA-Z0-9_-]``) derived only from ``name``.

    Short names stay readable; long or unusual ones keep a hash suffix so two
    names never collide after truncation.
    """
    slug = _UID_OK.sub("-", name.lower()).strip("-")
    uid = f"sentinel-{slug}"
    if len(uid) <= 40 and slug == name.lower():
        return uid
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"sentinel-{slug[:22].rstrip('-')}-{digest}"


def panel_id(watch: str, kind: str) -> int:
    """A stable panel id for one of a watch's panels (``anomaly``, ``score``, ``forecast``, ...).

    Ids are hashes, not positions, so a panel keeps its id (and its links)
    when watches are added or reordered.  Ids below 1000 stay free for the
    fixed panels of the overview and self dashboards.
    """
    digest = hashlib.sha1(f"{watch}\0{kind}".encode()).digest()
    return 1000 + int.from_bytes(digest[:3], "big")


def group_of(watch: WatchConfig, config: Config) -> str:
    """The dashboard a watch is drawn on.

    ``grafana.dashboard_groups`` (group -> watch names) decides when given;
    otherwise capacity watches (with a forecast) share "capacity", log watches
    "logs", and every other metric watch "anomalies".
    """
    groups = config.grafana.dashboard_groups if config.grafana else {}
    for group, names in groups.items():
        if watch.name in names:
            return group
    if watch.forecast is not None:
        return "capacity"
    if watch.logs is not None:
        return "logs"
    return "anomalies"


def watch_dashboard_name(group: str) -> str:
    return f"watches-{group}"


def sel(metric: str, **matchers: str) -> str:
    """A PromQL selector; values starting with ``~`` become regex matchers.

    >>> sel("m", watch="w", agent="~$agent")
    'm{watch="w", agent=~"$agent"}'
    """
    parts = []
    for name, value in matchers.items():
        op, val = ("=~", value[1:]) if value.startswith("~") else ("=", value)
        parts.append(f'{name}{op}"{val}"')
    return metric + "{" + ", ".join(parts) + "}"


def keep_matching(query: str, label: str, regex: str) -> str:
    """Keep only the series of any PromQL ``query`` whose ``label`` matches ``regex``.

    PromQL cannot put a matcher on an arbitrary expression, so the watch's own
    query (the "actual" line) is filtered by marking matching series with
    ``label_replace`` and joining on the mark; the mark is removed again.
    Series without the label count as ``""`` (kept when the regex is ``.*``).
    """
    mark = "sentinel_keep"
    marked = f'label_replace({query}, "{mark}", "1", "{label}", "{regex}")'
    one = f'label_replace(vector(1), "{mark}", "1", "", "")'
    return f'label_replace({marked} and on({mark}) {one}, "{mark}", "", "", "")'


def target(expr: str, ref: str, legend: str = "__auto", *, instant: bool = False) -> Dataquery:
    """A Prometheus query on the dashboard's datasource variable."""
    q = Dataquery().expr(expr).ref_id(ref).legend_format(legend).datasource(DATASOURCE)
    return q.instant() if instant else q.range()
