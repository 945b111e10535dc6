"""Every PromQL expression of the dashboards and rule files, run on a real Prometheus.

Prometheus 2.42 is backfilled with the simulated fleet's history
(:func:`sentinel.fleet.openmetrics.write_openmetrics`) plus a history of
sentinel's own metrics generated here from the watch queries' real results
(expected band around the actual values, scores, forecasts, runway,
self-monitoring).  Each expression must parse and return data; the
``$agent`` filter of the "actual" line must keep exactly the chosen agent.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sentinel.config import Config, WatchConfig, load_config
from sentinel.fleet import Fleet
from sentinel.fleet.openmetrics import write_openmetrics
from sentinel.forecast import metrics as fm
from sentinel.publish import dashboards_common as c
from sentinel.publish import metrics as m
from sentinel.publish.dashboards_files import build_dashboards
from sentinel.publish.exporter import export_labels
from sentinel.publish.rules import RuleOptions, all_exprs
from tests.services import PrometheusServer, openmetrics

pytestmark = [pytest.mark.services, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sentinel.yaml"
START = 1_767_571_200  # Monday 2026-01-05 00:00 UTC
HOURS = 6
END = START + HOURS * 3600
STEP = 60
AGENTS = 4
GRAFANA_VARS = {"$__rate_interval": "5m", "${datasource}": "prometheus", "$agent": ".*", "$watch": ".*"}


def query_range(prom: PrometheusServer, expr: str, step: int = 300, start: int = START, end: int = END) -> list[dict]:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    try:
        with urllib.request.urlopen(f"{prom.url}/api/v1/query_range?{params}", timeout=60) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{expr!r}: {exc.read().decode()[:500]}") from None
    assert body["status"] == "success", body
    return body["data"]["result"]


def grafana_expr(expr: str, **overrides: str) -> str:
    """The query as Grafana would send it (template variables interpolated)."""
    values = {**GRAFANA_VARS, **{f"${k}": v for k, v in overrides.items()}}
    for var, value in values.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, f"uninterpolated variable in {expr!r}"
    return expr


def dashboard_exprs(config: Config) -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expr) for every target and every query variable."""
    out = []
    for name, doc in build_dashboards(config).items():
        for p in doc["panels"]:
            out.extend((name, p["title"], t["expr"]) for t in p.get("targets", []))
        for v in doc["templating"]["list"]:
            if v["type"] == "query":
                selector = re.fullmatch(r"label_values\((.*), \w+\)", v["query"]["query"])
                out.append((name, f"${v['name']}", selector[1]))
    return out


# -- sentinel's own metrics, generated around the watches' real results --------------------


def _family(name: str, kind: str, series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> str:
    return openmetrics(name, kind, series, eof=False)


def _histogram(name: str, labels: dict[str, str], ts: np.ndarray, per_step: float, bounds: tuple[float, ...]) -> str:
    """A classic histogram where each step adds one observation of ``per_step`` seconds."""
    n = np.arange(1, len(ts) + 1, dtype=float)
    lines = [f"# TYPE {name} histogram"]
    lab = "".join(f'{k}="{v}",' for k, v in labels.items())
    for le in (*bounds, float("inf")):
        le_s = "+Inf" if le == float("inf") else repr(le)
        counts = n if per_step <= le else np.zeros_like(n)
        lines += [f'{name}_bucket{{{lab}le="{le_s}"}} {v:g} {t}' for t, v in zip(ts, counts, strict=True)]
    lab = "{" + lab.removesuffix(",") + "}" if labels else ""
    lines += [f"{name}_count{lab} {v:g} {t}" for t, v in zip(ts, n, strict=True)]
    lines += [f"{name}_sum{lab} {v * per_step:g} {t}" for t, v in zip(ts, n, strict=True)]
    return "\n".join(lines) + "\n"


def _points(ts: np.ndarray, values: np.ndarray) -> list[tuple[int, float]]:
    return [(int(t), float(v)) for t, v in zip(ts, values, strict=True) if np.isfinite(v)]


def sentinel_history(config: Config, actual: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    """OpenMetrics text of sentinel's metrics for [START, END): scores, bands, forecasts, self-monitoring.

    The band follows the watch's actual values (rolling mean +- 3 sd); each
    watch's first series is anomalous (score 1) in the last hour; forecast
    watches' first series runs out of runway; the last 30 minutes have no
    successful cycle (stale), a growing alert state, failing sources and refused series; every watch
    forgets a series an hour.
    """
    ts = np.arange(START, END, STEP)
    late = ts >= END - 3600
    families: dict[str, list[tuple[dict[str, str], list[tuple[int, float]]]]] = {
        c.SCORE: [], c.EXPECTED: [], c.FORECAST: [], c.TIME_TO_LIMIT: [], c.SERIES_TRACKED: [],
        c.LAST_SUCCESS: [], c.ALERTS_FIRING: []}
    counters: dict[str, list[tuple[dict[str, str], list[tuple[int, float]]]]] = {
        c.SOURCE_ERRORS: [], c.CYCLES: [], c.SERIES_FORGOTTEN: [], c.SERIES_REFUSED: []}
    histograms = []
    for w in config.watches:
        rows = actual[w.name]
        for i, row in enumerate(rows):
            labels = export_labels(tuple(row["metric"].items()), w.name)  # as the exporter labels them
            grid = dict(row["values"])
            y = np.array([float(grid.get(t, np.nan)) for t in ts])
            mid = np.array([np.nanmean(y[max(0, k - 30):k + 1]) if np.isfinite(y[max(0, k - 30):k + 1]).any()
                            else np.nan for k in range(len(y))])
            sd = np.nanstd(y) or 1.0
            if w.detector is not None:
                score = np.where(late & (i == 0), 1.0, 0.5)
                families[c.SCORE].append((labels, _points(ts, score)))
                for bound, v in (("mid", mid), ("lower", mid - 3 * sd), ("upper", mid + 3 * sd)):
                    families[c.EXPECTED].append(({**labels, "bound": bound}, _points(ts, v)))
            if w.forecast is not None:
                for horizon in ("1h", "24h"):
                    families[c.FORECAST].append(({**labels, "horizon": horizon}, _points(ts, mid)))
                runway = np.linspace(3 * w.forecast.warn_within, w.forecast.critical_within / 2, len(ts))
                families[c.TIME_TO_LIMIT].append((labels, _points(ts, runway if i == 0 else runway * 10)))
        families[c.SERIES_TRACKED].append(({"watch": w.name}, _points(ts, np.full(len(ts), len(rows)))))
        last_ok = np.where(ts < END - 1800, ts, END - 1800)
        families[c.LAST_SUCCESS].append(({"watch": w.name}, _points(ts, last_ok)))
        sev = w.alert.severity
        families[c.ALERTS_FIRING].append(({"watch": w.name, "severity": sev}, _points(ts, late.astype(float))))
        errors = np.cumsum(late.astype(float))
        counters[c.SOURCE_ERRORS].append(({"source": "prometheus", "watch": w.name, "reason": "timeout"},
                                          _points(ts, errors)))
        counters[c.CYCLES].append(({"watch": w.name, "outcome": "ok"}, _points(ts, np.arange(len(ts)))))
        counters[c.SERIES_FORGOTTEN].append(({"watch": w.name, "reason": "retention"}, _points(ts, ts // 3600)))
        counters[c.SERIES_REFUSED].append(({"watch": w.name, "reason": "limit"}, _points(ts, errors)))
        histograms.append(_histogram(c.CYCLE_DURATION, {"watch": w.name}, ts, 0.2, (0.1, 0.5, 1.0)))
        histograms.append(_histogram(c.MODEL_FIT, {"watch": w.name}, ts, 0.05, (0.01, 0.1, 1.0)))
    outbox = np.where(late, 50 + 10 * np.cumsum(late), 5.0)
    families[c.OUTBOX] = [({"state": "firing"}, _points(ts, outbox)), ({"state": "resolved"}, _points(ts, outbox / 5))]
    counters[c.ALERTS_SENT] = [({}, _points(ts, np.arange(len(ts)) * 3.0))]
    counters[c.ALERTS_FAILED] = [({"reason": "http_503"}, _points(ts, np.cumsum(late.astype(float))))]
    for name, series in families.items():
        yield _family(name, "gauge", series)
    for name, series in counters.items():
        yield _family(name, "counter", series)
    yield from histograms
    yield from operations_history(config, ts)


W = {"watch": "{w}"}
SRC = {"source": "prometheus", "watch": "{w}"}
# The rest of the self-monitoring families: (name, kind, labels); "{w}" = one series per watch.
OPERATIONS = [
    (m.CYCLE_ERRORS, "counter", {**W, "reason": "source"}),
    (m.CYCLE_STAGE_DURATION, "histogram", {**W, "stage": "fetch"}),
    (m.DATA_TIMESTAMP, "timestamp", W),
    (m.WATCH_READY, "gauge", W),
    (m.SOURCE_REQUESTS, "counter", {**SRC, "outcome": "ok"}),
    (m.SOURCE_REQUEST_DURATION, "histogram", SRC),
    (m.SOURCE_SERIES, "gauge", SRC),
    (m.SOURCE_SERIES_DROPPED, "counter", SRC),
    (m.SOURCE_NONFINITE, "counter", SRC),
    ("sentinel_source_reset_repairs_total", "counter", SRC),
    (m.SOURCE_TARGET_LOOKUPS, "counter", {**SRC, "outcome": "ok"}),
    ("sentinel_source_retries_total", "counter", SRC),
    ("sentinel_batch_fit_seconds", "histogram", {"detector": "stl"}),
    ("sentinel_retrain_fits_total", "counter", {"model": "stl", "result": "ok"}),
    ("sentinel_detector_stale_points_total", "counter", {"detector": "ewma"}),
    (fm.FIT_SECONDS, "histogram", W),
    (fm.FAILURES, "counter", {**W, "reason": "short_history"}),
    (fm.SCREENED, "counter", W),
    (m.NOTIFICATIONS_QUEUE_LENGTH, "gauge", {}),
    (m.NOTIFICATIONS_QUEUE_CAPACITY, "gauge", {}),
    (m.NOTIFICATIONS_DROPPED, "counter", {}),
    (m.NOTIFICATIONS_SUPERSEDED, "counter", {}),
    (m.OUTBOX_WRITE_ERRORS, "counter", {}),
    (m.NOTIFICATION_LATENCY, "histogram", {}),
    (m.NOTIFICATION_LAST_SUCCESS, "timestamp", {}),
    (m.ALERT_EVENTS, "counter", {**W, "status": "firing"}),
    ("sentinel_grafana_requests_total", "counter", {"operation": "annotate"}),
    ("sentinel_grafana_errors_total", "counter", {"operation": "annotate"}),
    ("sentinel_grafana_request_duration_seconds", "histogram", {"operation": "annotate"}),
    (m.CHECKPOINTS, "counter", W),
    (m.CHECKPOINT_ERRORS, "counter", W),
    (m.CHECKPOINT_DURATION, "histogram", W),
    (m.CHECKPOINT_RESTORES, "counter", {**W, "result": "restored"}),
    ("sentinel_model_checkpoint_saves_total", "counter", {"result": "ok"}),
    ("sentinel_model_checkpoint_save_seconds", "histogram", {}),
    ("sentinel_model_checkpoint_loads_total", "counter", {"result": "ok"}),
    (m.CONFIG_RELOADS, "counter", {}),
    (m.CONFIG_RELOAD_ERRORS, "counter", {}),
    ("sentinel_log_lines_mined_total", "counter", W),
    ("sentinel_log_lines_truncated_total", "counter", W),
    ("sentinel_log_template_overflow_lines_total", "counter", W),
    ("sentinel_log_templates", "gauge", W),
    ("sentinel_log_templates_merged_total", "counter", W),
    ("sentinel_log_template_series", "gauge", W),
    ("sentinel_log_template_series_dropped_total", "counter", W),
    ("sentinel_elasticsearch_sample_truncated_total", "counter", W),
    ("sentinel_log_state_save_errors_total", "counter", W),
    ("sentinel_elasticsearch_docs_failed_total", "counter", {"index": "sentinel-logs"}),
    ("sentinel_elasticsearch_messages_sampled_total", "counter", W),
    ("sentinel_elasticsearch_docs_written_total", "counter", {"index": "sentinel-logs"}),
    ("sentinel_log_new_patterns_total", "counter", W),
]


def operations_history(config: Config, ts: np.ndarray) -> Iterator[str]:
    """One steadily moving series per label set of :data:`OPERATIONS` (each panel query needs data)."""
    values = {"counter": np.arange(len(ts), dtype=float), "gauge": np.full(len(ts), 3.0), "timestamp": ts - 120.0}
    for name, kind, labels in OPERATIONS:
        per_watch = [{k: v.format(w=w.name) for k, v in labels.items()} for w in config.watches]
        sets = per_watch if "watch" in labels else [labels]
        if kind == "histogram":
            yield from (_histogram(name, lab, ts, 0.05, (0.01, 0.1, 1.0)) for lab in sets)
        else:
            series = [(lab, _points(ts, values[kind])) for lab in sets]
            yield _family(name, "gauge" if kind == "timestamp" else kind, series)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLE)


@pytest.fixture(scope="module")
def fleet_history(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("fleet") / "fleet.om"
    write_openmetrics(Fleet(agents=AGENTS, seed=7, step=STEP, start=START), path, START - 3600, END)
    return path.read_text().removesuffix("# EOF\n")


@pytest.fixture(scope="module")
def fleet_prom(prometheus_factory: Callable[..., PrometheusServer], fleet_history: str) -> PrometheusServer:
    return prometheus_factory(fleet_history + "# EOF\n")


@pytest.fixture(scope="module")
def actual(fleet_prom: PrometheusServer, config: Config) -> dict[str, list[dict[str, Any]]]:
    """Each watch's own query over the window: what sentinel would have read."""
    return {w.name: query_range(fleet_prom, w.query or "", step=STEP, end=END - STEP) for w in config.watches}


@pytest.fixture(scope="module")
def prom(prometheus_factory: Callable[..., PrometheusServer], fleet_history: str, config: Config,
         actual: dict[str, list[dict[str, Any]]]) -> PrometheusServer:
    chunks = [fleet_history, *sentinel_history(config, actual), "# EOF\n"]
    return prometheus_factory(chunks)


# -- tests ---------------------------------------------------------------------------------


def test_every_watch_query_returns_data_for_every_agent(actual: dict[str, list[dict[str, Any]]],
                                                        config: Config) -> None:
    for w in config.watches:
        agents = {r["metric"].get("agent") for r in actual[w.name]}
        assert len(agents) == AGENTS, f"{w.name}: agents {agents}"


def test_every_dashboard_query_parses_and_returns_data(prom: PrometheusServer, config: Config) -> None:
    empty = []
    exprs = dashboard_exprs(config)
    assert len(exprs) > 60
    for board, title, expr in exprs:
        if not query_range(prom, grafana_expr(expr)):
            empty.append(f"{board} / {title}: {expr}")
    assert empty == []


def test_every_rule_expression_parses_and_returns_data(prom: PrometheusServer, config: Config) -> None:
    exprs = all_exprs(config, RuleOptions())
    assert len(exprs) > 20
    empty = [e for e in exprs if not query_range(prom, e)]
    assert empty == []


def test_agent_variable_filters_the_actual_line(prom: PrometheusServer, config: Config) -> None:
    watch: WatchConfig = next(w for w in config.watches if w.name == "tool_error_ratio")
    expr = grafana_expr(c.keep_matching(watch.query or "", "agent", "$agent"), agent="(agent-01|agent-02)")
    rows = query_range(prom, expr)
    assert {r["metric"]["agent"] for r in rows} == {"agent-01", "agent-02"}
    assert {r["metric"].get("tool") for r in rows} == {"search", "code_exec", "browser"}
    assert all("sentinel_keep" not in r["metric"] for r in rows)
    everyone = query_range(prom, grafana_expr(c.keep_matching(watch.query or "", "agent", "$agent")))
    assert len(everyone) == AGENTS * 3
