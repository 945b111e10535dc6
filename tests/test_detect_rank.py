"""The likelihood layer's rank of reports: the same evidence ranks higher from a series that seldom reports.

``rank_rate`` moves only the decision score of reported points (how far
above ``decide_at`` they land), by the series' report rate against the
budget's ``budget_rate``; which points are reported does not change.  The
inner detector replays a scripted surprise (in decades) per series, and the
sequence and novelty channels are off, so every report comes from the L
channel and its evidence is known point by point.
"""

from __future__ import annotations

import numpy as np
import pytest

from sentinel.config import DetectorConfig
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.registry import build_detector
from tests.scripted import Scripted, scripted_decades

STEP = 60
T = 6000


def decades(L: np.ndarray, **kw: object) -> np.ndarray:
    """Decision scores in decades, one row per series of ``L`` (S, T)."""
    return scripted_decades(L, STEP, **kw)


def busy_and_quiet() -> np.ndarray:
    """Series 0 bursts (L 2 .. 5.5) every 60 steps: far over budget.  Series 1 is quiet but for one event.

    Both end on the same event, L = 8 decades.
    """
    rng = np.random.default_rng(3)
    L = np.full((2, T), 0.5)
    L[0, 200::60] = rng.uniform(2.0, 5.5, len(L[0, 200::60]))
    L[:, -1] = 8.0
    return L


def test_the_rank_moves_only_reported_points_and_reports_stay_reports() -> None:
    L = busy_and_quiet()
    ranked, flat = decades(L), decades(L, rank_rate=0.0)
    np.testing.assert_array_equal(ranked >= 2.0, flat >= 2.0)  # the same reports ...
    np.testing.assert_array_equal(ranked[flat < 2.0], flat[flat < 2.0])  # ... and the same scores elsewhere
    assert (ranked != flat).any()


def test_a_report_from_the_quiet_series_gains_more_than_one_from_the_busy_series() -> None:
    L = busy_and_quiet()
    gain = decades(L, young_rank=0.0) - decades(L, rank_rate=0.0)  # the rate term alone (no young term)
    # the quiet series' rate has decayed far under budget_rate (1e-3): the bonus is capped at 3 decades of rate
    assert gain[1, -1] == pytest.approx(0.5 * 3.0)
    assert gain[0, -1] < 0.5  # the busy one is held near its budget by the budget itself: little or no bonus
    assert gain[1, -1] > gain[0, -1] + 1.0


def test_a_series_far_over_budget_still_reports() -> None:
    L = busy_and_quiet()
    d = decades(L, rank_rate=10.0)
    flat = decades(L, rank_rate=0.0)
    assert ((d >= 2.0) == (flat >= 2.0)).all()
    assert d[0][flat[0] >= 2.0].min() >= 2.0 + 1e-4  # the rank never takes a report below decide_at


def test_without_the_budget_there_is_no_rank() -> None:
    L = busy_and_quiet()
    np.testing.assert_array_equal(decades(L, budget_alpha=0.0), decades(L, budget_alpha=0.0, rank_rate=0.0))


@pytest.mark.parametrize("bad", [-0.1, 10.5, float("nan")])
def test_bad_rank_rate_is_a_clear_error(bad: float) -> None:
    with pytest.raises(ValueError, match="rank_rate"):
        Likelihood(Scripted(np.zeros((1, 1))), rank_rate=bad)


def test_the_default_detector_ranks_at_half_a_decade_per_decade() -> None:
    assert build_detector(DetectorConfig(kind="default"), step=STEP).get_params()["rank_rate"] == 0.5
