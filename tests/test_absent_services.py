"""A dead agent goes absent against a real Prometheus, whose range query leaves its series out entirely.

Prometheus returns no row for a series with no sample in the queried range (after its last sample the
5-minute lookback keeps it a little longer), so a watch stops seeing the series, not values missing
from it.  The policy remembers it and raises the absent alert all the same (sentinel.alerting.absent).

With live scrapes, an agent removed from service discovery is told from a dead one by `up`
(sentinel.sources.targets): the removed one does not page.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sentinel.config import PrometheusConfig, WatchConfig
from sentinel.sources.prometheus import PrometheusSource
from sentinel.watch import WatchRunner
from tests.services import QuietHandler, openmetrics

pytestmark = pytest.mark.services

T0 = 1_767_225_600
STOP = 30  # agent b's last sample: minute 29


def test_an_agent_whose_series_vanish_from_prometheus_goes_absent(prometheus_factory: Callable[..., Any]) -> None:
    series = [({"agent": a}, [(T0 + 60 * k, 5.0 + k % 3) for k in range(120 if a == "a" else STOP)])
              for a in ("a", "b")]
    prom = prometheus_factory([openmetrics("t_task_rate", "gauge", series)])
    source = PrometheusSource(PrometheusConfig(url=prom.url, retries=0), registry=CollectorRegistry())
    watch = WatchConfig.model_validate({"name": "rate", "query": "t_task_rate", "every": "1m",
                                        "alert": {"absent_for": "10m"}})
    runner = WatchRunner(watch, source, warmup=20 * 60)
    events = []
    for minute in range(20, 90, 5):
        result = runner.cycle(T0 + 60 * minute)
        assert result is not None
        events += [(e.kind, e.status, dict(e.labels)["agent"], (e.at - T0) // 60) for e in result.events]
        if minute >= 45:
            assert "b" not in {dict(k)["agent"] for k in result.batch.labels}  # Prometheus no longer returns it
    source.close()
    [(kind, status, agent, at)] = events
    assert (kind, status, agent) == ("absent", "firing", "b")
    assert STOP - 1 + 10 <= at <= STOP - 1 + 5 + 10  # its last value (or the lookback's copy of it) + absent_for


class _Agent:
    """A scrape target serving one gauge, ``t_agent_load 5``; ``stop()`` kills it (its scrapes fail: up == 0)."""

    def __init__(self) -> None:
        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self.reply(200, b"# TYPE t_agent_load gauge\nt_agent_load 5\n", "text/plain; version=0.0.4")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _serve_targets(path: Path, agents: list[_Agent]) -> None:
    """Rewrite the file_sd file atomically (Prometheus watches it and drops targets no longer listed)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([{"targets": [a.target for a in agents]}]))
    tmp.replace(path)


def test_a_removed_target_does_not_page_and_a_dead_one_does(prometheus_factory: Callable[..., Any],
                                                              tmp_path: Path) -> None:
    """Live scrapes: agent b leaves service discovery (its `up` goes stale: scaled down, no alert, forgotten at
    once); agent c's process dies (`up == 0`: pages), and its alert resolves once c is removed too.  Before
    session 12 both paged, and c's alert stayed open until series_retention."""
    a, b, c = _Agent(), _Agent(), _Agent()
    sd = tmp_path / "agents.json"
    _serve_targets(sd, [a, b, c])
    prom = prometheus_factory(scrape_configs=[{"job_name": "agents", "file_sd_configs": [
        {"files": [str(sd)], "refresh_interval": "1s"}]}], scrape_interval=1.0)
    registry = CollectorRegistry()
    source = PrometheusSource(PrometheusConfig(url=prom.url, retries=0), registry=registry)
    watch = WatchConfig.model_validate({"name": "load", "query": "t_agent_load", "every": "1s",
                                        "series_retention": "1h", "alert": {"absent_for": "4s"}})
    runner = WatchRunner(watch, source, warmup=20)
    name = {x.target: n for n, x in zip("abc", (a, b, c), strict=True)}
    events: list[tuple[str, str, str]] = []
    forgotten: list[str] = []

    def run_until(done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, (events, forgotten)
            result = runner.cycle(time.time())
            if result is not None:
                events.extend((e.status, name[dict(e.labels)["instance"]], e.description)
                              for e in result.events if e.kind == "absent")
                forgotten.extend(name[dict(k)["instance"]] for k in result.forgotten.get("removed", []))
            time.sleep(0.5)

    try:
        run_until(lambda: len(runner.policy.index_) == 3, 600)  # all three known (cold JIT: minutes)
        _serve_targets(sd, [a, c])  # b: removed from service discovery
        c.stop()  # c: dead, still a target
        def fired(agent: str) -> bool:
            return ("firing", agent) in [e[:2] for e in events]

        run_until(lambda: fired("c") and ("b" in forgotten or fired("b")), 300)
        assert [e[:2] for e in events] == [("firing", "c")]  # b never paged
        _serve_targets(sd, [a])  # c, dead and paged, is now decommissioned
        run_until(lambda: len(events) == 2, 300)
        status, agent, description = events[1]
        assert (status, agent) == ("resolved", "c") and "removed from Prometheus' service discovery" in description
        assert forgotten == ["b", "c"] and len(runner.policy.index_) == 1
        lookups = registry.get_sample_value("sentinel_source_target_lookups_total",
                                            {"source": "prometheus", "watch": "load", "outcome": "ok"})
        assert lookups is not None and lookups >= 2
    finally:
        source.close()
        for agent in (a, b):
            agent.stop()
