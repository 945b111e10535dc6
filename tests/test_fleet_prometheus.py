"""The simulated fleet through a real Prometheus: backfilled history and a live scrape."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from sentinel.fleet import Fleet
from sentinel.fleet.exposition import serve
from sentinel.fleet.openmetrics import write_openmetrics
from tests.services import free_port

pytestmark = pytest.mark.services

FLEET = Fleet(agents=3, seed=17)
START = FLEET.start + 8 * 3600
END = START + 3 * 3600


def _query(url: str, expr: str, t: int) -> dict[str, float]:
    r = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": t}, timeout=30)
    r.raise_for_status()
    return {s["metric"].get("agent", ""): float(s["value"][1]) for s in r.json()["data"]["result"]}


def test_promql_over_backfilled_history_recovers_the_signals(
    prometheus_factory: Callable[..., Any], tmp_path: Path
) -> None:
    path = tmp_path / "fleet.om"
    write_openmetrics(FLEET, path, START, END)
    prom = prometheus_factory(openmetrics=path)
    sig = FLEET.signals(START, END)
    checks = {
        "agent_task_latency_p95":
            "histogram_quantile(0.95, sum by (agent, le) (rate(agent_task_duration_seconds_bucket[5m])))",
        "agent_task_rate": "sum by (agent) (rate(agent_tasks_total[5m]))",
        "gen_ai_latency_p95":
            "histogram_quantile(0.95, sum by (agent, le) (rate(gen_ai_client_operation_duration_seconds_bucket[5m])))",
    }
    for name, expr in checks.items():
        errs = []
        for t in range(START + 1800, END, 1200):
            got = _query(prom.url, expr, t)
            col = (t - START) // 60
            for row, lb in enumerate(sig[name].labels):
                want = sig[name].values[row, col - 4 : col + 1].mean()
                errs.append(abs(got[dict(lb)["agent"]] / want - 1.0))
        assert np.median(errs) < 0.15, (name, np.median(errs))
    mem = _query(prom.url, "process_resident_memory_bytes", END - 60)
    assert mem["agent-01"] == sig["process_resident_memory_bytes"].values[1, -1]


def test_prometheus_scrapes_the_live_endpoint(prometheus_factory: Callable[..., Any]) -> None:
    port = free_port()
    server, _, _ = serve(FLEET, "127.0.0.1", port, speed=60.0)
    try:
        prom = prometheus_factory(
            scrape_configs=[{"job_name": "fleet", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
            scrape_interval=1.0,
        )
        deadline, got = time.monotonic() + 60, {}
        while time.monotonic() < deadline and len(got) < 3:
            r = httpx.get(f"{prom.url}/api/v1/query", params={"query": 'agent_tasks_total{status="ok"}'}, timeout=10)
            got = {s["metric"]["agent"] for s in r.json()["data"]["result"]}
            time.sleep(0.5)
        assert got == {"agent-00", "agent-01", "agent-02"}
    finally:
        server.shutdown()
