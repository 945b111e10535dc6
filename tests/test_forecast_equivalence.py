"""The cheap paths of forecasting give the same numbers: single-threaded BLAS, thinned error quantiles and
the plain-float Holt recursion."""

from __future__ import annotations

import contextlib
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from threadpoolctl import threadpool_info

from sentinel.config import ForecastConfig
from sentinel.forecast import Forecaster
from sentinel.forecast.intervals import _MAX_Z, _thin
from sentinel.forecast.members import _optimised_params, holt_states
from sentinel.forecast.result import forecast_batch
from sentinel.forecast.threads import single_threaded_blas
from sentinel.series import Batch


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_limit_applies_inside_and_is_restored_after() -> None:
    before = _blas_threads()
    with single_threaded_blas():
        assert _blas_threads() <= {1}
        with single_threaded_blas():  # nested: still limited, and the inner exit does not restore
            pass
        assert _blas_threads() <= {1}
    assert _blas_threads() == before


def test_a_forecasting_thread_leaves_no_limit_behind() -> None:
    """Each thread limits and restores its own setting; nothing stays limited once the threads are done."""
    before = _blas_threads()
    seen: list[set[int]] = []

    def other() -> None:
        with single_threaded_blas():
            seen.append(_blas_threads())
        seen.append(_blas_threads())

    threads = [threading.Thread(target=other) for _ in range(3)]
    for th in threads:
        th.start()
    with single_threaded_blas():
        assert _blas_threads() <= {1}
    for th in threads:
        th.join(10)
    assert len(seen) == 6
    assert _blas_threads() == before


def test_forecast_batch_restores_threads_even_when_a_fit_fails() -> None:
    before = _blas_threads()
    t = np.arange(0, 86400, 300)
    b = Batch.from_rows([{"m": "/"}, {"m": "/x"}], t, [300.0 - t / 300.0, np.full(len(t), np.nan)])
    bf = forecast_batch(b, ForecastConfig(horizon="12h", limit=0), watch="disk", registry=CollectorRegistry())
    assert bf.methods[0] and not bf.methods[1]
    assert _blas_threads() == before


def test_single_threaded_fit_is_the_multithreaded_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same member, same scores, same path as a fit with the default BLAS threads (ETS fits use L-BFGS)."""
    from sentinel.forecast import forecaster as mod

    t = np.arange(0, 2 * 86400, 300)
    rng = np.random.default_rng(3)
    y = 500 + 0.3 * np.arange(len(t)) + np.cumsum(rng.normal(0, 1, len(t))) + 10 * np.sin(2 * np.pi * t / 86400)
    limited = Forecaster().fit(t, y, 24 * 3600)
    monkeypatch.setattr(mod, "single_threaded_blas", contextlib.nullcontext)
    free = Forecaster().fit(t, y, 24 * 3600)
    assert limited.method_ == free.method_
    assert limited.scores_ == free.scores_
    np.testing.assert_array_equal(limited.path().upper, free.path().upper)


@settings(max_examples=40, deadline=None)
@given(st.integers(_MAX_Z + 1, 30_000), st.integers(0, 2**32 - 1))
def test_thinned_quantiles_are_numpys_bit_for_bit(n: int, seed: int) -> None:
    z = np.sort(np.random.default_rng(seed).standard_t(3, size=n))
    np.testing.assert_array_equal(_thin(z), np.quantile(z, np.linspace(0, 1, _MAX_Z)))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 600), st.floats(1e-4, 0.9999), st.floats(0, 1), st.floats(0.8, 0.995), st.booleans(),
       st.sampled_from([1.0, 1e9]), st.integers(0, 2**32 - 1))
def test_holt_states_are_statsmodels_bit_for_bit(n: int, alpha: float, share: float, phi: float, damped: bool,
                                                 scale: float, seed: int) -> None:
    y = np.cumsum(np.random.default_rng(seed).normal(size=n)) * scale
    beta, phi = alpha * share, phi if damped else 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ExponentialSmoothing(y, trend="add", damped_trend=damped, initialization_method="known",
                                   initial_level=float(y[0]), initial_trend=0.5 * scale).fit(
            optimized=False, smoothing_level=alpha, smoothing_trend=beta, **({"damping_trend": phi} if damped else {}))
    level, trend = holt_states(y, alpha, beta, phi, float(y[0]), 0.5 * scale)
    np.testing.assert_array_equal(level, res.level)
    np.testing.assert_array_equal(trend, res.trend)


@settings(max_examples=25, deadline=None)
@given(st.integers(10, 700), st.booleans(), st.sampled_from([1.0, 1e9]), st.integers(0, 2**32 - 1))
def test_optimised_params_are_statsmodels_fit_bit_for_bit(n: int, damped: bool, scale: float, seed: int) -> None:
    y = np.cumsum(np.random.default_rng(seed).normal(size=n)) * scale + 5 * scale

    def model() -> ExponentialSmoothing:
        return ExponentialSmoothing(y, trend="add", damped_trend=damped, initialization_method="estimated")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = dict(model().fit(use_brute=False).params)
        got = _optimised_params(model())
    keys = ["smoothing_level", "smoothing_trend", "initial_level", "initial_trend"] + (["damping_trend"] * damped)
    assert [np.float64(got[k]) for k in keys] == [np.float64(want[k]) for k in keys]
