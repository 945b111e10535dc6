"""The likelihood layer's report budget: a series that keeps reporting must show more to be heard.

The inner detector here replays a scripted surprise (in decades), so what
the layer reports is known point by point; the sequence and novelty
channels are off so every report comes from the L channel the budget acts on.
"""

from __future__ import annotations

import numpy as np
import pytest

from sentinel.config import DetectorConfig
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.registry import build_detector
from sentinel.series import Batch
from tests.scripted import Scripted

STEP = 60
T = 6000


def run(L: np.ndarray, **kw: object) -> tuple[np.ndarray, Likelihood]:
    det = Likelihood(Scripted(L), sequence=False, novelty=False, **kw)
    batch = Batch.from_rows([{}], np.arange(len(L)) * STEP, np.zeros((1, len(L))))
    return det.process(batch).score[0], det


def bursty() -> np.ndarray:
    """Quiet (L = 0.5) with a burst every 60 steps whose size varies (L 2 .. 5.5): it reports very often."""
    rng = np.random.default_rng(3)
    L = np.full(T, 0.5)
    L[200::60] = rng.uniform(2.0, 5.5, len(L[200::60]))
    return L


def test_an_over_reporting_series_reports_less_and_its_rate_is_tracked() -> None:
    L = bursty()
    off, _ = run(L, budget_alpha=0.0)
    on, det = run(L)
    n_off, n_on = int((off >= 0.99).sum()), int((on >= 0.99).sum())
    assert n_off > 0.005 * T  # without the budget: far above its 1-in-1000 target
    assert 0 < n_on < n_off
    assert ((on >= 0.99) <= (off >= 0.99)).all()  # the budget only removes reports, it adds none
    rate = det.state_["lk.rt"][0]
    assert det.budget_rate / 3 < rate < 3 * det.budget_rate  # the feedback holds the rate near its target


def test_a_series_within_its_budget_is_untouched() -> None:
    L = np.full(T, 0.5)
    L[[1000, 4000]] = 6.0  # two events in 6000 steps: under 1 in 1000
    off, _ = run(L, budget_alpha=0.0)
    on, det = run(L, rank_rate=0.0)  # the rank of reports (test_detect_rank.py) off: the same numbers
    np.testing.assert_array_equal(on, off)
    assert (on >= 0.99).sum() == 2
    assert det.state_["lk.rt"][0] < det.budget_rate


def test_a_bigger_gain_asks_more_of_an_over_reporting_series() -> None:
    L = bursty()
    n = [int((run(L, budget_gain=g)[0] >= 0.99).sum()) for g in (0.5, 1.0, 3.0)]
    assert n[0] >= n[1] >= n[2] and n[0] > n[2]


def test_a_checkpoint_without_the_budget_starts_it_neutral() -> None:
    L = bursty()
    old = Likelihood(Scripted(L), sequence=False, novelty=False, budget_alpha=0.0)
    batch = Batch.from_rows([{}], np.arange(1000) * STEP, np.zeros((1, 1000)))
    old.process(batch)
    assert "lk.rt" not in old.state_
    new = Likelihood(old.inner, sequence=False, novelty=False)
    new.state_ = old.state_
    later = Batch.from_rows([{}], (1000 + np.arange(10)) * STEP, np.zeros((1, 10)))
    new.process(later)
    assert new.state_["lk.rt"][0] < new.budget_rate  # created at budget_rate, then 10 quiet steps


@pytest.mark.parametrize("bad", [{"budget_alpha": -0.1}, {"budget_alpha": 1.0}, {"budget_rate": 0.0},
                                 {"budget_rate": 1.0}, {"budget_gain": 0.0},
                                 {"budget_gain": float("nan")}])
def test_bad_budget_parameters_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="budget"):
        Likelihood(Scripted(np.zeros(1)), **bad)


def test_the_registry_turns_the_budget_on_except_for_count_series() -> None:
    det = build_detector(DetectorConfig(kind="default"), step=STEP)
    assert isinstance(det, Likelihood) and det.params.budget and det.get_params()["budget_alpha"] == 2e-3
    counts = build_detector(DetectorConfig(kind="default", params={"counts": True}), step=STEP)
    assert not counts.inner.params.budget
