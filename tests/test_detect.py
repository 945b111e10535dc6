"""The default online detector: calibration, causality, degenerate series, robustness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.config import DetectorConfig
from sentinel.detect import build_detector
from sentinel.detect.calibrate import TailCalibrator
from sentinel.series import Batch, concat_time

STEP = 300


def batch(values: np.ndarray, start: int = 1_700_000_000, step: int = STEP) -> Batch:
    values = np.atleast_2d(np.asarray(values, dtype=float))
    ts = start + np.arange(values.shape[1]) * step
    return Batch.from_rows([{"s": str(i)} for i in range(len(values))], ts, values, step=step)


def detector():
    return build_detector(DetectorConfig(kind="default"))


def clean_series(n_series: int, n_steps: int, seed: int = 0) -> np.ndarray:
    """Daily seasonality + noise, a random walk, and noisy counts: what 'normal' looks like."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps) * STEP
    k = n_series // 3
    seasonal = 50 + 20 * np.sin(2 * np.pi * t / 86400)[None, :] + rng.normal(0, 2, (k, n_steps))
    walk = np.cumsum(rng.normal(0, 0.2, (k, n_steps)), axis=1) + rng.normal(0, 1, (k, n_steps))
    counts = rng.poisson(20 + 10 * (1 + np.sin(2 * np.pi * t / 86400)), (n_series - 2 * k, n_steps)).astype(float)
    return np.vstack([seasonal, walk, counts])


# -- calibration ----------------------------------------------------------------


def test_calibrator_alone_is_uniform_on_its_own_distribution() -> None:
    cal = TailCalibrator(half_life=5000)
    rng = np.random.default_rng(3)
    st = cal.init_state(200)
    for _ in range(1500):
        cal.learn(st, rng.standard_t(5, 200), np.ones(200))
    scores = np.concatenate([cal.score(st, rng.standard_t(5, 200)) for _ in range(100)])
    for t in (0.5, 0.8, 0.9, 0.95, 0.99):
        frac = (scores >= t).mean()
        assert abs(frac - (1 - t)) <= 0.25 * (1 - t) + 0.003, (t, frac)


@pytest.mark.parametrize("quiet", [0.0, None])
def test_member_scores_are_calibrated_on_clean_series(quiet: float | None) -> None:
    """Calibrated with the calibrators' quiet bound off; with the default detector's, only conservative."""
    vals = clean_series(30, 6000)
    params = {} if quiet is None else {"quiet": quiet}
    out = build_detector(DetectorConfig(kind="default", params=params)).process(batch(vals))
    assert out.members is not None
    for name, m in out.members.items():
        tail = m[:, 3000:]
        for t in (0.5, 0.7, 0.9, 0.95, 0.99):
            frac = float((tail >= t).mean())
            # calibrated within a factor of ~1.5, or conservative (fewer alarms) in the far tail;
            # "range" is 0 inside the learned range by design, so it can only be conservative;
            # under the quiet bound a statistic scores 0, so the default's member scores are conservative
            low = 0.0 if (name == "range" or quiet is None) else 0.6 if t < 0.95 else 0.2
            assert low * (1 - t) <= frac <= 1.5 * (1 - t), (name, t, frac)


@pytest.mark.parametrize("kind", ["default", "guarded"])
def test_combined_score_is_calibrated_or_conservative_on_clean_series(kind: str) -> None:
    vals = clean_series(30, 5000, seed=1)
    score = build_detector(DetectorConfig(kind=kind)).process(batch(vals)).score[:, 2000:]
    for t in (0.5, 0.9):  # below the decision level: a calibrated tail probability (guarded), conservative
        frac = float((score >= t).mean())  # (default: its members' unremarkable statistics score 0, ``quiet``)
        assert (0.3 * (1 - t) if kind == "guarded" else 0.0) <= frac <= 1.3 * (1 - t), (t, frac)
    frac = float((score >= 0.99).mean())
    if kind == "guarded":  # a tail probability at every level
        assert 0.3 * 0.01 <= frac <= 1.3 * 0.01, frac
    else:  # from 0.99 up a decision scale (reports of new rare events): conservative, never more than nominal
        assert frac <= 1.3 * 0.01, frac
    assert (score >= 0.9999).mean() < 0.001


# -- causality ------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(30, 200),
    cut=st.floats(0.1, 0.9),
    seed=st.integers(0, 10_000),
    gaps=st.floats(0, 0.3),
)
def test_appending_rows_never_changes_earlier_scores(n: int, cut: float, seed: int, gaps: float) -> None:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(0, 1, n)) + rng.standard_cauchy(n) * 0.1
    x[rng.random(n) < gaps] = np.nan
    k = max(1, int(n * cut))
    full = detector().process(batch(x)).score
    prefix = detector().process(batch(x[:k])).score
    np.testing.assert_array_equal(full[:, :k], prefix)


def test_scores_do_not_depend_on_how_the_stream_is_cut() -> None:
    vals = clean_series(6, 900, seed=5)
    b = batch(vals)
    whole = detector().process(b)
    det = detector()
    parts = [det.process(b.window(i, i + 37)) for i in range(0, b.n_steps, 37)]
    np.testing.assert_array_equal(whole.score, np.concatenate([p.score for p in parts], axis=1))
    np.testing.assert_array_equal(whole.expected, np.concatenate([p.expected for p in parts], axis=1))
    one = concat_time([b.window(0, 450), b.window(450)])
    np.testing.assert_array_equal(detector().process(one).score, whole.score)


# -- degenerate series ------------------------------------------------------------


def test_constant_series_is_quiet_then_any_change_is_loud() -> None:
    x = np.full(600, 7.0)
    x[500] = 7.5
    s = detector().process(batch(x)).score[0]
    assert np.nanmax(s[:500]) < 0.9
    assert s[500] > 0.999


def test_all_missing_series_scores_missing_without_error() -> None:
    out = detector().process(batch(np.full((2, 50), np.nan)))
    assert np.isnan(out.score).all()


def test_one_huge_spike_is_flagged_and_does_not_poison_the_baseline() -> None:
    rng = np.random.default_rng(7)
    x = 100 + rng.normal(0, 1, 1500)
    x[1000] = 1e12
    out = detector().process(batch(x))
    s = out.score[0]
    assert s[1000] > 0.9999
    assert (s[1001:] >= 0.99).mean() < 0.03
    assert abs(out.expected[0, 1100] - 100) < 2


def test_step_change_alarms_then_relearns_quickly() -> None:
    rng = np.random.default_rng(8)
    x = np.r_[rng.normal(10, 1, 1000), rng.normal(25, 1, 1000)]
    out = detector().process(batch(x))
    s = out.score[0]
    assert s[1000:1003].max() > 0.9999
    assert (s[1100:] >= 0.99).mean() < 0.03, "re-learned the new level"
    assert abs(out.expected[0, 1200] - 25) < 2


def test_nan_and_inf_are_missing_and_huge_values_do_not_break_state() -> None:
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1, 400)
    x[[50, 51, 52]] = [np.nan, np.inf, -np.inf]
    x[300] = 1e300
    out = detector().process(batch(x))
    assert np.isnan(out.score[0, [50, 51, 52]]).all()
    finite = np.delete(np.arange(400), [50, 51, 52])
    assert np.isfinite(out.score[0, finite]).all()
    assert ((out.score[0, finite] >= 0) & (out.score[0, finite] <= 1)).all()
    assert out.score[0, 300] > 0.9999
    assert np.isfinite(out.expected[0, 399])


def test_band_brackets_expected_and_members_are_reported() -> None:
    out = detector().process(batch(clean_series(3, 300)))
    ok = ~np.isnan(out.expected)
    assert (out.lower[ok] <= out.expected[ok]).all() and (out.expected[ok] <= out.upper[ok]).all()
    assert out.members is not None and set(out.members) == {"residual", "change", "range"}


def test_daily_seasonality_is_learned() -> None:
    rng = np.random.default_rng(11)
    t = np.arange(288 * 14) * STEP
    x = 100 + 40 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 2, len(t))
    out = detector().process(batch(x[None, :], start=0))
    err = np.abs(out.expected[0, -288:] - (100 + 40 * np.sin(2 * np.pi * t[-288:] / 86400)))
    assert np.median(err) < 3


def test_state_is_small_per_series() -> None:
    det = detector()
    det.process(batch(clean_series(30, 10)))
    assert det.state_bytes() / 30 <= 4096


def test_unknown_kind_and_params_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown detector kind"):
        build_detector(DetectorConfig(kind="nope"))
    with pytest.raises(ValueError, match="unknown parameter"):
        build_detector(DetectorConfig(kind="default", params={"bogus": 1}))
