"""Cycle spans over real OTLP/HTTP (protobuf) to a receiver, and the run command's one-line errors."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sentinel.config import TracingConfig
from sentinel.daemon import Daemon
from sentinel.defaults import embedded_config
from sentinel.fleet import DEFAULT_START
from sentinel.tracing import Tracing
from tests.test_daemon import _config


class _Collector:
    """An OTLP/HTTP trace receiver: decodes every POSTed ExportTraceServiceRequest."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, dict[str, object], str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                req = ExportTraceServiceRequest()
                req.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
                for rs in req.resource_spans:
                    service = next(a.value.string_value for a in rs.resource.attributes if a.key == "service.name")
                    for ss in rs.scope_spans:
                        for sp in ss.spans:
                            attrs = {a.key: a.value.string_value or a.value.int_value for a in sp.attributes}
                            outer.spans.append((sp.name, attrs, service))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def collector() -> Iterator[_Collector]:
    c = _Collector()
    yield c
    c.server.shutdown()
    c.server.server_close()


def test_each_cycle_is_a_span_with_stage_children_exported_over_otlp(collector: _Collector, tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    cfg = cfg.model_copy(update={"tracing": TracingConfig(otlp_endpoint=collector.url, service_name="sentinel-test")})
    d = Daemon(cfg)
    d.start(schedule=False, serve=False)
    for name in d.slots:
        d.run_cycle(name, DEFAULT_START)
    d.stop()  # flushes the exporter
    names = [s[0] for s in collector.spans]
    assert names.count("sentinel.cycle") == 2
    assert {"sentinel.fetch", "sentinel.score", "sentinel.decide"} <= set(names)
    cycle = next(s for s in collector.spans if s[0] == "sentinel.cycle" and s[1]["watch"] == "lat")
    assert cycle[1]["outcome"] == "ok" and cycle[1]["series"] == 3 and cycle[2] == "sentinel-test"


def test_tracing_is_off_without_an_endpoint() -> None:
    assert not Tracing.from_config(TracingConfig()).enabled


def test_embedded_default_has_one_watch_per_signal_with_harmful_directions() -> None:
    cfg = embedded_config()
    by = {w.name: w.alert for w in cfg.watches}
    runway = {w.name: w.forecast for w in cfg.watches if w.forecast is not None}
    assert runway["disk_runway"].direction == "down" and runway["disk_runway"].limit == 0
    assert runway["memory_runway"].direction == "up" and runway["memory_runway"].limit == 2 * 2**30
    assert by["agent_task_latency_p95"].direction == "up" and by["agent_task_latency_p95"].for_ == 120
    assert by["agent_task_rate"].absent_for == 600
    assert by["agent_task_error_ratio"].min_deviation.relative is False


@pytest.mark.parametrize(
    ("yaml_text", "fragment"),
    [
        ("watches: [{name: w, query: up, every: soon}]\n", "watches[0].every"),
        ("prometheus: {url: http://x}\n", "no watches configured"),
        ("watches: [{name: w, query: up}]\nserver: {listen: nohost}\n", "server.listen"),
    ],
)
def test_run_reports_bad_config_in_one_line(tmp_path: Path, yaml_text: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    proc = subprocess.run([sys.executable, "-c", "from sentinel.cli import main; main()", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err.startswith("sentinel: error:") and fragment in err and "\n" not in err and "Traceback" not in err
