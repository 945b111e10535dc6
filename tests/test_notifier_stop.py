"""Stopping sentinel while a resolution is held back keeps it held, and says so.

A resolution is held back until ``resend_delay`` after its firing was accepted, so Alertmanager's
``group_wait`` notifies the firing first (Alertmanager never notifies a group that only saw resolved
alerts).  Sending it in the last flush at shutdown would cancel that page; keeping it leaves the alert
firing in Alertmanager until its ``endsAt`` (4 x max(interval, resend_delay)) unless sentinel restarts,
whose outbox then sends it.  A stale alert for minutes is the lesser harm than a lost page; the warning
names it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sentinel.alerting.notifier import Notifier
from sentinel.store import Store
from tests.test_notifier_latest_state import T0, _config, _ev


def test_stop_keeps_a_held_back_resolution_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = _config(resend_delay="1m")
    now = [float(T0)]
    n = Notifier(cfg, Store(tmp_path / "s.db"), registry=CollectorRegistry(), clock=lambda: now[0])
    n.observe(cfg.watches[0], [_ev("firing", "a", T0 - 600, T0 - 600)], interval=60)
    [a] = n.outbox.alerts()
    n.outbox.delivered([(a.key, "firing")], T0 + 1)
    now[0] = T0 + 10
    n.observe(cfg.watches[0], [_ev("resolved", "a", T0 - 600, T0 - 60)], interval=60)
    with caplog.at_level(logging.WARNING, logger="sentinel.alerting.notifier"):
        n.stop(timeout=0.1)
    [a] = n.outbox.alerts()
    assert a.send_as(now[0], 60) == "firing" and a.owes  # still held: the restarted daemon sends it
    assert "1 resolution(s) held back" in caplog.text and a.key in caplog.text


def test_stop_without_alertmanager_warns_of_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A console-only daemon holds nothing back: it used to warn that Alertmanager kept alerts firing."""
    cfg = _config(resend_delay="1m").model_copy(update={"alertmanager": None})
    now = [float(T0)]
    n = Notifier(cfg, Store(tmp_path / "s.db"), registry=CollectorRegistry(), clock=lambda: now[0])
    n.observe(cfg.watches[0], [_ev("firing", "a", T0 - 600, T0 - 600)], interval=60)
    now[0] = T0 + 10
    n.observe(cfg.watches[0], [_ev("resolved", "a", T0 - 600, T0 - 60)], interval=60)
    with caplog.at_level(logging.WARNING, logger="sentinel.alerting.notifier"):
        n.stop(timeout=0.1)
    assert [a.resolved for a in n.outbox.alerts()] == [True]
    assert "held back" not in caplog.text
