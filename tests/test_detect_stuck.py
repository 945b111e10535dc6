"""The novelty channel's stuck check: one value repeated far longer than the series ever has is new.

The inner detector is a calm one (its surprise is never news) and the rise
and ceiling checks are off, so any report comes from the value ranges or
the stuck check; each test compares with ``stuck_min=0`` (off) where the
ranges could have spoken.  A stuck stretch sits at the series' middle, so
neither the value nor its EW mean leaves its range.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sentinel.config import DetectorConfig
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.registry import build_detector
from sentinel.series import Batch
from tests.scripted import Calm, stepwise_decades

STEP = 60
N = 900
STUCK = 600  # x[STUCK - 1] is the value that sticks
LENGTH = 120
LONG0 = 589  # counts(), floor(): where the long run starts (after the marker at 588)
KEYS = ("lk.sv", "lk.sr", "lk.sm", "lk.sc", "lk.sb")


def noisy() -> np.ndarray:
    """Uniform noise in [0, 1] (never repeats), stuck at 0.5, its middle, for LENGTH values from STUCK."""
    x = np.random.default_rng(5).uniform(0.0, 1.0, N)
    x[STUCK - 1:STUCK + LENGTH] = 0.5
    return x


def counts(long: int = 85) -> np.ndarray:
    """A gauge at 1 with a 0 or a 2 every 31 values (runs of 30 ones, inside its range 0 .. 2), a run of ``long``
    ones from LONG0, then as before."""
    x = np.ones(N)
    for idx in (np.arange(30, LONG0, 31), np.arange(LONG0 + long, N, 31)):
        x[idx] = np.where(np.arange(len(idx)) % 2 == 0, 0.0, 2.0)
    return x


def floor(long: int = 200) -> np.ndarray:
    """A count at 0 with a 1 every 31 values, and a run of ``long`` zeros from LONG0: at the floor of its range."""
    x = np.zeros(N)
    x[np.arange(30, LONG0, 31)] = 1.0
    x[np.arange(LONG0 + long, N, 31)] = 1.0
    return x


def detector(**kw: object) -> Likelihood:
    """Unranked (a report is D = 2 + nov_rel exactly), the stuck check alone, at a limit of 10 and 3 x the longest."""
    return Likelihood(Calm(), sequence=False, **{"rank_rate": 0.0, "rise_k": 0, "ceil_blocks": 0, "stuck_min": 10,
                                                 "stuck_factor": 3.0, **kw})


def decades(x: np.ndarray, **kw: object) -> np.ndarray:
    s = detector(**kw).process(Batch.from_rows([{}], np.arange(len(x)) * STEP, x[None, :])).score[0]
    with np.errstate(divide="ignore"):
        return -np.log10(1.0 - s)


def test_a_stuck_value_is_reported_at_the_minimum_run() -> None:
    d = decades(noisy())
    assert (d[:STUCK + 8] < 2.0).all()  # the stuck value plus 8 repeats: a run of 9, under stuck_min = 10
    assert d[STUCK + 8] == pytest.approx(3.0)  # the tenth: decide_at (2 decades) + nov_rel
    assert (d >= 2.0).sum() == 1  # one run, one report
    assert (d[STUCK + LENGTH:] < 2.0).all()  # unstuck: nothing new
    assert (decades(noisy(), stuck_min=0) < 2.0).all()  # without the check nothing is new
    assert decades(noisy(), stuck_min=40)[STUCK + 38] == pytest.approx(3.0)


def test_a_series_that_repeats_routinely_learns_its_runs() -> None:
    d = decades(counts())
    assert (d < 2.0).all()  # a run of 85 zeros after runs of 30: within stuck_factor (3) times the longest
    assert (decades(counts(), stuck_min=0) < 2.0).all()
    assert (decades(counts(long=89)) < 2.0).all()  # 3 x 30, less the forgetting since the last run of 30: ~89.998
    assert decades(counts(long=90))[LONG0 + 89] == pytest.approx(3.0)
    low = decades(counts(), stuck_factor=2.0)  # 2 x 30 = 60 (less a little forgetting): the 60th one is stuck
    assert (low[:LONG0 + 59] < 2.0).all() and low[LONG0 + 59] == pytest.approx(3.0)


def test_a_run_at_a_bound_of_the_range_rests() -> None:
    assert (decades(floor()) < 2.0).all()  # 200 zeros after runs of 30: the count's floor, a lull
    assert (decades(floor(), stuck_factor=2.0, stuck_min=10) < 2.0).all()
    x = noisy()
    x[STUCK - 1:STUCK + LENGTH] = 1.0  # at the range's ceiling (uniform noise in [0, 1]): rests
    assert (decades(x) < 2.0).all()


def test_a_series_constant_from_its_first_value_is_not_stuck() -> None:
    assert (decades(np.full(N, 7.0)) < 2.0).all()  # no behaviour before the run to compare with


def test_missing_values_neither_extend_nor_end_a_run() -> None:
    x = noisy()
    x[STUCK + 2:STUCK + 40:2] = np.nan  # every other value missing while stuck
    x[[100, 101, 700]] = np.nan
    d = decades(x)
    assert np.isnan(d[STUCK + 2]) and np.isnan(d[100])  # a missing value has no score
    assert not (d[:STUCK + 15] >= 2.0).any()  # 9 values of the run before STUCK + 15 (STUCK - 1, +0, +1, +3, ..)
    assert d[STUCK + 15] == pytest.approx(3.0)  # the tenth
    det = detector()
    det.process(Batch.from_rows([{}], np.arange(N) * STEP, x[None, :]))
    assert det.state_["lk.sc"][0] == np.isfinite(x).sum()


def test_step_by_step_gives_the_numbers_of_process() -> None:
    x = counts()
    x[[300, 301, 650]] = np.nan
    want = decades(x, stuck_factor=2.0)
    np.testing.assert_array_equal(stepwise_decades(detector(stuck_factor=2.0), x, STEP), want)
    assert (want > 2.5).any()


def test_a_state_from_before_the_check_starts_it_fresh_and_it_waits() -> None:
    x = noisy()
    det = detector()
    det.process(Batch.from_rows([{}], np.arange(STUCK - 1) * STEP, x[None, :STUCK - 1]))
    for k in KEYS:
        del det.state_[k]  # what a checkpoint written before the stuck check holds
    tail = Batch.from_rows([{}], np.arange(STUCK - 1, N) * STEP, x[None, STUCK - 1:], step=STEP)
    assert (det.process(tail).score[0] < 0.99).all()  # fresh: the run began before n_warm values were learned
    assert det.state_["lk.sc"][0] == N - STUCK + 1


def test_default_on_off_for_count_series_and_its_state_cost() -> None:
    default = build_detector(DetectorConfig(kind="default"), step=STEP)
    assert default.get_params()["stuck_min"] == 30 and default.get_params()["stuck_factor"] == 4.0
    assert default.params.stuck
    cnt = build_detector(DetectorConfig(kind="default", params={"counts": True}), step=STEP).inner
    assert isinstance(cnt, Likelihood) and not cnt.params.stuck and "lk.sc" not in cnt._init_state(1)
    det = Likelihood(Calm(), sequence=False)
    det.process(Batch.from_rows([{"s": "a"}, {"s": "b"}], np.arange(10) * STEP, np.ones((2, 10))))
    assert sum(det.state_[k].nbytes for k in KEYS) / 2 == 5 * 8  # last value, run, longest run, count, rest


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 400),
                  elements=st.sampled_from([0.0, 1.0, -1.0, 1e300, -1e300, np.nan, np.inf, -np.inf, 2.5])))
def test_any_input_is_scored_or_skipped_and_the_state_stays_sane(x: np.ndarray) -> None:
    det = detector(n_warm=5, stuck_min=2, stuck_factor=1.0)
    s = det.process(Batch.from_rows([{}], np.arange(len(x)) * STEP, x[None, :], step=STEP)).score[0]
    finite = np.isfinite(x)  # a batch holds infinities as missing values
    assert (np.isnan(s) == ~finite).all() and ((s[~np.isnan(s)] >= 0) & (s[~np.isnan(s)] <= 1)).all()
    sc, sr, sm = det.state_["lk.sc"][0], det.state_["lk.sr"][0], det.state_["lk.sm"][0]
    assert sc == finite.sum() and 0 <= sr <= sc and sm >= 1.0 and (sr == 0) == (sc == 0)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([1, -1, 1_000_001, 2.5, float("nan"), True]), st.floats(-10.0, 0.999),
       st.one_of(st.floats(0.5, 2.0), st.floats(-2.0, -1e-9), st.just(float("nan"))))
def test_bad_stuck_parameters_are_a_clear_error(k: float, factor: float, forget: float) -> None:
    for kw in ({"stuck_min": k}, {"stuck_factor": factor}, {"stuck_forget": forget}):
        with pytest.raises(ValueError, match="stuck_min"):
            Likelihood(Calm(), **kw)
