"""Every detector kind keeps one stream: one step, one grid, forward only (:mod:`sentinel.detect.stream`).

``OnlineDetector.process`` is the library's entry point; before this file it
silently accepted a batch at another step, learned a replayed range twice
and learned a continuation off its grid, for every online kind (the batch
kinds refused the step and skipped replays, but took any grid).  Each test
fails on that code.  The daemon never sends such batches (its cursors and the
sources' absolute grid), so its numbers are unchanged: the frozen-fixture
tests pin them.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pytest
from prometheus_client import REGISTRY

from sentinel.config import DetectorConfig
from sentinel.detect import KINDS, build_detector, persist
from sentinel.detect.base import OnlineDetector
from sentinel.series import Batch

STEP = 60
T0 = 1_700_000_040
LABELS = [{"agent": "a1", "__name__": "m1"}, {"agent": "a1", "__name__": "m2"}]
SMALL = {"retrain": "6h", "window": "2d", "min_history": "1d"}  # the batch kinds, sized for short tests


def detector(kind: str) -> OnlineDetector:
    params = SMALL if kind in ("stl", "multivariate") else {}
    return build_detector(DetectorConfig(kind=kind, params=params), step=STEP)


def values(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 10 + rng.normal(size=(len(LABELS), n))


def batch(i0: int, i1: int, x: np.ndarray, step: int = STEP, shift: int = 0) -> Batch:
    return Batch.from_rows(LABELS, T0 + shift + step * np.arange(i0, i1), x[:, i0:i1], step=step)


def state(det: OnlineDetector) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in det.state_.items()}


def same_state(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)


@pytest.mark.parametrize("kind", KINDS)
def test_a_batch_at_another_step_is_refused(kind: str) -> None:
    det, x = detector(kind), values(200)
    with pytest.raises(ValueError, match="batch step 300s differs from this detector's step 60s"):
        det.process(batch(0, 50, x, step=300))
    det.process(batch(0, 100, x))
    with pytest.raises(ValueError, match="step 300s differs"):
        det.learn(Batch.from_rows(LABELS, T0 + 100 * STEP + 300 * np.arange(20), x[:, :20], step=300))


@pytest.mark.parametrize("kind", KINDS)
def test_a_continuation_off_the_grid_is_refused_and_learns_nothing(kind: str) -> None:
    det, x = detector(kind), values(300)
    det.process(batch(0, 200, x))
    before = state(det)
    with pytest.raises(ValueError, match="off this detector's 60s grid"):
        det.process(batch(200, 300, x, shift=17))
    assert same_state(before, state(det))
    det.process(batch(210, 300, x))  # a gap on the grid is fine


@pytest.mark.parametrize("kind", KINDS)
def test_a_replayed_range_is_skipped_not_learned_twice(kind: str) -> None:
    det, x = detector(kind), values(300)
    det.process(batch(0, 200, x))
    before = state(det)
    again = det.process(batch(0, 200, x))
    assert again.score.shape == (len(LABELS), 200) and np.isnan(again.score).all()
    assert same_state(before, state(det))
    det.learn(batch(100, 200, x))
    assert same_state(before, state(det))


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "multivariate"])  # multivariate: stl's path, 10x slower
def test_an_overlapping_batch_scores_only_its_new_part(kind: str) -> None:
    x = values(2000, seed=1)
    cut, one, two = 1600, detector(kind), detector(kind)
    one.process(batch(0, cut, x))
    two.process(batch(0, cut, x))
    expected = one.process(batch(cut, 2000, x))
    got = two.process(batch(cut - 700, 2000, x))  # a polling window that overlaps what was learned
    assert np.isnan(got.score[:, :700]).all()
    for name in ("score", "expected", "lower", "upper"):
        np.testing.assert_array_equal(getattr(got, name)[:, 700:], getattr(expected, name))
    assert same_state(state(one), state(two))


def test_skipped_points_are_counted() -> None:
    det, x = detector("default"), values(100)
    det.process(batch(0, 100, x))
    label = {"detector": det.name}
    before = REGISTRY.get_sample_value("sentinel_detector_stale_points_total", label) or 0.0
    det.process(batch(60, 100, x))
    assert REGISTRY.get_sample_value("sentinel_detector_stale_points_total", label) == before + 40 * len(LABELS)


def test_the_clock_survives_a_checkpoint() -> None:
    det, x = detector("default"), values(300)
    det.process(batch(0, 200, x))
    with tempfile.TemporaryDirectory() as d:
        persist.save(det, d)
        back = persist.load(d)
    assert back.end_t_ == det.end_t_ == T0 + 199 * STEP
    assert np.isnan(back.process(batch(150, 200, x)).score).all()
    with pytest.raises(ValueError, match="off this detector's"):
        back.process(batch(200, 300, x, shift=30))


def test_a_new_series_joins_at_the_next_new_time() -> None:
    det, x = detector("default"), values(300)
    det.process(Batch.from_rows(LABELS[:1], T0 + STEP * np.arange(200), x[:1, :200], step=STEP))
    later = det.process(batch(200, 300, x))
    assert det.n_series == 2 and np.isfinite(later.score).all()
