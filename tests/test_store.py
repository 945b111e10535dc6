"""The store survives reopening and keeps what the notifier and cursors need."""

from __future__ import annotations

from sentinel.alerting.policy import AlertEvent
from sentinel.store import Store


def test_events_round_trip_and_persist(tmp_path) -> None:
    path = tmp_path / "s.db"
    s = Store(path)
    ev = AlertEvent("firing", "w", (("agent", "a"),), starts_at=60, at=60, value=3.0, expected=1.0,
                    lower=0.5, upper=1.5, score=0.999, members=["x"])
    s.add_events([ev, AlertEvent("resolved", "w", (("agent", "a"),), starts_at=60, at=120)])
    s.set_cursor("w", 120)
    s.put_alerts([("k1", {"labels": {"a": "1"}}, None), ("k2", {"labels": {}}, 100)])
    s.close()
    s = Store(path)
    got = list(s.events("w"))
    assert [e.status for e in got] == ["firing", "resolved"]
    assert got[0] == ev
    assert next(iter(s.events("w", since=100))).status == "resolved"
    assert s.cursor("w") == 120
    s.drop_alerts(resolved_before=101)
    assert [k for k, _, _ in s.alerts()] == ["k1"]


def test_feedback_mutes_series(tmp_path) -> None:
    s = Store(tmp_path / "s.db")
    s.mark_false_positive("w", (("agent", "a"),), "deploy")
    assert s.muted("w") == {(("agent", "a"),)}
    assert s.muted("other") == set()
