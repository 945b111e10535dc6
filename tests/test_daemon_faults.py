"""Bad data and a misbehaving Prometheus never stop the daemon; each shows in /metrics and the log.

The data is real (a backfilled Prometheus holding NaN, +-Inf, huge values, a
label explosion); HTTP faults (a 5xx, a timeout) are injected by a small
pass-through proxy in front of that real Prometheus.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sentinel.config import Config
from sentinel.daemon import Daemon
from tests.services import QuietHandler, openmetrics

pytestmark = pytest.mark.services

T = 1_767_571_200
HOUR = 3600


class _Proxy(QuietHandler):
    target: ClassVar[str] = ""
    mode: ClassVar[str] = "pass"

    def do_GET(self) -> None:
        mode = type(self).mode
        if mode == "sleep":
            time.sleep(3)
        if mode == "503":
            body, status = b'{"status":"error","errorType":"unavailable","error":"overloaded"}', 503
        else:
            try:
                with urllib.request.urlopen(type(self).target + self.path, timeout=30) as r:
                    body, status = r.read(), r.status
            except urllib.error.HTTPError as e:
                body, status = e.read(), e.code
            except urllib.error.URLError:  # upstream gone (the test is stopping it): a gateway error
                body, status = b'{"status":"error","error":"upstream down"}', 502
        self.reply(status, body, "application/json")


@pytest.fixture
def proxy_to() -> Iterator[Callable[[str], tuple[str, type[_Proxy]]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(target: str) -> tuple[str, type[_Proxy]]:
        handler = type("P", (_Proxy,), {"target": target, "mode": "pass"})
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}", handler

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _history() -> str:
    ts = range(T - 2 * HOUR, T + 4 * HOUR, 60)
    weird = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5.0]
    bad = [({"agent": "a"}, [(t, weird[(t // 60) % len(weird)]) for t in ts]),
           ({"agent": "b"}, [(t, 10.0 + (t // 60) % 7) for t in ts])]
    ok = [({"agent": "a"}, [(t, 3.0 + (t // 60) % 5) for t in ts])]
    boom = [({"id": str(i)}, [(t, float(i)) for t in ts]) for i in range(300)]
    return (openmetrics("bad_values", "gauge", bad, eof=False) + openmetrics("ok_values", "gauge", ok, eof=False)
            + openmetrics("exploding", "gauge", boom))


def _metric(d: Daemon, name: str, labels: dict[str, str]) -> float:
    return d.registry.get_sample_value(name, labels) or 0.0


def test_bad_data_and_prometheus_faults_never_stop_the_daemon(
    prometheus_factory: Callable[..., Any], proxy_to: Callable[[str], tuple[str, type[_Proxy]]],
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    prom = prometheus_factory(_history())
    url, proxy = proxy_to(prom.url)
    cfg = Config.model_validate({
        "prometheus": {"url": url, "backfill": "2h", "timeout": "1s", "retries": 0},
        "store": {"path": str(tmp_path / "s.db"), "models_dir": str(tmp_path / "models")},
        "server": {"listen": "127.0.0.1:0"},
        "watches": [
            {"name": "bad", "query": "bad_values", "every": "1m"},
            {"name": "ok", "query": "ok_values", "every": "1m"},
            {"name": "empty", "query": "no_such_metric", "every": "1m"},
            {"name": "boom", "query": "exploding", "every": "1m", "max_series": 50},
        ],
    })
    d = Daemon(cfg)
    d.start(schedule=False)
    names = [w.name for w in cfg.watches]
    try:
        with caplog.at_level(logging.WARNING, logger="sentinel"):
            for now, mode in [(T, "pass"), (T + HOUR, "pass"), (T + 2 * HOUR, "503"), (T + 2 * HOUR + 600, "sleep"),
                              (T + 3 * HOUR, "pass")]:
                proxy.mode = mode
                for name in names:
                    d.run_cycle(name, now)
        assert d.healthy()[0] and d.ready()[0]
        for name in names:  # the 503 and the timeout: one failed cycle each, then caught up
            assert _metric(d, "sentinel_cycle_errors_total", {"watch": name, "reason": "source"}) == 2
            assert d.slots[name].runner.cursor == T + 3 * HOUR
        assert _metric(d, "sentinel_source_nonfinite_samples_total", {"source": "prometheus", "watch": "bad"}) > 0
        assert _metric(d, "sentinel_source_series_dropped_total", {"source": "prometheus", "watch": "boom"}) > 0
        assert _metric(d, "sentinel_source_series", {"source": "prometheus", "watch": "boom"}) == 50
        assert _metric(d, "sentinel_source_series", {"source": "prometheus", "watch": "empty"}) == 0
        assert _metric(d, "sentinel_cycles_total", {"watch": "empty", "outcome": "ok"}) == 3
        failures = [r.getMessage() for r in caplog.records if "cycle failed" in r.getMessage()]
        assert len(failures) == 2 * len(names) and all("\n" not in f for f in failures)
        assert any("503" in f for f in failures) and any("1s" in f or "time" in f for f in failures)
        assert any("boom" in r.getMessage() and "50" in r.getMessage() for r in caplog.records), "cap is warned"
        with urllib.request.urlopen(f"http://127.0.0.1:{d.server.port}/metrics", timeout=10) as r:
            text = r.read().decode()
        assert 'sentinel_cycle_errors_total{reason="source",watch="bad"} 2.0' in text
        # the huge values are in the model's state, but the exposition stays valid
        assert 'sentinel_anomaly_score{agent="b",watch="bad"}' in text
    finally:
        d.stop()
