"""The likelihood layer's rank of young models' reports: the same L or S evidence ranks lower early in a series.

The L and S channels compare with quantile trackers aimed at 1 in 10**4, a
level a series has not shown before it has about that many samples; so
until ``young_n`` scored samples a report of theirs lands up to
``young_rank`` decades lower (linearly less with the samples seen).  Which
points are reported does not change, nor anything a report does to the
state: only the decision score of reported points moves.  The inner
detector replays a scripted surprise, so the L channel's evidence is known;
for the novelty channel it finds nothing, so every report there is novelty's.
"""

from __future__ import annotations

import numpy as np
import pytest

from sentinel.config import DetectorConfig
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.registry import build_detector
from sentinel.series import Batch
from tests.scripted import Calm, Scripted, scripted_decades, stepwise_decades

STEP = 60
T = 7000
EARLY, LATE = 1500, 6500  # the same event early (a quarter of young_n seen) and once the model is mature


def decades(L: np.ndarray, **kw: object) -> np.ndarray:
    """Decision scores in decades of the L channel alone, one row per series of ``L`` (S, T)."""
    return scripted_decades(L, STEP, **kw)


def events() -> np.ndarray:
    """A quiet series (L 0.5) with two events of 5 decades, one early and one late."""
    L = np.full((1, T), 0.5)
    L[0, [EARLY, LATE]] = 5.0
    return L


def test_an_early_report_ranks_lower_by_the_young_term_and_a_mature_one_not_at_all() -> None:
    L = events()
    young, flat = decades(L), decades(L, young_rank=0.0)
    assert young[0, EARLY] == pytest.approx(flat[0, EARLY] - 0.5 * (1.0 - EARLY / 6000), abs=1e-6)
    assert young[0, LATE] == pytest.approx(flat[0, LATE], abs=1e-12)
    assert decades(L, young_n=1000)[0, EARLY] == pytest.approx(flat[0, EARLY], abs=1e-12)  # grown up by then


def test_reports_stay_reports_and_other_scores_do_not_move() -> None:
    L = events()
    young, flat = decades(L, young_rank=5.0), decades(L, young_rank=0.0)
    np.testing.assert_array_equal(young >= 2.0, flat >= 2.0)
    np.testing.assert_array_equal(young[flat < 2.0], flat[flat < 2.0])
    assert young[0, EARLY] >= 2.0 + 1e-4  # lowered to the floor, never under decide_at


def test_novelty_reports_are_not_lowered() -> None:
    x = np.random.default_rng(7).uniform(0.0, 10.0, 1200)
    x[:2] = 0.0, 10.0
    x[-1] = 12.0  # beyond the range the series has shown, at 1,199 samples
    det = {k: Likelihood(Calm(), sequence=False, rise_k=0, ceil_blocks=0, young_rank=k) for k in (0.0, 0.5)}
    d = {k: -np.log10(1.0 - v.process(Batch.from_rows([{}], np.arange(len(x)) * STEP, x[None, :])).score[0])
         for k, v in det.items()}
    assert d[0.5][-1] >= 2.5  # a report, ranked ...
    assert d[0.5][-1] == pytest.approx(d[0.0][-1], abs=1e-12)  # ... as it would be from a mature model


def test_step_by_step_equals_the_batch() -> None:
    L = events()[0, :2000]
    batch = decades(L[None, :])[0]
    steps = stepwise_decades(Likelihood(Scripted(L), sequence=False, novelty=False), np.zeros(len(L)), STEP)
    np.testing.assert_allclose(steps, batch, rtol=0, atol=1e-12)


def test_without_the_rank_there_is_no_young_term() -> None:
    L = events()
    np.testing.assert_array_equal(decades(L, rank_rate=0.0), decades(L, rank_rate=0.0, young_rank=0.0))


@pytest.mark.parametrize("bad", [{"young_n": -1}, {"young_n": 1.5}, {"young_n": True}, {"young_rank": -0.1},
                                 {"young_rank": 6.0}, {"young_rank": float("nan")}])
def test_bad_young_parameters_are_a_clear_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="young"):
        Likelihood(Scripted(np.zeros((1, 1))), **bad)


def test_the_default_detector_ranks_young_reports_half_a_decade_lower_until_6000_samples() -> None:
    p = build_detector(DetectorConfig(kind="default"), step=STEP).get_params()
    assert (p["young_n"], p["young_rank"]) == (6000, 0.5)
