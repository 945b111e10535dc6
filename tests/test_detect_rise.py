"""The novelty channel's rise check: a floor that has never been this high is new, even when no value is.

The inner detector is a calm one (its surprise is never news), so any report
comes from the novelty channel.  The series is spiky: a baseline near 1 with
bursts of five values at 10, so its values span [~1, 10] and its EW mean has
been near 5 after each burst.  A shift of the level to 3 puts every new value
and the new EW mean inside what the series has shown; only the minimum of the
last ``rise_k`` values, never above ~1.2 before, is new territory.
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
from tests.scripted import Calm, stepwise_decades

STEP = 60
N = 1000
SHIFT = 900


def spiky(level: float = 3.0) -> np.ndarray:
    """Baseline ~1 with a burst of five 10s every 50 values; from SHIFT on the baseline is ``level``."""
    x = 1.0 + 0.1 * np.random.default_rng(3).uniform(0.0, 1.0, N)
    for b in range(20, SHIFT - 20, 50):
        x[b:b + 5] = 10.0
    x[SHIFT:] += level - 1.0
    return x


def decades(x: np.ndarray, **kw: object) -> np.ndarray:
    det = Likelihood(Calm(), sequence=False, **{"rank_rate": 0.0, **kw})  # unranked: D = 2 + nov_rel exactly
    s = det.process(Batch.from_rows([{}], np.arange(len(x)) * STEP, x[None, :])).score[0]
    with np.errstate(divide="ignore"):
        return -np.log10(1.0 - s)


def test_a_risen_floor_is_reported_once_rise_k_values_show_it() -> None:
    d = decades(spiky())
    assert (d[200:SHIFT + 5] < 2.0).all()  # bursts are old news; five values at the new level are not enough
    assert d[SHIFT + 5] == pytest.approx(3.0)  # the sixth: decide_at (2 decades) + nov_rel
    assert (decades(spiky(), rise_k=0)[200:] < 2.0).all()  # without the check nothing is new
    assert decades(spiky(), rise_k=8)[SHIFT + 7] == pytest.approx(3.0)
    assert (decades(spiky(), rise_k=3)[200:] < 2.0).all()  # bursts of five 10s have shown floors of 10


def test_no_shift_or_a_shift_down_is_not_a_rise() -> None:
    low = spiky(level=0.5)
    np.testing.assert_array_equal(decades(low)[200:], decades(low, rise_k=0)[200:])  # a lower floor: no rise
    same = spiky(level=1.0)
    np.testing.assert_array_equal(decades(same)[200:], decades(same, rise_k=0)[200:])  # no shift: nothing new
    assert (decades(spiky(), rise_tol=30.0)[200:] < 2.0).all()  # the floor range is ~0.1 wide: 3 is within 30 widths


def test_step_by_step_gives_the_numbers_of_process() -> None:
    x = spiky()
    x[[300, 301, 950]] = np.nan  # missing values are skipped, not kept
    want = decades(x)
    det = Likelihood(Calm(), sequence=False, rank_rate=0.0)
    np.testing.assert_array_equal(stepwise_decades(det, x, STEP), want)
    assert det.state_["lk.kc"][0] == N - 3


def test_a_state_from_before_the_check_starts_it_fresh_and_it_waits() -> None:
    x = spiky()
    det = Likelihood(Calm(), sequence=False, rank_rate=0.0)
    det.process(Batch.from_rows([{}], np.arange(SHIFT) * STEP, x[None, :SHIFT]))
    for k in ("lk.kb", "lk.klo", "lk.khi", "lk.kc"):
        del det.state_[k]  # what a checkpoint written before the rise check holds
    tail = Batch.from_rows([{}], np.arange(SHIFT, N) * STEP, x[None, SHIFT:], step=STEP)
    assert (det.process(tail).score[0] < 0.99).all()  # fresh: no range of minima, n_warm of them to learn
    assert det.state_["lk.kc"][0] == N - SHIFT


def test_default_on_off_for_count_series_and_its_state_cost() -> None:
    default = build_detector(DetectorConfig(kind="default"), step=STEP)
    assert default.get_params()["rise_k"] == 6 and default.params.rise
    counts = build_detector(DetectorConfig(kind="default", params={"counts": True}), step=STEP).inner
    assert isinstance(counts, Likelihood) and not counts.params.rise  # it belongs to the novelty channel
    det = Likelihood(Calm(), sequence=False)
    det.process(Batch.from_rows([{"s": "a"}, {"s": "b"}], np.arange(10) * STEP, np.ones((2, 10))))
    rise = sum(det.state_[k].nbytes for k in ("lk.kb", "lk.klo", "lk.khi", "lk.kc")) / 2
    assert rise == (6 - 1 + 3) * 8  # the last rise_k - 1 values, the range, the count


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, -1, 65, 2.5, float("nan"), True]), st.floats(-1.0, -1e-9), st.floats(0.5, 2.0))
def test_bad_rise_parameters_are_a_clear_error(k: float, tol: float, forget: float) -> None:
    for kw in ({"rise_k": k}, {"rise_tol": tol}, {"rise_forget": forget}):
        with pytest.raises(ValueError, match="rise_k"):
            Likelihood(Calm(), **kw)
