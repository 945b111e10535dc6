"""Stopping sentinel right after an alert resolved leaves no stale alert in Alertmanager.

A resolution is held back until ``resend_delay`` after the firing state was accepted (so Alertmanager's
``group_wait`` notifies the firing first).  Before: stopped during that hold, sentinel left the alert firing in
Alertmanager until the last firing state's ``endsAt`` = then + 4 x max(interval, resend_delay): 4 minutes at
the defaults, 4 hours for an hourly watch.  A shorter ``endsAt`` does not help (Alertmanager keeps the later
one of a firing alert), so the last flush before stopping sends held-back resolutions at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sentinel.alerting.notifier import Notifier
from sentinel.alerting.outbox import Outbox, rfc3339
from sentinel.store import Store
from tests.test_notifier_latest_state import T0, _config, _ev


def test_the_final_flush_sends_a_held_back_resolution_at_once(tmp_path: Path) -> None:
    cfg = _config(resend_delay="1m")
    box = Outbox(Store(tmp_path / "s.db"), cfg)
    box.observe(cfg.watches[0], [_ev("firing", "a", T0 - 600, T0 - 600)], 3600, T0)
    [(a, p)] = box.due(T0)
    assert p["endsAt"] == rfc3339(T0 + 4 * 3600)  # the hourly watch's margin: Alertmanager ends it then
    box.delivered([(a.key, "firing")], T0 + 1)
    box.observe(cfg.watches[0], [_ev("resolved", "a", T0 - 600, T0 - 60)], 3600, T0 + 10)
    assert box.due(T0 + 10) == []  # held back (group_wait), still firing in Alertmanager
    [(a, p)] = box.due(T0 + 11, final=True)
    assert a.last_attempt_status == "resolved" and p["endsAt"] == rfc3339(T0 - 60)  # the data's end
    assert box.due(T0 + 12, final=True) == []  # sent once


@pytest.mark.services
def test_stop_right_after_a_resolution_leaves_no_stale_alert(
    alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    am = alertmanager_factory()
    cfg = _config(am.url, resend_delay="3s")
    n = Notifier(cfg, Store(tmp_path / "s.db"), registry=CollectorRegistry())
    n.start()
    t = int(time.time())
    n.observe(cfg.watches[0], [_ev("firing", "a", t - 120, t - 120)], interval=60)
    n.flush()
    assert n.drain(10)
    assert _active(am)
    n.observe(cfg.watches[0], [_ev("resolved", "a", t - 120, t)], interval=60)
    n.stop()  # within the hold: the resolution itself is not sent
    deadline = time.monotonic() + 15  # was 4 minutes (4 x the 1-minute interval)
    while _active(am) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _active(am), [(x["status"], x["endsAt"], x["startsAt"]) for x in am.alerts()]


def _active(am: Any) -> bool:
    return any(x["labels"].get("agent") == "a" for x in am.alerts())
