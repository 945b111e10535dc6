"""The model store: identical scores after a round trip, atomic saves, broken checkpoints never crash."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sentinel.config import DetectorConfig
from sentinel.detect import build_detector, persist
from sentinel.detect.multivariate import AgentMultivariateDetector
from sentinel.detect.scores import Scores
from sentinel.detect.stl import STLDetector
from sentinel.series import Batch


def fleet(n: int, steps: int, step: int = 60, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    ts = np.arange(steps, dtype=np.int64) * step
    x = 10 + 3 * np.sin(2 * np.pi * ts / 86400)[None, :] + rng.normal(size=(n, steps))
    x[0, steps // 2] = 40.0
    x[1, ::17] = np.nan
    return Batch.from_rows([{"agent": f"a{i}"} for i in range(n)], ts, x)


def same(a: Scores, b: Scores) -> bool:
    arrays = all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True)
                 for k in ("score", "expected", "lower", "upper"))
    members = (a.members is None) == (b.members is None) and all(
        np.array_equal(a.members[k], b.members[k], equal_nan=True) for k in (a.members or {}))
    return arrays and members


@pytest.mark.parametrize("kind", ["default", "ensemble"])
def test_online_detector_round_trip(tmp_path: Path, kind: str) -> None:
    data = fleet(6, 1500)
    det = build_detector(DetectorConfig(kind=kind))
    det.process(data.window(0, 1000))
    persist.save(det, tmp_path / "w", watch="w", trained_from=0, trained_to=int(data.timestamps[999]))
    again = persist.load(tmp_path / "w")
    assert type(again) is type(det)
    assert same(det.process(data.window(1000, None)), again.process(data.window(1000, None)))
    assert np.array_equal(det.index_.keys, again.index_.keys)


def test_online_detector_round_trip_with_a_new_series(tmp_path: Path) -> None:
    data = fleet(4, 1000)
    det = build_detector(DetectorConfig())
    det.process(data.window(0, 750).select([0, 1, 2]))
    again = persist.load(persist.save(det, tmp_path / "m.npz"))  # explicit file path, as checkpoint.py uses
    tail = data.window(750, None).select([3, 1, 0])
    assert same(det.process(tail), again.process(tail))


def test_batch_detectors_round_trip(tmp_path: Path) -> None:
    data = fleet(5, 3 * 1440, step=60)
    hist, new = data.window(0, 2 * 1440), data.window(2 * 1440, None)
    stl = STLDetector().fit(hist)
    persist.save(stl, tmp_path / "stl")
    assert same(stl.score(new), persist.load(tmp_path / "stl").score(new))

    other = fleet(5, 3 * 1440, step=60, seed=9)
    inputs = {"x": hist, "y": other.window(0, 2 * 1440)}
    mv = AgentMultivariateDetector().fit(inputs)
    persist.save(mv, tmp_path / "mv")
    later = {"x": new, "y": other.window(2 * 1440, None)}
    assert same(mv.score(later), persist.load(tmp_path / "mv").score(later))


def test_model_card(tmp_path: Path) -> None:
    det = STLDetector(trend_window=3600).fit(fleet(3, 2000))
    persist.save(det, tmp_path / "w", watch="latency", trained_from=0, trained_to=86400)
    card = persist.read_card(tmp_path / "w")
    assert card is not None
    assert card["watch"] == "latency" and card["kind"] == "STLDetector" and card["series"] == 3
    assert card["params"]["trend_window"] == 3600
    assert card["trained_from"] == "1970-01-01T00:00:00Z" and card["trained_to"] == "1970-01-02T00:00:00Z"
    assert card["sentinel_version"] and card["created_at"].endswith("Z")
    assert "latency" in (tmp_path / "w" / "card.md").read_text()


def test_checkpoint_holds_no_pickle(tmp_path: Path) -> None:
    det = build_detector(DetectorConfig())
    det.process(fleet(2, 200))
    path = persist.save(det, tmp_path / "w")
    with np.load(path, allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def _broken(tmp_path: Path, how: str) -> Path:
    d = tmp_path / how
    det = STLDetector().fit(fleet(2, 500))
    path = persist.save(det, d)
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "garbage":
        path.write_bytes(os.urandom(2000))
    elif how == "missing":
        path.unlink()
    elif how in ("foreign", "version"):
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays["__meta__"].tobytes())
        if how == "foreign":
            meta["model"]["__obj__"] = "os:system"
        else:
            meta["format"] = 99
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(path, **arrays)
    elif how == "empty_zip":
        with zipfile.ZipFile(path, "w"):
            pass
    return d


@pytest.mark.parametrize("how", ["truncated", "garbage", "missing", "foreign", "version", "empty_zip"])
def test_broken_checkpoint_gives_a_warning_and_a_fresh_model(tmp_path: Path, how: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    d = _broken(tmp_path, how)
    with pytest.raises(persist.CheckpointError):
        persist.load(d)
    with caplog.at_level(logging.WARNING, logger="sentinel.detect.persist"):
        model, loaded = persist.load_or_fresh(d, STLDetector)
    assert not loaded and isinstance(model, STLDetector) and not hasattr(model, "scale_")
    assert any("starting a fresh model" in r.getMessage() for r in caplog.records)


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = fleet(2, 500)
    good = STLDetector().fit(data)
    persist.save(good, tmp_path)

    def crash(f: object, **arrays: object) -> None:
        f.write(b"PK\x03\x04 half a zip")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        persist.save(STLDetector(trend_window=600).fit(data), tmp_path)
    monkeypatch.undo()
    assert persist.load(tmp_path).trend_window == good.trend_window
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_kill_9_during_saves_leaves_a_loadable_checkpoint(tmp_path: Path) -> None:
    """A writer saving in a loop is killed with SIGKILL; the checkpoint on disk still loads."""
    script = textwrap.dedent(f"""
        import numpy as np, sys
        from sentinel.detect import persist
        from sentinel.detect.stl import STLDetector
        from sentinel.series import Batch
        rng = np.random.default_rng(0)
        b = Batch.from_rows([{{"s": str(i)}} for i in range(300)], np.arange(2000) * 300, rng.normal(size=(300, 2000)))
        det = STLDetector().fit(b)
        i = 0
        while True:
            det.trend_window = 3600 + i
            persist.save(det, {str(tmp_path)!r})
            i += 1
            if i == 1:
                print("saved", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"saved"
        time.sleep(0.3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    model = persist.load(tmp_path)
    assert isinstance(model, STLDetector) and model.trend_window >= 3600
    for tmp in tmp_path.glob(".*.tmp"):  # what the killed writer left behind is swept by the next save
        os.utime(tmp, (time.time() - 7200, time.time() - 7200))
    persist.save(model, tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 80)),
                      elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan))),
    trend_window=st.integers(60, 86400),
    band_prob=st.floats(0.5, 0.999),
)
def test_any_fitted_stl_round_trips_exactly(tmp_path: Path, values: np.ndarray, trend_window: int,
                                           band_prob: float) -> None:
    b = Batch.from_rows([{"s": str(i)} for i in range(len(values))], np.arange(values.shape[1]) * 60, values)
    det = STLDetector(trend_window=trend_window, band_prob=band_prob).fit(b)
    persist.save(det, tmp_path / "h")
    again = persist.load(tmp_path / "h")
    assert again.get_params() == det.get_params()
    assert same(det.score(b), again.score(b))


def test_retrained_detector_round_trip_keeps_its_fit_and_clock(tmp_path: Path) -> None:
    """Online detectors may declare learned attributes beyond state_ (checkpoint_attrs): the retraining wrapper's
    fitted model and clock come back, so scores match and no refit is needed."""
    data = fleet(3, 4 * 1440, step=60)
    det = build_detector(DetectorConfig(kind="stl", params={"window": "3d", "min_history": "1d"}), step=60)
    det.process(data.window(0, 3 * 1440 + 7))
    again = persist.load(persist.save(det, tmp_path / "r.npz"))
    assert (again.fit_at_, again.end_t_, again.first_t_) == (det.fit_at_, det.end_t_, det.first_t_)
    assert isinstance(again.model_, STLDetector) and again.model_ is not det.model_
    tail = data.window(3 * 1440 + 7, None)
    assert same(det.process(tail), again.process(tail))


def test_undeclared_learned_attributes_are_refused(tmp_path: Path) -> None:
    det = build_detector(DetectorConfig(kind="stl", params={"window": "3d", "min_history": "1d"}), step=60)
    det.process(fleet(2, 200))
    path = persist.save(det, tmp_path / "r.npz")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["__meta__"].tobytes())
    meta["model"]["learned"]["__class__"] = 1
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(persist.CheckpointError, match="does not keep"):
        persist.load(path)
