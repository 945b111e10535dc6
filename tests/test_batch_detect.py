"""Batch detectors: STL decomposition scores, their calibration, degenerate series, validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sentinel.detect.stl import STLDetector
from sentinel.detect.tail import TailCalibration, row_nanquantiles
from sentinel.series import Batch

STEP = 300
TWO_WEEKS = 4032


def fleet(n: int, steps: int, seed: int = 0) -> np.ndarray:
    """Clean series with daily and weekly cycles, heavy-tailed noise, different scales."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps) * STEP
    amp = rng.uniform(0, 5, (n, 1))
    weekend = (((t // 86400) % 7) >= 5)[None, :]
    noise = rng.standard_t(5, (n, steps)) * rng.uniform(0.2, 2, (n, 1))
    return rng.uniform(5, 100, (n, 1)) + amp * np.sin(2 * np.pi * t / 86400)[None, :] - 0.3 * amp * weekend + noise


def as_batch(values: np.ndarray, start_step: int = 0) -> Batch:
    ts = (start_step + np.arange(values.shape[1])) * STEP
    return Batch.from_rows([{"s": str(i)} for i in range(len(values))], ts, values)


@pytest.fixture(scope="module")
def fitted() -> tuple[STLDetector, np.ndarray]:
    x = fleet(200, TWO_WEEKS + 2016)
    return STLDetector().fit(as_batch(x[:, :TWO_WEEKS])), x


def test_calibrated_on_clean_data(fitted: tuple[STLDetector, np.ndarray]) -> None:
    det, x = fitted
    s = det.score(as_batch(x[:, TWO_WEEKS:], TWO_WEEKS)).score
    assert np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()
    for t, tol in ((0.5, 0.05), (0.9, 0.03), (0.99, 0.006)):
        assert abs((s >= t).mean() - (1 - t)) < tol, (t, (s >= t).mean())


def test_band_matches_the_score(fitted: tuple[STLDetector, np.ndarray]) -> None:
    det, x = fitted
    s = det.score(as_batch(x[:, TWO_WEEKS:], TWO_WEEKS))
    v = x[:, TWO_WEEKS:]
    outside = (v > s.upper) | (v < s.lower)
    assert np.array_equal(outside, s.score > det.band_prob) or np.mean(outside != (s.score > det.band_prob)) < 1e-3


def test_spike_in_new_data_scores_high(fitted: tuple[STLDetector, np.ndarray]) -> None:
    det, x = fitted
    new = x[:, TWO_WEEKS:TWO_WEEKS + 50].copy()
    new[:, 20] = det.score(as_batch(new, TWO_WEEKS)).expected[:, 20] + 12 * det.scale_
    s = det.score(as_batch(new, TWO_WEEKS)).score
    assert (s[:, 20] > 0.999).mean() > 0.95
    assert (s[:, 21:] > 0.999).mean() < 0.02  # the level is robust to the spike it just saw


@pytest.mark.parametrize(("days", "periods"), [(14, (288, 2016)), (3, (288,)), (1, ())])
def test_periods_follow_the_history_length(days: int, periods: tuple[int, ...]) -> None:
    n = days * 288
    det = STLDetector().fit(as_batch(fleet(2, n)))
    assert det.periods_ == periods


def test_explicit_periods_in_seconds() -> None:
    det = STLDetector(periods=(3600,)).fit(as_batch(fleet(2, 288)))
    assert det.periods_ == (12,)


def test_degenerate_series_never_crash() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10, 1, (6, TWO_WEEKS))
    x[0] = 5.0  # constant
    x[1] = np.nan  # all missing
    x[2, ::3] = np.nan  # gappy
    x[3, 2000] = 1e12  # one huge spike
    x[4, 2000:] += 50  # step change
    x[5, :-10] = np.nan  # only 10 points
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det = STLDetector().fit(as_batch(x))
        nxt = np.vstack([np.full(20, 5.0), np.full(20, np.nan), rng.normal(10, 1, (2, 20)),
                         rng.normal(60, 1, 20), rng.normal(10, 1, 20)])
        nxt[0, 10] = 6.0
        s = det.score(as_batch(nxt, TWO_WEEKS))
    sc = s.score
    assert np.isnan(sc[1]).all()
    finite = sc[[0, 2, 3, 4, 5]]
    assert np.isfinite(finite).all() and (finite >= 0).all() and (finite <= 1).all()
    assert sc[0, 10] > 0.999 and (sc[0, :10] < 0.9).all()  # a constant that moves is anomalous
    assert (sc[3] > 0.999).mean() < 0.1  # the spike did not poison the model
    assert abs(np.nanmedian(s.expected[4]) - 60) < 2  # after the step the level is the new one
    assert (sc[4] > 0.99).mean() < 0.1


@pytest.mark.parametrize("n", [2, 3, 10, 100])
def test_short_history(n: int) -> None:
    x = np.random.default_rng(n).normal(0, 1, (2, n))
    det = STLDetector().fit(as_batch(x))
    s = det.score(as_batch(np.array([[0.0, 50.0], [0.0, 0.0]]), n)).score
    assert np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()
    if n >= 10:
        assert s[0, 1] > 0.99


def test_step_change_in_new_data_is_flagged(fitted: tuple[STLDetector, np.ndarray]) -> None:
    det, x = fitted
    new = x[:, TWO_WEEKS:TWO_WEEKS + 30].copy()
    new[:, 10:] += 20 * det.scale_[:, None]
    s = det.score(as_batch(new, TWO_WEEKS)).score
    assert (s[:, 10] > 0.999).mean() > 0.95


def test_validation_errors() -> None:
    det = STLDetector()
    b = as_batch(fleet(1, 50))
    with pytest.raises(RuntimeError, match="not fitted"):
        det.score(b)
    with pytest.raises(TypeError):
        det.fit(np.zeros((1, 10)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        STLDetector(method="prophet").fit(b)
    with pytest.raises(ValueError, match="at least 2"):
        det.fit(b.window(0, 1))
    det.fit(b)
    with pytest.raises(ValueError, match="step"):
        det.score(Batch.from_rows([{"s": "0"}], [0, 60], [[1.0, 2.0]]))
    unknown = Batch.from_rows([{"s": "zzz"}], b.timestamps[:3], [[1.0, 2.0, 3.0]])
    assert np.isnan(det.score(unknown).score).all()


def test_statsmodels_method_agrees_with_fast() -> None:
    t = np.arange(0, 6 * 86400, 3600)
    rng = np.random.default_rng(5)
    x = 10 + 3 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 0.3, len(t))
    hist = Batch.from_rows([{"s": "a"}], t, x[None, :])
    fast = STLDetector().fit(hist)
    ref = STLDetector(method="statsmodels").fit(hist)
    assert fast.periods_ == ref.periods_ == (24,)
    assert np.abs(fast.profiles_[0] - ref.profiles_[0]).max() < 0.5


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 60)),
                  elements=st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                                     st.just(np.nan), st.just(0.0))))
def test_any_input_gives_scores_in_range(x: np.ndarray) -> None:
    b = Batch.from_rows([{"s": str(i)} for i in range(len(x))], np.arange(x.shape[1]) * STEP, x)
    with np.errstate(all="ignore"):
        s = STLDetector().fit(b).score(b).score
    assert s.shape == x.shape
    ok = np.isfinite(s)
    assert ((s[ok] >= 0) & (s[ok] <= 1)).all()


def test_tail_calibration_is_monotone_and_inverts() -> None:
    z = np.abs(np.random.default_rng(2).standard_t(4, (3, 5000)))
    cal = TailCalibration().fit(z)
    grid = np.linspace(0, 20, 400)[None, :].repeat(3, 0)
    p = cal.cdf(grid, np.arange(3))
    assert (np.diff(p, axis=1) >= -1e-12).all()
    for q in (0.5, 0.9, 0.99, 0.999):
        back = cal.cdf(cal.quantile(q)[:, None], np.arange(3))[:, 0]
        assert np.allclose(back, q, atol=1e-6)


def test_row_nanquantiles_match_numpy() -> None:
    a = np.random.default_rng(0).normal(size=(4, 101))
    a[1, ::7] = np.nan
    probs = np.array([0.0, 0.25, 0.5, 0.95, 1.0])
    assert np.allclose(row_nanquantiles(a, probs), np.nanquantile(a, probs, axis=1).T)
