"""The calibrators' ``quiet`` bound: an unremarkable statistic gets p-value 1 without the tail query.

The default detector sets it (``registry.QUIET``); the other kinds and a
calibrator or ensemble built directly keep it off, so their numbers (and
the frozen reference outputs) are those of before.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.config import DetectorConfig
from sentinel.detect import build_detector
from sentinel.detect.calibrate import TailCalibrator
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.registry import QUIET
from sentinel.series import Batch


def _learned(cal: TailCalibrator) -> dict[str, np.ndarray]:
    state = cal.init_state(2, 2)
    rng = np.random.default_rng(5)
    for _ in range(3000):
        cal.learn(state, rng.standard_t(3, size=(2, 2)), np.ones(2))
    return state


def test_below_quiet_p_is_one_at_and_above_it_the_same_numbers() -> None:
    plain, quiet = TailCalibrator(), TailCalibrator(quiet=3.0)
    s_plain, s_quiet = _learned(plain), _learned(quiet)
    for k in s_plain:  # learning is not touched
        np.testing.assert_array_equal(s_quiet[k], s_plain[k])
    r = np.array([[0.0, -2.99], [2.5, np.nan]])
    p = quiet.pvalue(s_quiet, r)
    assert np.all(p[np.isfinite(r)] == 1.0) and np.isnan(p[1, 1])
    assert np.all(plain.pvalue(s_plain, r)[np.isfinite(r)] < 1.0)
    r = np.array([[3.0, -3.0], [7.5, -40.0]])
    np.testing.assert_array_equal(quiet.pvalue(s_quiet, r), plain.pvalue(s_plain, r))


def test_the_default_detector_is_quiet_the_other_kinds_and_old_params_are_not() -> None:
    def ensemble(kind: str, **params: object) -> Ensemble:
        det = build_detector(DetectorConfig(kind=kind, params=params), step=60)
        while not isinstance(det, Ensemble):
            det = det.inner  # type: ignore[attr-defined]
        return det

    assert ensemble("default").quiet == QUIET > 0
    assert ensemble("default", quiet=0.0).quiet == 0.0
    assert ensemble("guarded").quiet == 0.0
    params = ensemble("default").get_params()
    assert Ensemble(**params).quiet == QUIET  # a checkpoint keeps it
    del params["quiet"]
    assert Ensemble(**params).quiet == 0.0  # one written before it existed scores as it did


def test_quiet_points_score_zero_and_a_spike_scores_as_before() -> None:
    n = 3000
    rng = np.random.default_rng(1)
    x = 100.0 + rng.normal(size=n)
    x[2500] += 30.0
    batch = Batch.from_rows([{}], np.arange(n) * 60, x[None, :])
    plain, quiet = (Ensemble(step=60, quiet=q).process(batch) for q in (0.0, 3.0))
    zero_quiet, zero_plain = (np.mean(s.score[0, 500:2500] == 0.0) for s in (quiet, plain))
    assert zero_quiet > 0.9 and zero_quiet > zero_plain + 0.3  # (Bonferroni's min(1, 3p) zeroes about half)
    assert quiet.score[0, 2500] == plain.score[0, 2500] > 0.999


@given(st.one_of(st.floats(max_value=-1e-300), st.just(float("nan")), st.just(float("inf"))))
def test_bad_quiet_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="quiet"):
        TailCalibrator(quiet=bad)
