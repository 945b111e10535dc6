"""The daemon against a real Alertmanager that is down when it starts and comes back later.

Cycles run on the in-process simulated fleet (explicit data times, as in
``tests/test_daemon.py``) while Alertmanager is stopped: every episode
decided meanwhile must reach the receiver once it is back, resolutions
after their firing state, and the notifier's metrics must say what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sentinel.daemon import Daemon
from tests.services import pump_outbox
from tests.test_daemon import HOUR, T0, _config

pytestmark = pytest.mark.services


def test_episodes_decided_while_alertmanager_is_down_arrive_once_it_is_back(
    alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    am = alertmanager_factory()
    am.stop()  # down before sentinel starts
    d = Daemon(_config(tmp_path, alertmanager={"url": am.url, "resend_delay": "3s", "timeout": "2s"}))
    d.start(schedule=False, serve=False)
    try:
        for now in range(T0, T0 + 12 * HOUR + 1, HOUR):
            d.run_cycle("lat", now)
        d.notifier.drain(10)
        owed = {a.key: a for a in d.notifier.outbox.alerts()}
        assert len(owed) >= 3 and any(a.resolved for a in owed.values()), "the scenario needs episodes"
        reg = d.registry
        assert (reg.get_sample_value("sentinel_notifications_failed_total", {"reason": "connection"}) or 0) > 0
        # an older episode of a series that fired again owes nothing: only the newest one speaks for the alert
        assert reg.get_sample_value("sentinel_outbox_alerts", {"state": "resolved_pending"}) == sum(
            a.resolved and not a.superseded for a in owed.values())
        assert (reg.get_sample_value("sentinel_notifications_sent_total") or 0) == 0

        am.start()

        def active() -> set[str]:
            return {a["labels"]["agent"] for a in am.alerts() if a["status"]["state"] == "active"}

        firing = {a.labels["agent"] for a in owed.values() if not a.resolved}
        all_resolved = {a.labels["agent"] for a in owed.values()} - firing
        # Alertmanager keeps one alert per label set: the episodes of one series that fired and resolved during
        # the outage merge into it (its dedup), so what must hold is its state, and one notification per series
        pump_outbox(d, lambda: d.notifier.outbox.counts()["resolved_pending"] == 0 and active() == firing,
                    seen=lambda: (d.notifier.outbox.counts(), active(), firing))
        am.webhook.wait_for(lambda alerts: {a["labels"]["agent"] for a in alerts if a["status"] == "firing"}
                            == firing | all_resolved
                            and all_resolved <= {a["labels"]["agent"] for a in alerts if a["status"] == "resolved"})
        assert reg.get_sample_value("sentinel_notifications_sent_total") >= len({a.fingerprint for a in owed.values()})
        assert reg.get_sample_value("sentinel_notifications_superseded_total") >= sum(
            a.superseded for a in owed.values()) > 0  # older episodes of a series: never sent, counted
        assert reg.get_sample_value("sentinel_notifications_dropped_total") == 0
        assert reg.get_sample_value("sentinel_outbox_alerts", {"state": "resolved_pending"}) == 0
    finally:
        d.stop()
