"""The notifier under faults: the wall clock stepped back, a store that refuses writes, an alert Alertmanager refuses.

Each case was measured against the old code first (see each test's docstring); the services tests use a real
Alertmanager 0.25.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sentinel.alerting.episode import OutboxAlert
from sentinel.alerting.notifier import Notifier
from sentinel.alerting.outbox import Outbox
from sentinel.store import Store
from tests.test_notifier_latest_state import T0, _config, _ev


def test_a_wall_clock_stepped_back_neither_stops_re_sends_nor_holds_a_resolution(tmp_path: Path) -> None:
    """The host's clock ran an hour ahead, then NTP stepped it back: stamps of the last hour are in the future."""
    cfg = _config(resend_delay="60s")
    box = Outbox(Store(tmp_path / "s.db"), cfg)
    ahead = T0 + 3600
    box.observe(cfg.watches[0], [_ev("firing", "x", T0 - 600, T0 - 600), _ev("firing", "y", T0 - 600, T0 - 600)],
                interval=60, now=ahead)
    box.delivered([(a.key, "firing") for a, _ in box.due(ahead)], now=ahead)
    box.observe(cfg.watches[0], [_ev("resolved", "x", T0 - 600, T0 - 60)], interval=60, now=T0)
    sent = {a.labels["agent"]: a.last_attempt_status for a, _ in box.due(T0)}
    assert sent == {"x": "resolved", "y": "firing"}  # not an hour later


@pytest.mark.services
def test_a_store_that_refuses_to_record_a_delivery_does_not_stop_the_sender(
    alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """Measured with a full disk (a 600 kB tmpfs): the sender thread died on ``database or disk is full`` and
    nothing was sent again.  Here another process holds the store locked, which fails the same write."""
    am = alertmanager_factory()
    cfg = _config(am.url)
    reg = CollectorRegistry()
    n = Notifier(cfg, Store(tmp_path / "s.db"), registry=reg)
    n.start()
    t = int(time.time())
    n.observe(cfg.watches[0], [_ev("firing", "a", t - 60, t - 60)], interval=60)
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # as a backup tool would; each write waits 5 s, then fails
    n.flush()
    assert n.drain(15)
    other.execute("ROLLBACK")
    assert reg.get_sample_value("sentinel_outbox_write_errors_total") == 2  # the flush's prune, the delivery's mark
    n.observe(cfg.watches[0], [_ev("firing", "b", t - 60, t - 60)], interval=60)  # writes a's mark too
    n.flush()
    assert n.drain(15)
    assert sorted(a["labels"]["agent"] for a in am.alerts()) == ["a", "b"]
    assert all(doc["firing_delivered_at"] for _, doc, _ in Store(tmp_path / "s.db").alerts()
               if doc["labels"]["agent"] == "a")
    n.stop()



@pytest.mark.services
def test_one_alert_alertmanager_refuses_does_not_hold_back_its_batch(
    alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    """Alertmanager answers 400 for a whole batch when one alert is invalid (an invalid label name, measured),
    though it keeps the valid ones; a proxy's 413 refuses them all.  Every alert sharing a batch with the bad
    one was then never marked delivered, so an episode that had resolved before its firing state was
    accepted was re-sent as *firing* every cycle, for good: a resolved alert stuck firing in Alertmanager."""
    am = alertmanager_factory()
    cfg = _config(am.url, batch_size=8)
    store = Store(tmp_path / "s.db")
    t = int(time.time())
    bad = OutboxAlert("lat|anomaly|bad", "lat", "anomaly", [], {"alertname": "SentinelAnomaly", "bad-name": "x"},
                      {"summary": "s"}, "", "warning", t - 600, None, 60.0)  # a row no release of sentinel writes
    store.put_alerts([(bad.key, asdict(bad), None)])
    reg = CollectorRegistry()
    n = Notifier(cfg, store, registry=reg)
    n.start()
    n.observe(cfg.watches[0], [_ev("firing", a, t - 300, t - 300) for a in "pqr"]
              + [_ev("firing", "s", t - 300, t - 300), _ev("resolved", "s", t - 300, t - 120)], interval=60)
    deadline = time.monotonic() + 30
    while n.outbox.counts()["resolved_pending"] and time.monotonic() < deadline:
        n.flush()
        assert n.drain(10)
        time.sleep(0.3)
    assert n.outbox.counts()["resolved_pending"] == 0  # s: firing delivered, then its resolution
    assert sorted(a["labels"].get("agent") for a in am.alerts()) == ["p", "q", "r"]
    assert reg.get_sample_value("sentinel_notifications_failed_total", {"reason": "http_4xx"}) >= 1
    n.stop()
