"""``OnlineDetector.score()`` learns nothing and writes nothing: ``state_`` is untouched, bit for bit.

Before: a batch covering every series in order scored straight into the live ``state_`` arrays, leaving
the guard's and the decision stage's per-step scratch (the last score, its time) behind for a concurrent
reader (the exporter, a notebook) and for the next ``process``.
"""

from __future__ import annotations

import numpy as np
import pytest

from sentinel.config import DetectorConfig
from sentinel.detect.registry import build_detector
from sentinel.series import Batch


def _batch(values: np.ndarray, start: int) -> Batch:
    labels = [{"s": str(i)} for i in range(len(values))]
    return Batch.from_rows(labels, (start + np.arange(values.shape[1])) * 60, values)


@pytest.mark.parametrize("kind", ["default", "guarded"])
def test_score_leaves_the_state_untouched(kind: str) -> None:
    rng = np.random.default_rng(4)
    x = 50 + rng.normal(0, 1, (6, 1600))
    x[:, 1500:] += np.where(np.arange(100) % 17 == 0, 30, 0)  # a few spikes to judge
    det = build_detector(DetectorConfig(kind=kind), step=60)
    det.process(_batch(x[:, :1500], 0))
    before = {k: v.copy() for k, v in det.state_.items()}
    arrays = {k: id(v) for k, v in det.state_.items()}
    s1 = det.score(_batch(x[:, 1500:], 1500))
    for k, v in det.state_.items():
        assert np.array_equal(v, before[k], equal_nan=True), k
    assert {k: id(v) for k, v in det.state_.items()} == arrays
    s2 = det.score(_batch(x[:, 1500:], 1500))
    assert np.array_equal(s1.score, s2.score, equal_nan=True)
    first = det.process(_batch(x[:, 1500:], 1500)).score[:, 0]  # process learns as it goes: only t=0 is comparable
    assert np.array_equal(first, s1.score[:, 0], equal_nan=True)
