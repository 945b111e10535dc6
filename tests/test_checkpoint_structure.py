"""Checkpoints fit a watch only if the detector they hold is built the way this version builds it.

A log watch's detector carries wrappers its config never names (the count
floor).  A checkpoint written before the floor existed has the same config
fingerprint, so it used to restore a floor-less detector for good.  Now the
fingerprint covers the detector's structure; such a checkpoint is refused
with a warning, and the watch re-learns with the floor.  A checkpoint whose
detector differs only in parameters (an upgrade changed a default) keeps its
learned state under the new parameters when the state fits them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from sentinel import checkpoint
from sentinel.config import DetectorConfig, WatchConfig
from sentinel.detect import build_detector
from sentinel.detect.counts import CountFloor
from sentinel.fleet import Fleet
from sentinel.slot import WatchSlot
from sentinel.sources.simulated import SimulatedSource
from sentinel.store import Store
from sentinel.watch import WatchRunner

DAY = 86400


def _log_watch() -> WatchConfig:
    return WatchConfig(name="errors", every=300, logs={"index": "logs", "query": "log.level:error",
                                                       "group_by": ["service.name"], "templates": False})


def _source() -> tuple[Fleet, SimulatedSource]:
    fleet = Fleet(agents=2, seed=3, incident_rate=0.0)
    return fleet, SimulatedSource(fleet, registry=CollectorRegistry())


def _legacy(directory: Path, watch: WatchConfig) -> None:
    """Rewrite the pointer as sentinel wrote it before structures were fingerprinted."""
    pointer = json.loads((directory / checkpoint.POINTER).read_text())
    del pointer["structure"]
    pointer["fingerprint"] = checkpoint.fingerprint(watch)  # the config-only fingerprint of that version
    (directory / checkpoint.POINTER).write_text(json.dumps(pointer))


def test_a_pre_floor_checkpoint_is_relearned_with_the_floor(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fleet, src = _source()
    w = _log_watch()
    store = Store(tmp_path / "s.db", tmp_path / "models")
    # the pre-floor code path: the watch's detector exactly as its config builds it, no count floor
    old = WatchRunner(w, src, detector=build_detector(w.detector, step=w.sample_step), warmup=DAY)
    assert not isinstance(old.detector, CountFloor)
    assert old.cycle(fleet.start + DAY) is not None
    directory = store.checkpoint_dir(w.name)
    checkpoint.save(directory, old)
    _legacy(directory, w)
    store.set_cursor(w.name, old.cursor)

    with caplog.at_level(logging.WARNING, logger="sentinel.checkpoint"):
        slot = WatchSlot.create(w, src, store, warmup=DAY)  # what the daemon does on start
    assert slot.restored_from is None  # refused: re-learns from scratch
    assert isinstance(slot.runner.detector, CountFloor)  # ... with the floor in place
    assert slot.restore_result == "structure_changed"
    [warning] = [r.getMessage() for r in caplog.records if "re-learning" in r.getMessage()]
    assert "Likelihood(Guard(Ensemble))" in warning and "CountFloor(Likelihood(Guard(Ensemble)))" in warning

    # the re-learned detector's checkpoint restores, floor included (no re-learn on every start)
    assert slot.cycle(fleet.start + DAY + 3600) is not None
    slot.commit()
    slot.save()
    again = WatchSlot.create(w, src, store, warmup=DAY)
    assert again.restored_from == slot.runner.cursor
    assert isinstance(again.runner.detector, CountFloor)
    assert again.restore_result == "restored"
    store.close()


def test_a_pre_structure_checkpoint_that_fits_is_restored(tmp_path: Path) -> None:
    """Upgrading must not make every watch re-learn: an old pointer whose detector is built as today restores."""
    fleet, src = _source()
    w = WatchConfig(name="tasks", query="agent_task_rate", every=300)
    runner = WatchRunner(w, src, warmup=DAY)
    runner.cycle(fleet.start + DAY)
    checkpoint.save(tmp_path, runner)
    _legacy(tmp_path, w)
    fresh = WatchRunner(w, src, warmup=DAY)
    assert checkpoint.restore(tmp_path, fresh) == (runner.cursor, "restored")
    assert checkpoint.structure_digest(fresh.detector) == checkpoint.structure_digest(runner.detector)


def test_a_changed_structure_is_told_apart_from_a_changed_config(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    fleet, src = _source()
    w = WatchConfig(name="tasks", query="agent_task_rate", every=300)
    runner = WatchRunner(w, src, detector=build_detector(DetectorConfig(kind="guarded"), step=300), warmup=DAY)
    runner.cycle(fleet.start + DAY)
    checkpoint.save(tmp_path, runner)  # current format, but not the structure `w` builds (default kind)
    with caplog.at_level(logging.WARNING, logger="sentinel.checkpoint"):
        assert checkpoint.restore(tmp_path, WatchRunner(w, src, warmup=DAY)) == (None, "structure_changed")
        other = w.model_copy(update={"query": "agent_queue_depth"})
        assert checkpoint.restore(tmp_path, WatchRunner(other, src, warmup=DAY)) == (None, "config_changed")
    assert checkpoint.restore(tmp_path / "none", WatchRunner(w, src, warmup=DAY)) == (None, "missing")
    assert any("built as Guard(Ensemble)" in r.getMessage() for r in caplog.records)


def _older_default(w: WatchConfig, src: SimulatedSource, **likelihood: object) -> WatchRunner:
    """A runner whose detector is the default kind built with other likelihood parameters (an older default)."""
    det = build_detector(DetectorConfig(kind="default", params={"likelihood": likelihood}), step=w.sample_step)
    return WatchRunner(w, src, detector=det, warmup=DAY)


def test_an_upgrade_that_changes_a_default_parameter_keeps_the_learned_state(tmp_path: Path) -> None:
    fleet, src = _source()
    w = WatchConfig(name="tasks", query="agent_task_rate", every=300)
    old = _older_default(w, src, dev_floor=0.0)  # the release before the deviation floor
    old.cycle(fleet.start + DAY)
    checkpoint.save(tmp_path, old)
    old_state = {k: v.copy() for k, v in old.detector.state_.items()}

    fresh = WatchRunner(w, src, warmup=DAY)
    assert checkpoint.restore(tmp_path, fresh) == (old.cursor, "params_changed")
    det = fresh.detector
    assert det.get_params()["dev_floor"] == 0.05  # this version's parameters ...
    for k, v in old_state.items():  # ... with the learned state of the old one
        np.testing.assert_array_equal(det.state_[k], v)
    assert np.isnan(det.state_["lk.E"]).all()  # the floor's own memory starts empty
    assert fresh.cycle(fleet.start + DAY + 3600) is not None  # and it runs on
    assert checkpoint.structure_digest(det) == checkpoint.structure_digest(WatchRunner(w, src, warmup=DAY).detector)


def test_a_parameter_change_that_reshapes_the_state_re_learns(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    fleet, src = _source()
    w = WatchConfig(name="tasks", query="agent_task_rate", every=300)
    old = _older_default(w, src, sequence={"bins": 5})  # another sequence model: its count tables differ
    old.cycle(fleet.start + DAY)
    checkpoint.save(tmp_path, old)
    with caplog.at_level(logging.WARNING, logger="sentinel.checkpoint"):
        assert checkpoint.restore(tmp_path, WatchRunner(w, src, warmup=DAY)) == (None, "structure_changed")
    assert any("re-learning" in r.getMessage() for r in caplog.records)
