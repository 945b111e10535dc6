"""The outbox and notifier: desired-state semantics, persistence, queue bounds, secrets.

Delivery to a real Alertmanager is in tests/test_notifier_services.py; here the
send path only ever meets a closed port (a real refused connection, no mock).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sentinel.alerting.notifier import Notifier
from sentinel.alerting.outbox import Outbox, rfc3339
from sentinel.alerting.policy import AlertEvent
from sentinel.alerting.render import alert_labels
from sentinel.config import Config
from sentinel.series import labels_key
from sentinel.store import Store
from tests.services import free_port

T0 = 1_700_000_000
SERIES = labels_key({"agent": "a1", "tool": "search"})


def _config(**am: object) -> Config:
    return Config.model_validate({
        "prometheus": {"url": "http://prom.example:9090"},
        "grafana": {"url": "http://grafana.example:3000"},
        "alertmanager": {"url": f"http://127.0.0.1:{free_port()}", "resend_delay": "60s",
                         "resolved_retention": "15m", **am},
        "watches": [{"name": "lat", "query": "histogram_quantile(0.95, x)", "every": "1m",
                     "runbook_url": "https://runbooks.example/lat", "labels": {"team": "agents"},
                     "alert": {"severity": "critical"}}],
    })


def _firing(start: int = T0, series=SERIES, kind: str = "anomaly") -> AlertEvent:
    return AlertEvent("firing", "lat", series, start, start, kind=kind, severity="critical", value=9.0,
                      expected=2.0, lower=1.0, upper=3.0, score=0.9995, members=["residual"],
                      summary="lat: up", description="value 9, expected 2 (band 1 .. 3), score 0.9995")


def _resolved(start: int = T0, at: int = T0 + 600, series=SERIES) -> AlertEvent:
    return AlertEvent("resolved", "lat", series, start, at, severity="critical", value=2.0)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "s.db", tmp_path / "models")


def test_labels_annotations_and_generator_url(store: Store) -> None:
    cfg = _config()
    box = Outbox(store, cfg)
    (a,) = box.observe(cfg.watches[0], [_firing()], interval=60, now=T0)
    assert a.labels == {"agent": "a1", "tool": "search", "team": "agents", "alertname": "SentinelAnomaly",
                        "severity": "critical", "watch": "lat"}
    assert a.annotations["runbook_url"] == "https://runbooks.example/lat"
    assert a.annotations["description"].startswith("value 9")
    assert a.annotations["dashboard_url"].startswith("http://grafana.example:3000/d/")
    assert "var-agent=a1" in a.annotations["dashboard_url"]
    assert a.annotations["sentinel_url"] == "http://127.0.0.1:9108/alerts?watch=lat"
    assert a.generator_url.startswith("http://prom.example:9090/graph?g0.expr=histogram_quantile")


def test_firing_ends_at_four_intervals_ahead_and_resolved_at_its_end(store: Store) -> None:
    cfg = _config(resend_delay="30s")
    box = Outbox(store, cfg)
    box.observe(cfg.watches[0], [_firing()], interval=60, now=T0 + 5)
    ((a, p),) = box.due(T0 + 5)
    assert (p["startsAt"], p["endsAt"]) == (rfc3339(T0), rfc3339(T0 + 5 + 4 * 60))
    box.delivered([(a.key, "firing")], now=T0 + 5)
    box.observe(cfg.watches[0], [_resolved(at=T0 + 600)], interval=60, now=T0 + 700)
    ((a, p),) = box.due(T0 + 700)
    assert (a.last_attempt_status, p["endsAt"]) == ("resolved", rfc3339(T0 + 600))


def test_state_survives_a_restart_and_replayed_transitions_are_ignored(tmp_path: Path) -> None:
    cfg = _config()
    s1 = Store(tmp_path / "s.db")
    Outbox(s1, cfg).observe(cfg.watches[0], [_firing()], interval=60, now=T0)
    s1.close()
    s2 = Store(tmp_path / "s.db")
    box = Outbox(s2, cfg)
    assert [a.starts_at for a in box.alerts()] == [T0]
    assert box.observe(cfg.watches[0], [_firing()], interval=60, now=T0 + 60) == []  # replay: no new episode
    assert len(box.alerts()) == 1


def test_an_episode_never_delivered_firing_is_sent_firing_before_its_resolution(store: Store) -> None:
    cfg = _config(resend_delay="60s")
    box = Outbox(store, cfg)
    box.observe(cfg.watches[0], [_firing(), _resolved()], interval=60, now=T0)
    ((a, p),) = box.due(T0)
    assert a.last_attempt_status == "firing" and p["endsAt"] > rfc3339(T0)
    box.delivered([(a.key, "firing")], now=T0 + 1)
    assert box.due(T0 + 30) == []  # held back: Alertmanager's group_wait must see it firing first
    ((a, p),) = box.due(T0 + 61)
    # the episode's end (T0 + 600) is later than the wall clock: clamped, or Alertmanager would keep it firing
    assert a.last_attempt_status == "resolved" and p["endsAt"] == rfc3339(T0 + 61)


def test_resend_throttle_and_retention(store: Store) -> None:
    cfg = _config(resend_delay="60s", resolved_retention="15m")
    box = Outbox(store, cfg)
    box.observe(cfg.watches[0], [_firing()], interval=60, now=T0)
    assert len(box.due(T0)) == 1
    assert box.due(T0 + 59) == []
    assert len(box.due(T0 + 60)) == 1  # re-sent every resend_delay, delivered or not
    box.delivered([(box.alerts()[0].key, "firing")], now=T0 + 60)
    box.observe(cfg.watches[0], [_resolved()], interval=60, now=T0 + 200)
    (a, _), = box.due(T0 + 200)
    box.delivered([(a.key, "resolved")], now=T0 + 201)
    assert box.prune(T0 + 200 + 899) == 1
    assert box.prune(T0 + 200 + 901) == 0
    assert store.alerts() == []


def test_an_undelivered_resolution_is_kept_past_the_retention(store: Store) -> None:
    cfg = _config(resolved_retention="15m")
    box = Outbox(store, cfg)
    box.observe(cfg.watches[0], [_firing(), _resolved()], interval=60, now=T0)
    assert box.prune(T0 + 86400) == 1  # Alertmanager never accepted it: still owed
    assert len(box.due(T0 + 86400)) == 1


def test_reconcile_resolves_what_the_policy_no_longer_confirms(store: Store) -> None:
    cfg = _config()
    box = Outbox(store, cfg)
    other = labels_key({"agent": "a2"})
    box.observe(cfg.watches[0], [_firing(), _firing(series=other)], interval=60, now=T0)
    gone = box.reconcile("lat", lambda kind, series, start, severity: series == other, at=T0 + 300, now=T0 + 300)
    assert [a.series_key for a in gone] == [SERIES]
    assert {a.series_key: a.ends_at for a in box.alerts()} == {SERIES: T0 + 300, other: None}


def test_without_alertmanager_nothing_is_owed(store: Store) -> None:
    cfg = _config().model_copy(update={"alertmanager": None})
    n = Notifier(cfg, store, registry=CollectorRegistry(), clock=lambda: T0)
    n.observe(cfg.watches[0], [_firing(), _resolved()], interval=60)
    assert n.flush() == 0
    assert n.outbox.counts() == {"firing": 0, "resolved_pending": 0, "resolved": 1}


def test_full_queue_drops_oldest_and_counts(store: Store) -> None:
    cfg = _config(queue_capacity=3)
    reg = CollectorRegistry()
    n = Notifier(cfg, store, registry=reg, clock=lambda: T0)  # sender not started: the queue only fills
    events = [_firing(series=labels_key({"agent": f"a{i}"})) for i in range(5)]
    n.observe(cfg.watches[0], events, interval=60)
    assert n.flush() == 3
    assert reg.get_sample_value("sentinel_notifications_dropped_total") == 2
    assert reg.get_sample_value("sentinel_notifications_queue_length") == 3


def test_a_refused_send_is_counted_logged_once_without_secrets_and_owed(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = _config(bearer_token="s3cr3t-token", username="ops", password="pa55word")
    reg = CollectorRegistry()
    now = [float(T0)]
    n = Notifier(cfg, store, registry=reg, clock=lambda: now[0])
    n.start()
    with caplog.at_level(logging.INFO, logger="sentinel"):
        n.observe(cfg.watches[0], [_firing()], interval=60)
        n.flush()
        assert n.drain(10)
        now[0] += 60
        n.flush()
        assert n.drain(10)
    n.stop()
    assert reg.get_sample_value("sentinel_notifications_failed_total", {"reason": "connection"}) == 2
    assert reg.get_sample_value("sentinel_notifications_sent_total") == 0
    assert n.outbox.alerts()[0].firing_delivered_at is None
    warnings = [r.getMessage() for r in caplog.records if "notify" in r.getMessage()]
    assert len(warnings) == 1 and "re-sent next cycle" in warnings[0]
    assert not any(s in caplog.text for s in ("s3cr3t-token", "pa55word"))


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=6), max_size=6),
       st.dictionaries(st.from_regex(r"team_[a-z]{1,4}", fullmatch=True), st.text(max_size=6), max_size=3))
def test_alert_label_names_are_always_valid_for_alertmanager(series: dict[str, str], extra: dict[str, str]) -> None:
    got = alert_labels(labels_key(series), "w", "anomaly", "warning", extra)
    assert all(re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", k) and not k.startswith("__") for k in got)
    assert (got["alertname"], got["severity"], got["watch"]) == ("SentinelAnomaly", "warning", "w")
    kept = {k: v for k, v in series.items()  # an empty value is an absent label (labels_key)
            if v and k != "__name__" and re.sub(r"[^a-zA-Z0-9_]", "_", k) not in extra}
    assert len(got) >= len(kept) + 3  # renamed, never merged away
