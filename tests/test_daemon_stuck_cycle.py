"""A cycle stuck on a Prometheus that accepts the connection and never answers: /-/ready says so, /metrics serves.

The hung server is a real TCP listener that never replies (what a wedged
Prometheus or a black-holing proxy looks like); the watch first runs on the
in-process simulated fleet, then its source is pointed at the hung server.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel import daemon as daemon_module
from sentinel.config import PrometheusConfig
from sentinel.daemon import Daemon
from sentinel.sources.prometheus import PrometheusSource
from tests.services import http_get
from tests.test_daemon import HOUR, T0, _config


@pytest.fixture
def hung_server() -> Iterator[str]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)  # connections complete in the backlog; nothing ever reads or answers them
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    srv.close()


def test_a_stuck_cycle_makes_readiness_fail_and_metrics_keep_serving(
    tmp_path: Path, hung_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon_module, "STUCK_MIN_SECONDS", 1.0)
    d = Daemon(_config(tmp_path))
    d.start(schedule=False)
    base = f"http://127.0.0.1:{d.server.port}"
    try:
        for name in ("lat", "rate"):
            d.run_cycle(name, T0)
        assert http_get(base + "/-/ready", timeout=5)[0] == 200
        slot = d.slots["lat"]
        hung = PrometheusSource(PrometheusConfig(url=hung_server, timeout="4s", retries=0), registry=d.registry)
        slot.runner.source = hung
        stuck = threading.Thread(target=d.run_cycle, args=("lat", T0 + HOUR))
        stuck.start()
        try:
            code, body = 200, ""
            for _ in range(30):  # the cycle waits up to 4 s for an answer; it counts as stuck after 1 s
                code, body = http_get(base + "/-/ready", timeout=5)
                if code == 503:
                    break
                time.sleep(0.1)
            assert code == 503 and "lat (for" in body and "rate" not in body
            code, text = http_get(base + "/metrics", timeout=5)
            assert code == 200 and 'sentinel_cycles_total{outcome="ok",watch="lat"} 1.0' in text
            assert http_get(base + "/-/healthy", timeout=5)[0] == 200  # alive: a restart would not help a hung upstream
        finally:
            stuck.join(10)
            hung.close()
        assert d.registry.get_sample_value("sentinel_cycle_errors_total", {"watch": "lat", "reason": "source"}) == 1
        assert http_get(base + "/-/ready", timeout=5)[0] == 200  # the timeout ended the cycle: ready again
    finally:
        d.stop()
