"""Generated Grafana dashboards: valid for the SDK's models and for what Grafana requires, not stale.

Grafana cannot run here, so every dashboard is (1) loaded back into
grafana-foundation-sdk's Grafana 11.6 models and re-encoded unchanged, and
(2) checked for what Grafana needs to import it on first try: uid, schema
version, every panel's datasource and targets, grid positions without
overlaps, unique panel ids, and every ``$variable`` defined.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard as DashboardModel
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import Config, load_config
from sentinel.publish import dashboards_common as c
from sentinel.publish.dashboards_files import build_dashboards, provisioning, render
from sentinel.publish.dashboards_watch import legend_for
from sentinel.publish.grafana import dashboard_url, panel_for

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sentinel.yaml"
DASHBOARDS = ROOT / "dashboards"
BUILTIN_VARS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__all",
                "__url_time_range", "__from", "__to", "__dashboard", "__org"}
PANEL_TYPES = {"row", "timeseries", "stat", "bargauge", "table"}
_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLE)


@pytest.fixture(scope="module")
def committed() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


# -- the checks ------------------------------------------------------------------------------


def sdk_roundtrip(doc: dict[str, Any]) -> dict[str, Any]:
    """Decode into the SDK's Dashboard model and encode again."""
    register_default_plugins()
    return json.loads(json.dumps(DashboardModel.from_json(doc), cls=JSONEncoder))


def prune_empty(node: Any) -> Any:
    """Drop empty objects (the SDK adds default ``custom: {}`` blocks that mean nothing)."""
    if isinstance(node, dict):
        return {k: prune_empty(v) for k, v in node.items() if v != {}}
    if isinstance(node, list):
        return [prune_empty(v) for v in node]
    return node


def all_panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in doc.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def overlaps(a: dict[str, int], b: dict[str, int]) -> bool:
    apart_x = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
    apart_y = a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
    return not (apart_x or apart_y)


def referenced_vars(doc: dict[str, Any]) -> set[str]:
    """Every variable name used anywhere in the dashboard (queries, datasources, tags, links)."""
    text = json.dumps({k: v for k, v in doc.items() if k != "templating"})
    text += json.dumps([{k: v for k, v in var.items() if k not in ("current", "options")}
                        for var in doc["templating"]["list"]])
    return {next(g for g in m.groups() if g) for m in _VAR.finditer(text)}


def grafana_problems(doc: dict[str, Any]) -> list[str]:
    """What would stop Grafana from importing ``doc`` or make a panel show nothing."""
    problems = []
    if not re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", str(doc.get("uid", ""))):
        problems.append(f"bad uid {doc.get('uid')!r}")
    if doc.get("schemaVersion") != 41:
        problems.append(f"schemaVersion {doc.get('schemaVersion')} (Grafana 11.6 writes 41)")
    if not doc.get("title"):
        problems.append("no title")
    panels = all_panels(doc)
    ids = [p.get("id") for p in panels]
    if len(set(ids)) != len(ids) or not all(isinstance(i, int) and i > 0 for i in ids):
        problems.append(f"panel ids not unique positive ints: {ids}")
    for p in panels:
        name = p.get("title", "?")
        if p.get("type") not in PANEL_TYPES:
            problems.append(f"{name}: unknown panel type {p.get('type')}")
        g = p.get("gridPos", {})
        if not (g.get("w", 0) >= 1 and g.get("h", 0) >= 1 and g.get("x", -1) >= 0 and g["x"] + g["w"] <= 24):
            problems.append(f"{name}: gridPos {g} outside the 24-column grid")
        if p.get("type") == "row":
            continue
        if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            problems.append(f"{name}: datasource {p.get('datasource')}")
        targets = p.get("targets") or []
        refs = [t.get("refId") for t in targets]
        if not targets or len(set(refs)) != len(refs) or not all(refs):
            problems.append(f"{name}: targets/refIds {refs}")
        for t in targets:
            if not t.get("expr") or t.get("datasource", p.get("datasource")) != p.get("datasource"):
                problems.append(f"{name}: target {t.get('refId')} has no expr or another datasource")
    grids = [(p.get("title"), p["gridPos"]) for p in doc.get("panels", [])]
    for i, (na, a) in enumerate(grids):
        for nb, b in grids[i + 1:]:
            if overlaps(a, b):
                problems.append(f"panels {na!r} and {nb!r} overlap")
    defined = {v["name"] for v in doc["templating"]["list"]}
    for name in sorted(referenced_vars(doc) - defined - BUILTIN_VARS):
        problems.append(f"variable ${name} is used but not defined")
    return problems


# -- committed files -----------------------------------------------------------------------


def test_committed_dashboards_are_not_stale(config: Config) -> None:
    """Regenerate from examples/sentinel.yaml; the committed files must match byte for byte."""
    fresh = render(config)
    stale = [rel for rel, text in fresh.items()
             if not (DASHBOARDS / rel).exists() or (DASHBOARDS / rel).read_text() != text]
    extra = {p.name for p in DASHBOARDS.glob("*.json")} - set(fresh)
    assert not stale and not extra, (
        f"stale dashboards {stale} / unexpected {sorted(extra)}: run "
        "`sentinel dashboards build --config examples/sentinel.yaml`")


def test_every_dashboard_kind_is_built(committed: dict[str, dict[str, Any]]) -> None:
    assert set(committed) == {"sentinel-overview.json", "sentinel-self.json",
                              "sentinel-watches-anomalies.json", "sentinel-watches-capacity.json"}


@pytest.mark.parametrize("name", sorted(p.name for p in DASHBOARDS.glob("*.json")))
def test_dashboard_loads_into_sdk_models_unchanged(name: str, committed: dict[str, dict[str, Any]]) -> None:
    doc = committed[name]
    again = sdk_roundtrip(doc)
    assert prune_empty(again) == prune_empty(doc)
    assert sdk_roundtrip(again) == again


@pytest.mark.parametrize("name", sorted(p.name for p in DASHBOARDS.glob("*.json")))
def test_dashboard_meets_grafana_requirements(name: str, committed: dict[str, dict[str, Any]]) -> None:
    assert grafana_problems(committed[name]) == []


def test_checks_catch_broken_dashboards(committed: dict[str, dict[str, Any]]) -> None:
    """The checks above can fail: break a copy in each way and expect a complaint."""
    base = committed["sentinel-overview.json"]

    def broken(mutate: Any) -> list[str]:
        doc = json.loads(json.dumps(base))
        mutate(doc)
        return grafana_problems(doc)

    assert any("uid" in p for p in broken(lambda d: d.update(uid="x" * 41)))
    assert any("overlap" in p for p in broken(lambda d: d["panels"][2].update(gridPos=dict(d["panels"][1]["gridPos"]))))
    assert any("$nope" in p for p in broken(lambda d: d["panels"][1]["targets"][0].update(expr="up{a=~\"$nope\"}")))
    assert any("datasource" in p for p in broken(lambda d: d["panels"][1].pop("datasource")))
    assert any("refIds" in p for p in broken(lambda d: d["panels"][1].update(targets=[])))
    assert any("ids" in p for p in broken(lambda d: d["panels"][2].update(id=d["panels"][1]["id"])))


def test_watch_dashboards_show_actual_band_score_and_forecast(committed: dict[str, dict[str, Any]],
                                                             config: Config) -> None:
    anomalies = committed["sentinel-watches-anomalies.json"]
    lat = next(p for p in all_panels(anomalies) if p.get("title") == "task_latency_p95: actual vs expected")
    exprs = {t["refId"]: t["expr"] for t in lat["targets"]}
    assert "agent_task_duration_seconds_bucket" in exprs["A"] and '"agent", "$agent"' in exprs["A"]
    assert {'bound="mid"', 'bound="lower"', 'bound="upper"'} <= {re.search(r'bound="\w+"', e)[0]
                                                               for r, e in exprs.items() if r != "A"}
    score = next(p for p in all_panels(anomalies) if p.get("title") == "task_latency_p95: anomaly score")
    assert score["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] == 0.99
    capacity = committed["sentinel-watches-capacity.json"]
    disk = next(p for p in all_panels(capacity) if p.get("title") == "disk_runway: forecast and limit")
    assert disk["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] == 0
    assert any(c.FORECAST in t["expr"] for t in disk["targets"])
    assert not any(p.get("title") == "disk_runway: actual vs expected" for p in all_panels(capacity))  # no detector
    variables = {v["name"]: v for v in anomalies["templating"]["list"]}
    assert variables["datasource"]["current"]["value"] == config.grafana.datasource_uid
    assert variables["agent"]["allValue"] == ".*" and variables["filters"]["type"] == "adhoc"


def test_self_dashboard_shows_series_retention(committed: dict[str, dict[str, Any]]) -> None:
    """Before: only ``sentinel_series_tracked`` had a panel; forgotten and refused series (a blind spot:
    refused series are not scored) were on /metrics but on no dashboard."""
    panels = all_panels(committed["sentinel-self.json"])
    row = next(p for p in panels if p["type"] == "row" and p["title"] == "Series retention")
    below = [p for p in committed["sentinel-self.json"]["panels"] if p["gridPos"]["y"] > row["gridPos"]["y"]]
    retention = below[:next((i for i, p in enumerate(below) if p["type"] == "row"), len(below))]
    exprs = {t["expr"]: t["legendFormat"] for p in retention for t in p["targets"]}
    for metric in (c.SERIES_FORGOTTEN, c.SERIES_REFUSED):
        expr = next(e for e in exprs if metric in e)
        assert "sum by (watch, reason)" in expr and 'watch=~"$watch"' in expr and "rate(" in expr
        assert exprs[expr] == "{{watch}} {{reason}}"
    assert any(c.SERIES_TRACKED in t["expr"] for p in panels for t in p.get("targets", []))


def test_uids_are_stable_and_do_not_depend_on_watch_order(config: Config) -> None:
    reordered = config.model_copy(update={"watches": list(reversed(config.watches))})
    a, b = build_dashboards(config), build_dashboards(reordered)
    assert {n: d["uid"] for n, d in a.items()} == {n: d["uid"] for n, d in b.items()}
    ids = {n: {p["id"] for p in all_panels(d)} for n, d in a.items()}
    assert ids == {n: {p["id"] for p in all_panels(d)} for n, d in b.items()}


def test_provisioning_files_use_grafanas_format(config: Config) -> None:
    prov = {p.name: yaml.safe_load(p.read_text()) for p in (DASHBOARDS / "provisioning").glob("*.yaml")}
    assert prov == provisioning(config)
    dash = prov["dashboards.yaml"]
    assert dash["apiVersion"] == 1 and dash["providers"][0]["type"] == "file"
    assert dash["providers"][0]["options"]["path"]
    ds = prov["datasources.yaml"]["datasources"][0]
    assert ds["type"] == "prometheus" and ds["uid"] == config.grafana.datasource_uid and ds["access"] == "proxy"


# -- dashboard_url -------------------------------------------------------------------------


def test_dashboard_url_lands_on_the_watch_panel_and_time_range(config: Config,
                                                               committed: dict[str, dict[str, Any]]) -> None:
    url = dashboard_url("tool_error_ratio", {"agent": "agent-03", "tool": "search"}, 1_700_000_000, 1_700_003_600,
                        config=config)
    parsed = urlparse(url)
    q = parse_qs(parsed.query)
    uid = parsed.path.split("/")[2]
    doc = next(d for d in committed.values() if d["uid"] == uid)
    panel = next(p for p in all_panels(doc) if p["id"] == int(q["viewPanel"][0]))
    assert panel["title"] == "tool_error_ratio: actual vs expected"
    assert q["from"] == ["1700000000000"] and q["to"] == ["1700003600000"]
    assert q["var-agent"] == ["agent-03"] and q["var-filters"] == ["tool|=|search"]
    assert url.startswith(config.grafana.url.rstrip("/") + "/d/")


def test_every_watchs_alert_link_opens_an_existing_panel(config: Config,
                                                         committed: dict[str, dict[str, Any]]) -> None:
    by_uid = {d["uid"]: {p["id"]: p["title"] for p in all_panels(d)} for d in committed.values()}
    for w in config.watches:
        kinds = (["anomaly", "score"] if w.detector else []) + (["forecast", "runway"] if w.forecast else [])
        for kind in [None, *kinds]:
            uid, pid = panel_for(w, config, kind)  # type: ignore[arg-type]
            assert by_uid[uid][pid].startswith(f"{w.name}: "), (w.name, kind)


def test_dashboard_url_for_forecast_only_watch_opens_the_forecast(config: Config,
                                                                  committed: dict[str, dict[str, Any]]) -> None:
    uid, pid = panel_for("disk_runway", config)
    doc = next(d for d in committed.values() if d["uid"] == uid)
    assert next(p for p in all_panels(doc) if p["id"] == pid)["title"] == "disk_runway: forecast and limit"


def test_dashboard_url_rejects_bad_input(config: Config) -> None:
    with pytest.raises(ValueError, match="unknown watch"):
        dashboard_url("nope", {}, 0, 1, config=config)
    with pytest.raises(ValueError, match="time range"):
        dashboard_url("task_rate", {}, float("nan"), 1, config=config)
    with pytest.raises(ValueError, match="time range"):
        dashboard_url("task_rate", {}, 10, 1, config=config)


@given(st.text(min_size=1, max_size=80))
def test_dashboard_uid_is_always_valid_and_deterministic(name: str) -> None:
    uid = c.dashboard_uid(name)
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", uid) and uid == c.dashboard_uid(name)


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True), st.text(max_size=30), max_size=5))
def test_dashboard_url_encodes_any_label_values(labels: dict[str, str]) -> None:
    cfg = Config.model_validate({"prometheus": {}, "watches": [{"name": "w", "query": "up"}]})
    q = parse_qs(urlparse(dashboard_url("w", labels, 0, 60, config=cfg)).query, keep_blank_values=True)
    expected = sorted(f"{k}|=|{v}" for k, v in labels.items() if k not in ("agent", "watch"))
    assert sorted(q.get("var-filters", [])) == expected


def test_legend_follows_the_querys_grouping() -> None:
    assert legend_for("sum by (agent, tool) (rate(x[5m])) / sum by (agent, tool) (rate(y[5m]))") == "{{agent}} {{tool}}"
    assert legend_for("agent_queue_depth") == "{{agent}}"


# -- CLI -----------------------------------------------------------------------------------


def test_cli_build_writes_dashboards_and_provisioning(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dashboards", "build", "--config", str(EXAMPLE), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sentinel-overview.json").exists()
    assert (tmp_path / "provisioning" / "datasources.yaml").exists()
    (tmp_path / "sentinel-watches-gone.json").write_text("{}")
    CliRunner().invoke(app, ["dashboards", "build", "--config", str(EXAMPLE), "--out", str(tmp_path)])
    assert not (tmp_path / "sentinel-watches-gone.json").exists()


def test_cli_build_reports_a_missing_or_bad_config_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dashboards", "build", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "no such config file" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("watches: [{name: x, query: up, every: soon}]\n")
    result = CliRunner().invoke(app, ["dashboards", "build", "--config", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "watches[0].every" in result.output and "Traceback" not in result.output


def test_simulator_and_log_watches_build_valid_dashboards_without_an_actual_query() -> None:
    """Without Prometheus the watch query is a simulator signal, not PromQL: no "actual" target then."""
    cfg = Config.model_validate({
        "simulator": {}, "elasticsearch": {},
        "watches": [{"name": "lat", "query": "agent_task_latency_p95"},
                    {"name": "errors", "logs": {"index": "agent-logs-*", "query": "log.level:error"}}],
        "grafana": {"dashboard_groups": {"fleet": ["lat", "errors"]}},
    })
    boards = build_dashboards(cfg)
    assert set(boards) == {"sentinel-overview.json", "sentinel-self.json", "sentinel-watches-fleet.json"}
    for doc in boards.values():
        assert grafana_problems(doc) == []
    panels = {p["title"]: p for p in all_panels(boards["sentinel-watches-fleet.json"])}
    assert [t["refId"] for t in panels["lat: actual vs expected"]["targets"]] == ["B", "C", "D"]
    assert "errors: anomaly score" in panels
