"""A log watch whose miner state cannot be written (disk full, read-only state dir) keeps alerting.

Before: the failed write raised out of the cycle after the miner had learned the sample in memory; the
cycle failed, the next one re-read the same logs, found the new pattern known already, and the new-pattern
alert was never raised.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sentinel.logs import state_file
from sentinel.logs.watch import LogWatch
from sentinel.sources.simulated import SimulatedSource
from sentinel.watch import WatchRunner
from tests.test_log_templates import _incident_fleet, _logs_watch, _replay


def test_new_pattern_fires_while_the_miner_state_cannot_be_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = _incident_fleet()
    t0 = fleet.start
    w = _logs_watch()
    src = SimulatedSource(fleet, registry=CollectorRegistry(), max_messages=3000)
    reg = CollectorRegistry()
    runner = WatchRunner(w, src, warmup=86400, patterns=LogWatch(w, src, state_dir=tmp_path, registry=reg))
    _replay(runner, t0, range(1, 5))

    def full(*_: Any, **__: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state_file, "atomic_write", full)
    with caplog.at_level(logging.WARNING):
        events = _replay(runner, t0, range(5, 8))  # the new pattern starts at hour 5
    new = [e for e in events if e.kind == "new_pattern" and e.status == "firing"]
    assert len(new) == 1 and dict(new[0].labels)["service_name"] == fleet.agents[0]
    assert "cannot save its template state" in caplog.text and "No space left on device" in caplog.text
    assert reg.get_sample_value("sentinel_log_state_save_errors_total", {"watch": w.name}) >= 1
    monkeypatch.undo()
    _replay(runner, t0, range(8, 9))
    assert (tmp_path / f"{w.name}.drain3.json").exists()  # written again once the disk has room
