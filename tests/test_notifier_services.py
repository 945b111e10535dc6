"""The notifier against a real Alertmanager 0.25 and a webhook receiver (no mocks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sentinel.alerting.notifier import Notifier
from sentinel.alerting.policy import AlertEvent
from sentinel.config import Config
from sentinel.series import labels_key
from sentinel.store import Store

pytestmark = pytest.mark.services


def _cfg(am_url: str) -> Config:
    return Config.model_validate({
        "alertmanager": {"url": am_url, "resend_delay": "1s", "batch_size": 2},
        "prometheus": {},
        "watches": [{"name": "lat", "query": "up", "every": "1m", "runbook_url": "https://rb.example/lat"}],
    })


def _episode(agent: str, start: int, end: int | None) -> list[AlertEvent]:
    lb = labels_key({"agent": agent})
    out = [AlertEvent("firing", "lat", lb, start, start, value=9.0, expected=2.0, lower=1.0, upper=3.0,
                      score=0.999, summary=f"lat: {agent} up", description="value 9 ...")]
    if end is not None:
        out.append(AlertEvent("resolved", "lat", lb, start, end, value=2.0))
    return out


def _pump(n: Notifier, until: Callable[[], bool], timeout: float = 60.0) -> None:
    """Flush like the daemon's cycles do until ``until()`` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "condition not reached"
        n.flush()
        n.drain(5)
        time.sleep(0.3)


def _seen(alerts: list[dict[str, Any]], agent: str, status: str) -> bool:
    return any(a["labels"].get("agent") == agent and a["status"] == status for a in alerts)


def test_firing_and_resolved_reach_the_receiver_with_labels_and_annotations(
    alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    am = alertmanager_factory()
    cfg = _cfg(am.url)
    n = Notifier(cfg, Store(tmp_path / "s.db"), registry=CollectorRegistry())
    n.start()
    now = int(time.time())
    n.observe(cfg.watches[0], _episode("a1", now - 300, None), interval=1)
    _pump(n, lambda: _seen(am.webhook.alerts(), "a1", "firing"))
    (a,) = [a for a in am.webhook.alerts() if a["status"] == "firing"]
    assert a["labels"] == {"agent": "a1", "alertname": "SentinelAnomaly", "severity": "warning", "watch": "lat"}
    assert a["annotations"]["summary"] == "lat: a1 up"
    assert a["annotations"]["runbook_url"] == "https://rb.example/lat"
    assert "/graph?g0.expr=up" in a["generatorURL"]  # a PromQL watch links to its query in Prometheus
    n.observe(cfg.watches[0], [_episode("a1", now - 300, now - 5)[1]], interval=1)
    _pump(n, lambda: _seen(am.webhook.alerts(), "a1", "resolved"))
    assert not [x for x in am.alerts() if x["labels"].get("agent") == "a1"]  # nothing left active
    n.stop()


def test_alertmanager_outage_loses_no_episode_and_strands_none(
    alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    am = alertmanager_factory()
    cfg = _cfg(am.url)
    reg = CollectorRegistry()
    n = Notifier(cfg, Store(tmp_path / "s.db"), registry=reg)
    n.start()
    now = int(time.time())
    n.observe(cfg.watches[0], _episode("before", now - 900, None), interval=1)
    _pump(n, lambda: _seen(am.webhook.alerts(), "before", "firing"))
    am.stop()
    # during the outage: "before" resolves, "short" fires and resolves, "long" fires and stays firing
    n.observe(cfg.watches[0], [_episode("before", now - 900, now - 60)[1]], interval=1)
    n.observe(cfg.watches[0], _episode("short", now - 500, now - 400), interval=1)
    n.observe(cfg.watches[0], _episode("long", now - 300, None), interval=1)
    for _ in range(3):
        n.flush()
        n.drain(5)
        time.sleep(1.1)
    assert reg.get_sample_value("sentinel_notifications_failed_total", {"reason": "connection"}) >= 3
    assert n.outbox.counts()["resolved_pending"] == 2
    am.start()
    _pump(n, lambda: all(_seen(am.webhook.alerts(), *want) for want in [
        ("before", "resolved"), ("short", "firing"), ("short", "resolved"), ("long", "firing")]))
    held = {a["labels"]["agent"]: a["status"]["state"] for a in am.alerts()}
    assert held.get("long") == "active"
    assert held.get("short", "resolved") == "resolved" and held.get("before", "resolved") == "resolved"
    assert n.outbox.counts()["resolved_pending"] == 0
    n.stop()
