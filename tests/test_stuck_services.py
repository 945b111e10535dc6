"""End to end against real servers: a frozen gauge -> the daemon -> ``SentinelStuck`` in a real Alertmanager.

The stuck alert (:mod:`sentinel.detect.stuck`, the policy's ``stuck``) is a
condition, not a score: the value sits inside the series' range, so no score
breach reports it.  Here a backfilled Prometheus holds two continuous gauges
at minute steps; after a 12 h warm-up (far past the check's 150 values) one
of them repeats one value, from the middle of its range, for an hour, then
moves again.  The daemon's cycles run on a controlled clock over that
history, as in ``tests/test_e2e_services.py``; the alert must reach
Alertmanager (API v2) with the README's labels and annotations while the
value is stuck, and resolve there at the first value that differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.signal import lfilter

from sentinel.config import Config, format_duration
from sentinel.daemon import Daemon
from tests.services import openmetrics, pump_outbox, unix_seconds

pytestmark = [pytest.mark.services, pytest.mark.slow]

MINUTE, HOUR = 60, 3600
QUERY = "max by (agent) (agent_context_fill)"
FREEZE, THAW = 60, 120  # minutes after the warm-up: agent-01 repeats its value at FREEZE until THAW
FOR = 2  # minutes: the policy's `for`
LIMIT = 30  # the default detector's stuck check: a run of 30 values (and 4 x the longest, 1 for a gauge)


class History:
    """The backfilled Prometheus, the end of the warm-up (``start``) and agent-01's frozen value."""

    def __init__(self, prom_url: str, start: int, frozen: float) -> None:
        self.prom_url, self.start, self.frozen = prom_url, start, frozen


def gauges(start: int) -> tuple[dict[str, list[tuple[int, float]]], float]:
    """Two AR(1) gauges from 12 h before ``start`` to 3 h after; agent-01 frozen from FREEZE to THAW."""
    rng = np.random.default_rng(8)
    t = np.arange(start - 12 * HOUR, start + 3 * HOUR, MINUTE)
    out: dict[str, list[tuple[int, float]]] = {}
    frozen = float("nan")
    for agent in ("agent-01", "agent-02"):
        level = lfilter([1.0], [1.0, -0.95], rng.normal(0, 1, len(t)))  # a wandering level, never exactly repeating
        x = np.round(50 + level + rng.normal(0, 0.5, len(t)), 3)
        if agent == "agent-01":
            at = int(np.searchsorted(t, start + FREEZE * MINUTE))
            seen = x[:at]
            # inside the range shown so far, well away from its bounds (a run at a bound is rest, not stuck)
            frozen = float(np.median(seen))
            x[at:at + (THAW - FREEZE)] = frozen
            x[at + (THAW - FREEZE)] = frozen + 3.0  # moves again (any different value ends the run)
            assert seen.min() + 0.2 * np.ptp(seen) < frozen < seen.max() - 0.2 * np.ptp(seen)
        out[agent] = list(zip(t.tolist(), x.tolist(), strict=True))
    return out, frozen


@pytest.fixture(scope="module")
def history(prometheus_factory: Callable[..., Any]) -> Iterator[History]:
    start = (int(time.time()) // HOUR - 24) * HOUR  # a day back: replayed data times, as a backfill has
    series, frozen = gauges(start)
    text = openmetrics("agent_context_fill", "gauge", [({"agent": a}, p) for a, p in series.items()])
    prom = prometheus_factory(text)
    yield History(prom.url, start, frozen)


def _config(tmp: Path, prom_url: str, am_url: str) -> Config:
    return Config.model_validate({
        "prometheus": {"url": prom_url, "backfill": "12h"},
        "alertmanager": {"url": am_url, "resend_delay": "1s", "external_url": "http://sentinel.example:9108"},
        "store": {"path": str(tmp / "sentinel.db"), "models_dir": str(tmp / "models")},
        "server": {"listen": "127.0.0.1:0"},
        "watches": [{"name": "context_fill", "query": QUERY, "every": "1m", "runbook_url": "https://rb.example/stuck",
                     "alert": {"for": f"{FOR}m", "stuck": True, "severity": "warning"}}],
    })


def _drive(d: Daemon, start: int, end: int, every: int = 5 * MINUTE) -> None:
    for now in range(start, end + 1, every):
        d.run_cycle("context_fill", now)


def _stuck(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"]["alertname"] == "SentinelStuck"]


def _active(am: Any) -> list[dict[str, Any]]:
    return [a for a in _stuck(am.alerts()) if a["status"]["state"] == "active"]


def test_a_frozen_series_raises_sentinel_stuck_in_alertmanager_and_resolves_when_it_moves(
    history: History, alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    am = alertmanager_factory()
    d = Daemon(_config(tmp_path, history.prom_url, am.url))
    d.start(schedule=False, serve=False)
    start, v = history.start, history.frozen
    fires = start + (FREEZE + LIMIT - 1 + FOR) * MINUTE  # the 30th value of the run, then `for`
    try:
        _drive(d, start, fires - MINUTE)  # the warm-up, then the run up to just before it fires
        d.notifier.flush()
        d.notifier.drain(5)
        assert not _stuck(am.alerts()) and not _stuck(am.webhook.alerts()), "fired before its run was long enough"

        _drive(d, fires, start + (THAW - 5) * MINUTE)  # still stuck: the alert is active in Alertmanager
        pump_outbox(d, lambda: bool(_active(am)), seen=lambda: am.alerts())
        (alert,) = _active(am)
        assert alert["labels"] == {"alertname": "SentinelStuck", "severity": "warning", "watch": "context_fill",
                                   "agent": "agent-01"}
        notes = alert["annotations"]
        assert notes["summary"] == f'context_fill: {{agent="agent-01"}} is stuck at {v:.4g}'
        held = format_duration((LIMIT - 1 + FOR) * MINUTE)  # since the run's first value
        assert f"value {v:.4g} unchanged for {held}, a run of one value far longer than any this series had shown" \
               in notes["description"]
        assert notes["runbook_url"] == "https://rb.example/stuck"
        assert notes["sentinel_url"] == "http://sentinel.example:9108/alerts?watch=context_fill"
        assert unix_seconds(alert["startsAt"]) == fires

        _drive(d, start + THAW * MINUTE, start + 3 * HOUR - 5 * MINUTE)  # the value moves: resolved
        pump_outbox(d, lambda: any(a["status"] == "resolved" for a in _stuck(am.webhook.alerts())),
              seen=lambda: [(a["status"], a["labels"]) for a in am.webhook.alerts()])
        stuck = _stuck(am.webhook.alerts())
        assert {a["labels"]["agent"] for a in stuck} == {"agent-01"}, "the moving gauge is never stuck"
        resolved = next(a for a in stuck if a["status"] == "resolved")
        assert unix_seconds(resolved["startsAt"]) == fires and unix_seconds(resolved["endsAt"]) == start + THAW * MINUTE
        assert resolved["annotations"]["summary"] == notes["summary"]
        run = format_duration((THAW - FREEZE) * MINUTE)
        assert f"value changed from {v:.4g} to {v + 3:.4g} after {run} unchanged" \
               in resolved["annotations"]["description"], "the resolution says how it ended"
        assert not _active(am), "nothing stays firing once the value changed"
    finally:
        d.stop()
