"""The calibrators' tail past the last edge (``tail_power``) and the ensemble's heavier calibration prior.

A spiky series whose routine bursts lie beyond the histogram's last edge
(``z_max``, 200 residual scales) must not score each burst as brand new: with
the prior's power 4 a burst ten times the edge was 10^4 times rarer than
"beyond the edge"; the ensemble's default power 0.5 makes it about 2x
rarer.  Gaps inside the histogram keep the prior's power.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.detect.calibrate import TailCalibrator
from sentinel.detect.ensemble import Ensemble
from sentinel.series import Batch


def _trained(tail_power: float | None, spike: float = 2000.0) -> tuple[TailCalibrator, dict[str, np.ndarray]]:
    """Unit noise with a spike of ``spike`` every 100th point (4000 points)."""
    cal = TailCalibrator(tail_power=tail_power)
    state = cal.init_state(1)
    r = np.random.default_rng(3).normal(size=4000)
    r[::100] = spike
    for v in r:
        cal.learn(state, np.array([v]), np.ones(1))
    return cal, state


def _p(cal: TailCalibrator, state: dict[str, np.ndarray], z: np.ndarray) -> np.ndarray:
    """Tail probabilities of several values for the one series of ``state``."""
    return np.array([cal.pvalue(state, np.array([v]))[0] for v in z])


def test_default_is_the_prior_power() -> None:
    """Without ``tail_power`` the calibrator extrapolates like its prior (the numbers it always gave)."""
    a, sa = _trained(None)
    b, sb = _trained(4.0)
    z = np.array([150.0, 300.0, 2000.0, 1e5])
    assert a.tail_power == 4.0
    np.testing.assert_array_equal(_p(a, sa, z), _p(b, sb, z))


def test_routine_bursts_beyond_the_last_edge_stay_moderate() -> None:
    """1% of points at 2000 scales: a gentle tail judges the next one near 1%, the prior's power near 1e-6."""
    gentle, sg = _trained(0.5)
    steep, ss = _trained(4.0)
    p_gentle, p_steep = _p(gentle, sg, np.array([2000.0]))[0], _p(steep, ss, np.array([2000.0]))[0]
    assert 1e-3 < p_gentle < 0.02
    assert p_steep < 1e-4
    # inside the histogram nothing changes
    z = np.array([0.0, 0.5, 1.0, 3.0, 150.0])
    np.testing.assert_allclose(_p(gentle, sg, z), _p(steep, ss, z), rtol=1e-12)


def test_gaps_inside_the_histogram_keep_the_prior_power() -> None:
    """A first value past the series' largest (but inside ``z_max``) is judged as before: it may be news."""
    gentle, sg = _trained(0.5, spike=20.0)
    steep, ss = _trained(4.0, spike=20.0)
    z = np.array([25.0, 60.0, 150.0])
    np.testing.assert_allclose(_p(gentle, sg, z), _p(steep, ss, z), rtol=1e-12)


def test_tail_is_monotone_and_continuous_at_the_edge() -> None:
    """Past the last edge p falls with z and starts from its value at the edge."""
    cal, state = _trained(0.5)
    z = np.geomspace(150.0, 1e6, 60)
    p = _p(cal, state, z)
    assert np.all(np.diff(p) <= 0)
    edge = cal.edges[-1]
    at, past = _p(cal, state, np.array([edge * (1 - 1e-9), edge * (1 + 1e-9)]))
    assert abs(at - past) <= 1e-6 * at


def test_ensemble_default_and_params() -> None:
    """The ensemble passes its ``tail_power`` (default 0.5) and prior (worth 50 points) to the calibrator."""
    ens = Ensemble(step=60)
    assert ens.tail_power == 0.5 and ens.get_params()["tail_power"] == 0.5
    assert ens._cal.tail_power == 0.5
    assert ens.prior == (50.0, 2.0, 4.0) and ens._cal.prior_weight == 50.0
    assert Ensemble(step=60, tail_power=2.5)._cal.tail_power == 2.5


def test_heavier_prior_tempers_a_thin_learned_tail() -> None:
    """After a long quiet (Gaussian) spell, 8 scales is ~5x less surprising with the prior worth 50 points."""
    p = {}
    for w in (10.0, 50.0):
        cal = TailCalibrator(prior_weight=w)
        state = cal.init_state(1)
        for v in np.random.default_rng(5).normal(size=4000):
            cal.learn(state, np.array([v]), np.ones(1))
        p[w] = _p(cal, state, np.array([8.0, 0.5]))
    assert 3.0 < p[50.0][0] / p[10.0][0] < 6.0
    assert abs(p[50.0][1] - p[10.0][1]) < 0.02  # the body of the distribution is the series' own


def test_spiky_series_bursts_score_lower_with_the_gentle_tail() -> None:
    """Flat series with a same-size burst every 150 steps: later bursts are far less surprising with power 0.5."""
    n = 3000
    x = 1.0 + 0.001 * np.random.default_rng(0).normal(size=n)
    x[200::150] = 5000.0
    batch = Batch.from_rows([{}], np.arange(n) * 60, x[None, :])
    late = np.arange(200, n, 150)[-5:]
    q = {}
    for tp in (0.5, 4.0):
        s = Ensemble(step=60, tail_power=tp).process(batch).score[0]
        q[tp] = -np.log10(np.maximum(1.0 - s[late], 1e-300))
    assert np.all(q[0.5] < q[4.0] - 1.0)  # at least a decade less surprising
    assert np.all(q[0.5] < 4.0)


@given(st.one_of(st.floats(max_value=0.0), st.just(float("nan"))))
def test_bad_tail_power_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="tail_power"):
        TailCalibrator(tail_power=bad)
