"""Pushing dashboards and writing annotations: grafana-client's real HTTP requests against a
local server that answers with recorded Grafana 11 exchanges (tests/fixtures/grafana/)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from typer.testing import CliRunner

from sentinel.alerting.policy import AlertEvent
from sentinel.cli import app
from sentinel.config import Config, load_config
from sentinel.publish.dashboards_files import build_dashboards
from sentinel.publish.grafana import GrafanaPublisher, PublishError, panel_for
from tests.services import free_port

FIXTURES = Path(__file__).parent / "fixtures" / "grafana"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sentinel.yaml"
TOKEN = "glsa_test_token"


class ReplayGrafana:
    """Answers each request with the next recorded exchange; records what was asked."""

    def __init__(self, exchanges: list[dict[str, Any]]) -> None:
        self.exchanges = list(exchanges)
        self.requests: list[dict[str, Any]] = []
        self.unexpected: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                replay.requests.append({"method": self.command, "path": self.path, "body": body,
                                        "auth": self.headers.get("Authorization")})
                want = replay.exchanges[0]["request"] if replay.exchanges else None
                if want is None or (want["method"], want["path"]) != (self.command, self.path.split("?")[0]):
                    replay.unexpected.append(f"{self.command} {self.path}")
                    status, answer = 500, {"message": "unexpected request"}
                else:
                    resp = replay.exchanges.pop(0)["response"]
                    status, answer = resp["status"], resp["body"]
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grafana(request: pytest.FixtureRequest) -> Iterator[ReplayGrafana]:
    server = ReplayGrafana(json.loads((FIXTURES / request.param).read_text()))
    yield server
    server.close()


def _config(url: str) -> Config:
    cfg = load_config(EXAMPLE)
    g = cfg.grafana.model_copy(update={"url": url, "bearer_token": SecretStr(TOKEN), "bearer_token_file": None})
    return cfg.model_copy(update={"grafana": g})


def _publisher(url: str) -> tuple[GrafanaPublisher, CollectorRegistry]:
    reg = CollectorRegistry()
    return GrafanaPublisher(_config(url), registry=reg), reg


@pytest.mark.parametrize("grafana", ["push_new_folder.json"], indirect=True)
def test_push_creates_the_folder_and_overwrites_every_dashboard_by_uid(grafana: ReplayGrafana) -> None:
    pub, reg = _publisher(grafana.url)
    urls = pub.push()
    assert grafana.unexpected == [] and grafana.exchanges == []
    assert grafana.requests[1]["body"] == {"title": "sentinel", "uid": "sentinel-folder-sentinel"}
    pushed = [r["body"] for r in grafana.requests[2:]]
    expected = build_dashboards(pub.config)
    assert [b["dashboard"]["uid"] for b in pushed] == [d["uid"] for d in expected.values()]
    assert all(b["overwrite"] is True and b["folderUid"] == "sentinel-folder-sentinel" for b in pushed)
    assert all(b["dashboard"]["id"] is None for b in pushed)  # never someone else's numeric id
    assert pushed[0]["dashboard"]["panels"] == expected["sentinel-overview.json"]["panels"]
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in grafana.requests)
    assert urls[0] == f"{grafana.url}/d/sentinel-overview/sentinel-overview"
    assert reg.get_sample_value("sentinel_grafana_requests_total", {"operation": "push_dashboard"}) == 4


@pytest.mark.parametrize("grafana", ["push_existing_folder.json"], indirect=True)
def test_push_reuses_an_existing_folder(grafana: ReplayGrafana) -> None:
    pub, _ = _publisher(grafana.url)
    assert len(pub.push()) == 4
    assert [r["method"] for r in grafana.requests] == ["GET"] + ["POST"] * 4
    assert all(r["path"] == "/api/dashboards/db" for r in grafana.requests[1:])


@pytest.mark.parametrize("grafana", ["push_unauthorized.json"], indirect=True)
def test_push_with_a_bad_token_is_one_clear_error(grafana: ReplayGrafana) -> None:
    pub, reg = _publisher(grafana.url)
    with pytest.raises(PublishError, match=r"get_folder.*Invalid API key"):
        pub.push()
    assert reg.get_sample_value("sentinel_grafana_errors_total", {"operation": "get_folder"}) == 1


@pytest.mark.parametrize("grafana", ["push_dashboard_rejected.json"], indirect=True)
def test_a_rejected_dashboard_stops_the_push_with_grafanas_reason(grafana: ReplayGrafana) -> None:
    pub, reg = _publisher(grafana.url)
    with pytest.raises(PublishError, match=r"push_dashboard.*title cannot be empty"):
        pub.push()
    assert reg.get_sample_value("sentinel_grafana_errors_total", {"operation": "push_dashboard"}) == 1


def test_unreachable_grafana_is_one_clear_error() -> None:
    pub, _ = _publisher(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(PublishError, match=r"get_folder at http://127.0.0.1.*cannot connect"):
        pub.push()


@pytest.mark.parametrize("grafana", ["push_unauthorized.json"], indirect=True)
def test_cli_push_reports_errors_in_one_line(grafana: ReplayGrafana, tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    text = EXAMPLE.read_text().replace("${GRAFANA_URL:-http://127.0.0.1:3000}", grafana.url)
    cfg.write_text(text.replace("${GRAFANA_TOKEN_FILE:-/etc/sentinel/grafana-token}", str(token)))
    result = CliRunner().invoke(app, ["dashboards", "push", "--config", str(cfg)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "Invalid API key" in result.output
    assert grafana.requests[0]["auth"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("grafana", ["annotations.json"], indirect=True)
def test_anomaly_annotations_land_on_the_watch_panel_with_tags(grafana: ReplayGrafana) -> None:
    pub, _ = _publisher(grafana.url)
    labels = (("agent", "agent-03"), ("tool", "search"))
    firing = AlertEvent(status="firing", watch="tool_error_ratio", labels=labels, starts_at=1_700_000_000,
                        at=1_700_000_000, severity="warning", summary="tool_error_ratio: agent-03 above range",
                        description="value 0.4, expected 0.02")
    resolved = AlertEvent(status="resolved", watch="tool_error_ratio", labels=labels, starts_at=1_700_000_000,
                          at=1_700_001_800, severity="warning", summary="tool_error_ratio: agent-03 above range")
    assert pub.annotate_event(firing) == 41
    assert pub.annotate_event(resolved) == 42
    uid, pid = panel_for("tool_error_ratio", pub.config)
    first, second = (r["body"] for r in grafana.requests)
    assert first["dashboardUID"] == uid and first["panelId"] == pid
    assert first["tags"] == ["sentinel", "watch:tool_error_ratio", "severity:warning"]
    assert first["time"] == first["timeEnd"] == 1_700_000_000_000
    assert "value 0.4" in first["text"] and 'agent="agent-03"' in first["text"]
    assert (second["time"], second["timeEnd"]) == (1_700_000_000_000, 1_700_001_800_000)
    assert second["text"].startswith("[resolved]")


@pytest.mark.parametrize("grafana", ["annotations.json"], indirect=True)
def test_forecast_annotations_go_to_the_forecast_panel(grafana: ReplayGrafana) -> None:
    pub, _ = _publisher(grafana.url)
    event = AlertEvent(status="firing", watch="memory_runway", labels=(("agent", "agent-01"),),
                       starts_at=1_700_000_000, at=1_700_000_000, kind="forecast", severity="critical")
    pub.annotate_event(event)
    assert grafana.requests[0]["body"]["panelId"] == panel_for("memory_runway", pub.config, "forecast")[1]


@pytest.mark.parametrize("grafana", ["annotation_forbidden.json"], indirect=True)
def test_annotation_without_permission_is_a_publish_error(grafana: ReplayGrafana) -> None:
    pub, reg = _publisher(grafana.url)
    with pytest.raises(PublishError, match=r"annotate.*annotations:create"):
        pub.annotate("task_rate", (("agent", "a"),), "warning", "x", 1_700_000_000)
    assert reg.get_sample_value("sentinel_grafana_errors_total", {"operation": "annotate"}) == 1


def test_cli_push_with_an_unreadable_token_file_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(EXAMPLE.read_text().replace("${GRAFANA_TOKEN_FILE:-/etc/sentinel/grafana-token}",
                                               str(tmp_path / "missing-token")))
    result = CliRunner().invoke(app, ["dashboards", "push", "--config", str(cfg)])
    assert result.exit_code == 2 and "cannot read the token/password file" in result.output
    assert "Traceback" not in result.output


def test_cli_push_needs_a_grafana_section(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("prometheus: {}\nwatches: [{name: w, query: up}]\n")
    result = CliRunner().invoke(app, ["dashboards", "push", "--config", str(cfg)])
    assert result.exit_code == 2 and "grafana:" in result.output


@pytest.mark.parametrize("grafana", ["annotations.json"], indirect=True)
def test_publishers_share_their_metrics_in_one_registry(grafana: ReplayGrafana) -> None:
    reg = CollectorRegistry()
    first = GrafanaPublisher(_config(grafana.url), registry=reg)
    second = GrafanaPublisher(_config(grafana.url), registry=reg)
    first.annotate("task_rate", (("agent", "a"),), "warning", "x", 1_700_000_000)
    second.annotate("task_rate", (("agent", "a"),), "warning", "y", 1_700_000_060)
    assert reg.get_sample_value("sentinel_grafana_requests_total", {"operation": "annotate"}) == 2
    assert reg.get_sample_value("sentinel_grafana_request_duration_seconds_count", {"operation": "annotate"}) == 2
