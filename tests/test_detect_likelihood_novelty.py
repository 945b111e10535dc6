"""The likelihood layer's spatial-novelty channel: new territory is reported, old territory is not.

The inner detector here is a constant one (its surprise is never news), so any
report comes from the novelty channel alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from sentinel.config import DetectorConfig
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.registry import build_detector
from sentinel.series import Batch
from tests.scripted import Calm

STEP = 60


def decades(x: np.ndarray, **kw: object) -> np.ndarray:
    # unranked: D = 2 + nov_rel exactly; no rise or ceiling check (a record floor of iid values is news to
    # the first: tests/test_detect_rise.py, tests/test_detect_ceiling.py)
    det = Likelihood(Calm(), sequence=False, **{"rank_rate": 0.0, "rise_k": 0, "ceil_blocks": 0, **kw})
    s = det.process(Batch.from_rows([{}], np.arange(len(x)) * STEP, x[None, :])).score[0]
    with np.errstate(divide="ignore"):
        return -np.log10(1.0 - s)


def history(n: int = 1000) -> np.ndarray:
    x = np.random.default_rng(7).uniform(0.0, 10.0, n)
    x[:2] = 0.0, 10.0  # the range is [0, 10] from the start
    return x


def test_a_new_extreme_is_reported_at_nov_rel_and_only_with_the_channel_on() -> None:
    x = np.r_[history(), 11.0]
    d = decades(x)
    assert d[-1] == pytest.approx(2.0 + 1.0)  # decide_at 0.99 (2 decades) + nov_rel
    assert (d[200:-1] < 2.0).all()
    assert decades(x, novelty=False)[-1] < 2.0
    assert decades(x, nov_rel=2.5)[-1] == pytest.approx(4.5)


def test_within_the_tolerance_is_not_news() -> None:
    raw = {"nov_alpha": 1.0, "nov_forget": 0.0}  # EW mean = the value, no forgetting: the range is [0, 10]
    assert decades(np.r_[history(), 10.4], **raw)[-1] < 2.0  # 4 % of the width above the top (tol 5 %)
    assert decades(np.r_[history(), 10.6], **raw)[-1] == pytest.approx(3.0)
    assert decades(np.r_[history(), 10.4], nov_tol=0.0, **raw)[-1] == pytest.approx(3.0)


def test_a_level_move_inside_the_raw_range_is_caught_by_the_smoothed_range() -> None:
    x = np.r_[np.tile([0.0, 10.0], 500), np.tile([8.0, 10.0], 30)]
    d = decades(x)
    assert (d[200:1000] < 2.0).all()
    assert (d[1000:] >= 2.0).any()


def test_missing_values_are_never_reported_and_the_warm_up_holds() -> None:
    x = np.r_[history(), np.nan, 50.0]
    d = decades(x)
    assert np.isnan(d[-2]) and d[-1] >= 2.0
    early = np.r_[history(100), 50.0]  # a new extreme before n_warm (150) scored values
    assert (decades(early) < 2.0).all()


def test_one_event_one_report_then_the_envelope_holds() -> None:
    x = np.r_[history(), np.linspace(11.0, 20.0, 10)]  # a climb into new territory, each step a new extreme
    d = decades(x)
    assert (d[-10:] >= 2.0).sum() == 1


def test_count_series_get_neither_sequence_nor_novelty() -> None:
    det = build_detector(DetectorConfig(kind="default", params={"counts": True}), step=STEP)
    lk = det.inner  # CountFloor(Likelihood(...))
    assert isinstance(lk, Likelihood)
    assert lk.get_params()["novelty"] is False and lk.get_params()["sequence"] is False
    assert build_detector(DetectorConfig(kind="default"), step=STEP).get_params()["novelty"] is True
