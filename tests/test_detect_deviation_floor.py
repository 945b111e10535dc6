"""The likelihood layer's deviation floor: a deviation tiny against the series' range is not news by itself.

The inner detector replays a scripted surprise with expected value 0 (see
:mod:`tests.scripted`), the values are uniform on [0, 10] (range
width 10, so the default floor of 5 % is 0.5), and the last point is a
big inner surprise (6 decades): whether it is reported depends only on how
far the value is from the expected 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.config import DetectorConfig
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.registry import build_detector
from sentinel.series import Batch
from tests.scripted import Scripted

STEP = 60
N = 1000


def series(last: float) -> tuple[np.ndarray, np.ndarray]:
    """Values (history on [0, 10], then ``last``) and the inner's surprise (0.5, then 6 decades at the end)."""
    x = np.random.default_rng(5).uniform(0.0, 10.0, N + 1)
    x[:2] = 0.0, 10.0
    x[-1] = last
    L = np.full(N + 1, 0.5)
    L[-1] = 6.0
    return x, L


def decades(last: float, **kw: object) -> np.ndarray:
    x, L = series(last)
    det = Likelihood(Scripted(L), sequence=False, **kw)
    s = det.process(Batch.from_rows([{}], np.arange(len(x)) * STEP, x[None, :])).score[0]
    with np.errstate(divide="ignore"):
        return -np.log10(1.0 - s)


def test_a_surprise_closer_to_expected_than_the_floor_is_not_reported() -> None:
    assert decades(0.4)[-1] < 2.0  # |0.4 - 0| < 5 % of the width 10
    assert decades(0.6)[-1] > 2.0  # beyond it: reported
    assert decades(0.4, dev_floor=0.0)[-1] > 2.0  # no floor: the inner's surprise alone reports
    assert decades(0.4, dev_floor=0.03)[-1] > 2.0
    assert decades(0.4, novelty=False)[-1] > 2.0  # the floor needs the novelty channel's range


def test_the_floor_leaves_everything_else_unchanged() -> None:
    on, off = decades(0.6), decades(0.6, dev_floor=0.0)
    np.testing.assert_array_equal(on, off)


def test_step_by_step_gives_the_numbers_of_process() -> None:
    x, L = series(0.4)
    batch = Likelihood(Scripted(L), sequence=False)
    want = batch.process(Batch.from_rows([{}], np.arange(len(x)) * STEP, x[None, :])).score[0]
    det = Likelihood(Scripted(L), sequence=False)
    got = []
    for k in range(len(x)):
        b = Batch.from_rows([{}], np.array([k * STEP]), x[None, k:k + 1], step=STEP)
        got.append(det.score(b).score[0, 0])
        det.learn(b)
    np.testing.assert_array_equal(np.array(got), want)


def test_a_state_from_before_the_floor_continues_without_it_until_the_next_score() -> None:
    x, L = series(0.4)
    det = Likelihood(Scripted(L), sequence=False)
    head = Batch.from_rows([{}], np.arange(N) * STEP, x[None, :N])
    det.process(head)
    del det.state_["lk.E"]  # what a checkpoint written before the floor holds
    last = Batch.from_rows([{}], np.array([N * STEP]), x[None, N:], step=STEP)
    assert det.process(last).score[0, 0] < 0.99  # the new state is filled and the floor applies at once
    assert np.isfinite(det.state_["lk.E"]).all()


def test_count_series_have_no_floor_and_bad_values_are_refused() -> None:
    counts = build_detector(DetectorConfig(kind="default", params={"counts": True}), step=STEP).inner
    assert isinstance(counts, Likelihood) and not counts.params.floor
    assert build_detector(DetectorConfig(kind="default"), step=STEP).get_params()["dev_floor"] == 0.05
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="dev_floor"):
            Likelihood(Scripted(np.zeros(1)), dev_floor=bad)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 0.99), st.floats(-20.0, 20.0, allow_nan=False))
def test_the_floor_only_ever_removes_reports(floor: float, last: float) -> None:
    assert decades(last, dev_floor=floor)[-1] <= decades(last, dev_floor=0.0)[-1]
