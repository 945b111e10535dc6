"""Against a real Alertmanager: an alert open on a series the watch forgets (sentinel.retention) resolves there.

A dead agent's ``absent`` alert fires and reaches Alertmanager; once the
agent has had no value for ``series_retention`` the watch forgets it, the
policy no longer confirms the alert, and the daemon's reconcile resolves it:
nothing is stranded firing in Alertmanager.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sentinel.config import Config
from sentinel.daemon import Daemon
from tests.churn import ChurnSource
from tests.services import pump_outbox

pytestmark = pytest.mark.services

HOUR = 3600


def _absent(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"]["alertname"] == "SentinelAbsent" and a["labels"]["agent"] == "dead"]


def test_an_absent_alert_on_a_forgotten_series_resolves_in_alertmanager(
    alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    am = alertmanager_factory()
    t0 = (int(time.time()) // HOUR - 24) * HOUR  # a day back: replayed data times
    d = Daemon(Config.model_validate({
        "simulator": {"agents": 2},
        "alertmanager": {"url": am.url, "resend_delay": "1s"},
        "store": {"path": str(tmp_path / "sentinel.db"), "models_dir": str(tmp_path / "models")},
        "server": {"listen": "127.0.0.1:0"},
        "watches": [{"name": "w", "query": "agent_task_rate", "every": "1h", "step": "1m",
                     "series_retention": "3h", "alert": {"absent_for": "10m"}}],
    }))
    d.start(schedule=False, serve=False)
    d.slots["w"].runner.source = ChurnSource(lambda start: ["s0", "dead"], silent=True,
                                             alive=lambda a, t: a != "dead" or t < t0 + HOUR)
    try:
        for k in range(1, 4):
            d.run_cycle("w", t0 + k * HOUR)
        pump_outbox(d, lambda: any(a["status"]["state"] == "active" for a in _absent(am.alerts())),
                    seen=lambda: am.alerts())
        d.run_cycle("w", t0 + 4 * HOUR)  # no value for 3h: forgotten, and its alert resolved by reconcile
        pump_outbox(d, lambda: any(a["status"] == "resolved" for a in _absent(am.webhook.alerts())),
                    seen=lambda: [(a["status"], a["labels"]) for a in am.webhook.alerts()])
        assert not [a for a in _absent(am.alerts()) if a["status"]["state"] == "active"]
    finally:
        d.stop()
