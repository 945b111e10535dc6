"""The store failing under a running daemon: a locked SQLite file mid-cycle, corrupt checkpoints at start.

The store is real (SQLite in WAL mode; another connection holding
``BEGIN EXCLUSIVE`` is what a backup tool or a second ``sentinel`` process
does to it), the data is the in-process simulated fleet, driven with an
explicit data-time ``now`` as in ``tests/test_daemon.py``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from sentinel.alerting.outbox import Outbox
from sentinel.alerting.policy import AlertEvent
from sentinel.daemon import Daemon
from sentinel.store import Store
from tests.test_daemon import HOUR, T0, _config


def _run(base: Path, locked_at: int | None) -> Daemon:
    """Hourly cycles of the ``lat`` watch over 12 h; the store is locked by another process for the cycle at
    ``locked_at`` (SQLite gives up after its 5 s busy timeout)."""
    d = Daemon(_config(base))
    d.start(schedule=False, serve=False)
    for now in range(T0, T0 + 12 * HOUR + 1, HOUR):
        other = None
        if now == locked_at:
            other = sqlite3.connect(base / "sentinel.db", isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")
        try:
            d.run_cycle("lat", now)
        finally:
            if other is not None:
                other.execute("ROLLBACK")
                other.close()
    return d


def _state(d: Daemon) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    events = [(e.kind, e.status, e.labels, e.starts_at) for e in d.store.events("lat")]
    outbox = sorted((k, doc["ends_at"]) for k, doc, _ in d.store.alerts())
    return events, outbox


def test_a_store_locked_mid_cycle_loses_no_alert_transition(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ref = _run(tmp_path / "ref", None)
    want = _state(ref)
    ref.stop()
    assert len(want[0]) >= 4, "the scenario needs alert episodes"
    with caplog.at_level(logging.WARNING, logger="sentinel"):
        d = _run(tmp_path / "locked", T0 + 6 * HOUR)
    try:
        assert d.registry.get_sample_value("sentinel_cycle_errors_total", {"watch": "lat", "reason": "internal"}) == 1
        assert any("database is locked" in r.getMessage() for r in caplog.records)
        # the failed cycle's transitions (the runner's cursor had moved past their data) arrive with the next one
        assert _state(d) == want
    finally:
        d.stop()


def test_a_checkpoint_is_deferred_while_transitions_are_not_stored(tmp_path: Path) -> None:
    d = Daemon(_config(tmp_path))
    d.start(schedule=False, serve=False)
    try:
        d.run_cycle("lat", T0)
        slot = d.slots["lat"]
        assert slot.save() > 0
        pointer = tmp_path / "models" / "lat" / "checkpoint.json"
        before = pointer.read_bytes()
        slot._unpublished = [_event()]
        assert slot.save() == 0.0 and pointer.read_bytes() == before  # a restart replays them instead
    finally:
        d.slots["lat"]._unpublished = []
        d.stop()


def _event(starts_at: int = T0) -> AlertEvent:
    return AlertEvent(status="firing", watch="lat", labels=(("agent", "a1"),), starts_at=starts_at, at=starts_at,
                      value=9.0, expected=1.0, lower=0.0, upper=2.0, score=0.99, members=["baseline"],
                      summary="lat: a1 is above its expected range", description="value 9")


def test_an_outbox_write_that_failed_is_retried_with_the_next(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    store = Store(tmp_path / "sentinel.db", tmp_path / "models")
    outbox = Outbox(store, cfg)
    other = sqlite3.connect(tmp_path / "sentinel.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError):
        outbox.observe(cfg.watches[0], [_event()], 60, T0)
    other.execute("ROLLBACK")
    other.close()
    outbox.observe(cfg.watches[0], [_event()], 60, T0)  # the carried transition again: already held in memory
    assert [k for k, _, _ in store.alerts()] == [a.key for a in outbox.alerts()], "the episode never reached disk"
    store.close()


def _truncate(name: str, keep: int) -> Callable[[Path], None]:
    def corrupt(ck: Path) -> None:
        for p in ck.glob(name):
            p.write_bytes(p.read_bytes()[:keep])
    return corrupt


def _rewrite_pointer(update: Callable[[dict[str, object]], object]) -> Callable[[Path], None]:
    def corrupt(ck: Path) -> None:
        p = ck / "checkpoint.json"
        p.write_text(json.dumps(update(json.loads(p.read_text()))))
    return corrupt


@pytest.mark.parametrize("corrupt", [
    _truncate("state-*.npz", 100),  # was: BadZipFile escaped restore and the daemon could not start
    _rewrite_pointer(lambda p: None),  # was: AttributeError
    _rewrite_pointer(lambda p: {**p, "cursor": "x"}),  # was: ValueError outside the guarded block
    _truncate("detector-*.npz", 100),
    _truncate("checkpoint.json", 10),
], ids=["truncated-state", "null-pointer", "bad-cursor", "truncated-detector", "truncated-pointer"])
def test_a_corrupt_checkpoint_starts_the_watch_fresh_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, corrupt: Callable[[Path], None]
) -> None:
    d = Daemon(_config(tmp_path))
    d.start(schedule=False, serve=False)
    for name in ("lat", "rate"):
        d.run_cycle(name, T0)
    d.stop()
    corrupt(tmp_path / "models" / "lat")
    with caplog.at_level(logging.WARNING, logger="sentinel"):
        again = Daemon(_config(tmp_path))
        again.start(schedule=False, serve=False)
    try:
        slot = again.slots["lat"]
        assert slot.restored_from is None and slot.restore_result == "unreadable"
        assert again.registry.get_sample_value("sentinel_watch_checkpoint_restores_total",
                                               {"watch": "lat", "result": "unreadable"}) == 1
        lines = [r.getMessage() for r in caplog.records if "checkpoint unreadable" in r.getMessage()]
        assert len(lines) == 1 and "\n" not in lines[0]
        assert again.slots["rate"].restore_result == "restored"  # the other watch is untouched
        r = again.run_cycle("lat", T0 + HOUR)
        assert r is not None and r.warmup  # re-learns, as on a first start
    finally:
        again.stop()
