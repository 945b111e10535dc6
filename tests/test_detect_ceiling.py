"""The novelty channel's ceiling check: a day that misses its usual peak is new, though no value in it is.

The inner detector is a calm one (its surprise is never news), so any report
comes from the novelty channel.  A 5-minute series (288 values a day) sits
at 20 and rises to a plateau of 80 for 100 values every day; on day MISS the
plateau does not come.  Every value of that day has been seen every day,
and so has every short sequence; only the peak of the last day (the
maximum over 12 blocks of 24 values) is lower than it has ever been.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.config import DetectorConfig
from sentinel.detect.ceiling import block_values
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.registry import build_detector
from sentinel.series import Batch
from tests.scripted import Calm, stepwise_decades

STEP = 300
DAY = 288
DAYS = 10
MISS = 7
KEYS = ("lk.cb", "lk.cm", "lk.clo", "lk.chi")


def daily(miss: bool = True) -> np.ndarray:
    """20 + noise, a plateau of 80 (+ noise) from value 100 to 199 of each day, none on day MISS if ``miss``."""
    x = 20.0 + np.random.default_rng(4).uniform(0.0, 2.0, DAYS * DAY)
    for d in range(DAYS):
        if not (miss and d == MISS):
            x[d * DAY + 100:d * DAY + 200] += 60.0
    return x


def decades(x: np.ndarray, **kw: object) -> np.ndarray:
    det = Likelihood(Calm(), sequence=False, **{"rank_rate": 0.0, "rise_k": 0, **kw})  # unranked: D = 2 + nov_rel
    s = det.process(Batch.from_rows([{}], np.arange(len(x)) * STEP, x[None, :], step=STEP)).score[0]
    with np.errstate(divide="ignore"):
        return -np.log10(1.0 - s)


def test_a_missing_daily_peak_is_reported_within_a_block_of_a_day_without_it() -> None:
    d = decades(daily())
    last = (MISS - 1) * DAY + 199  # the last plateau value before the missing one
    hits = np.flatnonzero(d >= 2.0)
    assert len(hits) == 1 and last + DAY < hits[0] <= last + DAY + 24  # the day without it, at a block's end
    assert d[hits[0]] == pytest.approx(3.0)  # decide_at (2 decades) + nov_rel
    assert (decades(daily(), ceil_blocks=0) < 2.0).all()  # without the check nothing is new
    assert (decades(daily(miss=False)) < 2.0).all()  # every day has its peak: nothing


def test_the_step_is_learned_from_the_first_batch_unless_given() -> None:
    det = Likelihood(Calm(), sequence=False)
    assert not det.params.ceil  # no step yet: the check waits for one
    det.process(Batch.from_rows([{}], np.arange(10) * STEP, np.ones((1, 10)), step=STEP))
    assert det.step == STEP and det.params.ceil and det.params.ceil_m == 24
    assert Likelihood(Calm(), step=3600).params.ceil_m == 2
    assert block_values(86400 * 7, 12) == 1  # a coarse step: a block is one value


def test_step_by_step_gives_the_numbers_of_process() -> None:
    x = daily()[: 9 * DAY]
    x[[500, 501, 2100]] = np.nan  # missing values are skipped
    want = decades(x)
    det = Likelihood(Calm(), sequence=False, rank_rate=0.0, rise_k=0)
    np.testing.assert_array_equal(stepwise_decades(det, x, STEP), want)
    assert det.state_["lk.kc"][0] == len(x) - 3


def test_a_state_from_before_the_check_starts_it_fresh_and_it_waits() -> None:
    x = daily()
    det = Likelihood(Calm(), sequence=False, rank_rate=0.0, rise_k=0)  # the rise check's own: test_detect_rise
    cut = MISS * DAY - 50
    det.process(Batch.from_rows([{}], np.arange(cut) * STEP, x[None, :cut], step=STEP))
    for k in (*KEYS, "lk.kc"):
        del det.state_[k]  # what a checkpoint written before the checks holds
    tail = Batch.from_rows([{}], np.arange(cut, len(x)) * STEP, x[None, cut:], step=STEP)
    assert (det.process(tail).score[0] < 0.99).all()  # fresh: a day of blocks, then peaks to learn
    assert det.state_["lk.kc"][0] == len(x) - cut


def test_default_on_off_for_count_series_and_its_state_cost() -> None:
    default = build_detector(DetectorConfig(kind="default"), step=STEP)
    assert default.get_params()["ceil_blocks"] == 12
    counts = build_detector(DetectorConfig(kind="default", params={"counts": True}), step=STEP).inner
    counts.process(Batch.from_rows([{}], np.arange(10) * STEP, np.ones((1, 10)), step=STEP))
    assert isinstance(counts, Likelihood) and not counts.params.ceil and "lk.cb" not in counts.state_
    det = Likelihood(Calm(), sequence=False)
    det.process(Batch.from_rows([{"s": "a"}, {"s": "b"}], np.arange(10) * STEP, np.ones((2, 10)), step=STEP))
    assert sum(det.state_[k].nbytes for k in KEYS) / 2 == 12 * 4 + 3 * 8  # float32 block maxima, 3 numbers


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, -1, 65, 2.5, float("nan"), True]), st.floats(-1.0, -1e-9), st.floats(0.5, 2.0))
def test_bad_ceiling_parameters_are_a_clear_error(blocks: float, tol: float, forget: float) -> None:
    for kw in ({"ceil_blocks": blocks}, {"ceil_tol": tol}, {"ceil_forget": forget}):
        with pytest.raises(ValueError, match="ceil_blocks"):
            Likelihood(Calm(), **kw)
    for step in (0, -300, 2.5):
        with pytest.raises(ValueError, match="step"):
            Likelihood(Calm(), step=step)
