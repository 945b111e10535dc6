"""Alertmanager only ever receives an alert's latest state (one per label set), as from Prometheus' notifier.

A series that fires again while an older episode still owes Alertmanager its resolution (an outage, a
backlog of more than ``batch_size`` alerts, the resolution's hold-back) used to get the old resolution
sent *after* the newer firing: Alertmanager merged it, resolved the alert and notified the receiver
"resolved" while the series was firing.  The real-Alertmanager test reproduces that; the others pin the
rule (outbox and queue), its metric, its bound and its durability.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sentinel.alerting.notifier import Notifier
from sentinel.alerting.outbox import Outbox
from sentinel.alerting.policy import AlertEvent
from sentinel.config import Config
from sentinel.series import labels_key
from sentinel.store import Store
from tests.services import free_port

T0 = 1_700_000_000


def _config(url: str | None = None, **am: object) -> Config:
    return Config.model_validate({
        "alertmanager": {"url": url or f"http://127.0.0.1:{free_port()}", "resend_delay": "1s",
                         "resolved_retention": "15m", **am},
        "prometheus": {},
        "watches": [{"name": "lat", "query": "up", "every": "1m"}],
    })


def _ev(status: str, agent: str, start: int, at: int, **labels: str) -> AlertEvent:
    return AlertEvent(status, "lat", labels_key({"agent": agent, **labels}), start, at, value=1.0,
                      summary=f"lat: {agent}", description="value 1")


def _refire(agent: str, t: int) -> list[AlertEvent]:
    """Episode 1 fires and resolves, episode 2 of the same series fires (all before anything was sent)."""
    return [_ev("firing", agent, t - 900, t - 900), _ev("resolved", agent, t - 900, t - 800),
            _ev("firing", agent, t - 300, t - 300)]


@pytest.mark.services
def test_an_old_resolution_never_resolves_the_newer_firing_in_alertmanager(
    alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    am = alertmanager_factory()
    cfg = _config(am.url, batch_size=2)
    now = [time.time()]
    reg = CollectorRegistry()
    n = Notifier(cfg, Store(tmp_path / "s.db"), registry=reg, clock=lambda: now[0])
    t = int(now[0])
    n.observe(cfg.watches[0], [_ev("firing", f"a{i}", t - 600, t - 600) for i in range(6)] + _refire("x", t),
              interval=60)
    n.flush()  # queued now; the sender is not running yet: a backlog of 4 batches
    now[0] += 0.5
    n.start()
    assert n.drain(10)  # accepted half a second after it was queued, as behind any backlog

    def x() -> list[tuple[str, str]]:
        return [(a["status"]["state"], a["startsAt"]) for a in am.alerts() if a["labels"].get("agent") == "x"]

    for step in (0.7, 0.4, 0.7):  # flushes as the daemon's cycles make them, one resend_delay (1 s) apart
        now[0] += step
        n.flush()
        assert n.drain(10)
        held = x()  # Alertmanager lists only unresolved alerts: x missing = resolved
        assert [s for s, _ in held] == ["active"], "x's newer firing was resolved by its older episode's resolution"
    assert held[0][1].startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(t - 300)))  # the newer episode speaks
    time.sleep(2.5)  # group_interval 1 s: a wrong resolution would have been notified by now
    assert [a["status"] for a in am.webhook.alerts() if a["labels"].get("agent") == "x"] == ["firing"]
    assert reg.get_sample_value("sentinel_notifications_superseded_total") == 1  # episode 1: never sent
    n.stop()


def test_a_series_that_fires_again_sends_only_its_newer_episode(tmp_path: Path) -> None:
    cfg = _config()
    box = Outbox(Store(tmp_path / "s.db"), cfg)
    box.observe(cfg.watches[0], _refire("x", T0), interval=60, now=T0)
    (a, _), = box.due(T0)
    assert a.starts_at == T0 - 300 and not a.resolved
    assert box.counts() == {"firing": 1, "resolved_pending": 0, "resolved": 1}  # episode 1 owes nothing now
    # the newer episode resolves too: still only it speaks for the alert, its resolution after its firing
    box.delivered([(a.key, "firing")], now=T0)
    box.observe(cfg.watches[0], [_ev("resolved", "x", T0 - 300, T0 - 60)], interval=60, now=T0 + 5)
    assert [(b.starts_at, b.last_attempt_status) for b, _ in box.due(T0 + 5)] == [(T0 - 300, "resolved")]


def test_episodes_of_different_series_are_never_collapsed(tmp_path: Path) -> None:
    cfg = _config()
    box = Outbox(Store(tmp_path / "s.db"), cfg)
    box.observe(cfg.watches[0], _refire("x", T0) + _refire("y", T0), interval=60, now=T0)
    assert sorted((a.labels["agent"], a.starts_at) for a, _ in box.due(T0)) == [("x", T0 - 300), ("y", T0 - 300)]


def test_two_series_with_one_label_set_keep_the_alert_firing_while_either_fires(tmp_path: Path) -> None:
    """Series that differ only in ``__name__`` are one Alertmanager alert (``__name__`` is not an alert label)."""
    cfg = _config()
    box = Outbox(Store(tmp_path / "s.db"), cfg)
    a = _ev("firing", "x", T0 - 600, T0 - 600, __name__="m1")
    b = _ev("firing", "x", T0 - 300, T0 - 300, __name__="m2")
    box.observe(cfg.watches[0], [a, b], interval=60, now=T0)
    box.observe(cfg.watches[0], [_ev("resolved", "x", T0 - 300, T0 - 60, __name__="m2")], interval=60, now=T0)
    (held, _), = box.due(T0)
    assert (held.starts_at, held.resolved) == (T0 - 600, False)  # m1 still fires: no resolution is sent


def test_supersession_survives_a_restart_and_is_pruned_after_the_retention(tmp_path: Path) -> None:
    cfg = _config()
    s1 = Store(tmp_path / "s.db")
    Outbox(s1, cfg).observe(cfg.watches[0], _refire("x", T0), interval=60, now=T0)
    s1.close()
    box = Outbox(Store(tmp_path / "s.db"), cfg)
    assert [a.starts_at for a, _ in box.due(T0 + 1)] == [T0 - 300]
    assert box.prune(T0 + 899) == 2
    assert box.prune(T0 + 901) == 1  # the superseded resolution is not owed: it goes with the retention
    assert [doc["starts_at"] for _, doc, _ in box.store.alerts()] == [T0 - 300]


def test_a_store_from_before_supersession_is_marked_on_load(tmp_path: Path) -> None:
    cfg = _config()
    store = Store(tmp_path / "s.db")
    Outbox(store, cfg).observe(cfg.watches[0], _refire("x", T0), interval=60, now=T0)
    rows = store.alerts()
    for _, doc, _ in rows:
        doc.pop("superseded")  # as the previous version wrote them
    store.put_alerts([(k, doc, None) for k, doc, _ in rows])
    box = Outbox(store, cfg)
    assert [a.starts_at for a, _ in box.due(T0)] == [T0 - 300]


def test_the_queue_holds_one_state_per_alert_and_counts_the_replaced(tmp_path: Path) -> None:
    reg = CollectorRegistry()
    now = [float(T0)]
    cfg = _config(queue_capacity=3)
    n = Notifier(cfg, Store(tmp_path / "s.db"), registry=reg, clock=lambda: now[0])  # no sender: a backlog
    n.observe(cfg.watches[0], [_ev("firing", a, T0 - 60, T0 - 60) for a in "xyz"], interval=60)
    assert n.flush() == 3
    n.observe(cfg.watches[0], [_ev("resolved", "x", T0 - 60, T0)], interval=60)
    now[0] += 1  # one resend_delay: every alert is due again, x with its resolution's hold-back still firing
    assert n.flush() == 3
    assert reg.get_sample_value("sentinel_notifications_queue_length") == 3
    assert reg.get_sample_value("sentinel_notifications_superseded_total") == 3
    assert reg.get_sample_value("sentinel_notifications_dropped_total") == 0
    assert [key.split("|")[2] for key, _, _ in n._queue.values()] == [f'{{"agent": "{a}"}}' for a in "xyz"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("xy"), st.integers(1, 5), st.booleans()), min_size=1, max_size=12),
       st.integers(0, 3))
def test_due_never_holds_two_states_of_one_alert_and_sends_the_latest(
    spells: list[tuple[str, int, bool]], flushes: int
) -> None:
    """Any history of episodes (agent, length in steps, resolved?) laid end to end per series."""
    cfg = _config()
    box = Outbox(Store(":memory:"), cfg)
    clock = {"x": T0, "y": T0}
    latest: dict[str, tuple[int, bool]] = {}
    for agent, length, resolves in spells:
        start = clock[agent]
        events = [_ev("firing", agent, start, start)]
        if resolves:
            events.append(_ev("resolved", agent, start, start + 60 * length))
        clock[agent] = start + 60 * (length + 1)
        box.observe(cfg.watches[0], events, interval=60, now=T0)
        latest[agent] = (start, resolves)
        if not resolves:  # the policy resolves an episode before the series fires again
            box.observe(cfg.watches[0], [_ev("resolved", agent, start, clock[agent] - 60)], interval=60, now=T0)
            latest[agent] = (start, True)
    for k in range(flushes + 1):
        sent = box.due(T0 + 2 * k)
        agents = [a.labels["agent"] for a, _ in sent]
        assert len(agents) == len(set(agents))
        assert all(a.starts_at == latest[a.labels["agent"]][0] for a, _ in sent)
        box.delivered([(a.key, a.last_attempt_status or "firing") for a, _ in sent], now=T0 + 2 * k)
