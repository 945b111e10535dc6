"""The candidate forecasters, each able to forecast from many origins at once.

Model choice is made by rolling-origin validation (see ``select.py``), which
needs forecasts from dozens of origins per member.  Refitting at every
origin would cost seconds per series, so every member splits into

- ``fit(y)``: estimate parameters on a training prefix (the only optimisation);
- ``forecasts(y, origins, h)``: with those parameters fixed, run the causal
  filter once over the whole series and read the ``h``-step forecast made at
  each origin from the filtered state (the forecast at origin ``o`` uses
  ``y[: o + 1]`` only).

Members: seasonal-naive (the reference), robust linear trend (Theil-Sen-style
median of slopes over a recent window), a least-squares line since the last
detected change of level or slope (``changepoint.py``: the leak that starts
after a deploy), the mean level of a saw-tooth moving with its troughs
(``sawtooth.py``: a leak under garbage collection; saw-tooth series only),
a quadratic trend (acceleration),
damped and undamped trend exponential smoothing, damped Holt-Winters with a
daily season, and a robust seasonal decomposition (daily + weekly) with a
damped, linear or since-the-change trend on the adjusted series.
``y`` is gap-filled by the caller; members see no NaN.

>>> y = np.arange(48, dtype=float)
>>> RobustLinear(12).fit(y[:24]).forecasts(y, np.array([23, 47]), 2).tolist()
[[24.0, 25.0], [48.0, 49.0]]
>>> SeasonalNaive(4).forecasts(y, np.array([23]), 5).tolist()
[[20.0, 21.0, 22.0, 23.0, 20.0]]
"""

from __future__ import annotations

import warnings
from typing import Protocol, Self

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from sentinel.forecast.changepoint import ChangepointLinear
from sentinel.forecast.sawtooth import SawtoothFloor
from sentinel.forecast.seasonal import seasonal_component, seasonal_profiles


class Member(Protocol):
    """A candidate forecaster (see the module docstring for the two-phase contract)."""

    name: str
    min_origin: int
    """Smallest origin index this member can forecast from."""

    def fit(self, y: np.ndarray) -> Self: ...

    def forecasts(self, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray: ...


def _seasonal_index(origins: np.ndarray, h: int, m: int) -> np.ndarray:
    """Index of the last observed sample in the same phase as each target ``o + 1 + j``."""
    j = np.arange(h)
    return origins[:, None] + 1 + j - m * (j // m + 1)


class SeasonalNaive:
    """Repeat the last cycle (last value when ``m == 1``): the MASE reference."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.name = f"seasonal_naive({m})" if m > 1 else "naive"
        self.min_origin = m - 1

    def fit(self, y: np.ndarray) -> Self:
        return self

    def forecasts(self, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
        return y[_seasonal_index(origins, h, self.m)]


class RobustLinear:
    """Straight line through the last ``window`` samples, robust to spikes.

    Slope = median of the slopes between samples half a window apart
    (a Theil-Sen estimator on disjoint pairs: O(window), and a single outlier
    moves it by at most one rank); level = median residual at the origin.
    This is what ``predict_linear`` should have been.
    """

    def __init__(self, window: int) -> None:
        self.window = max(4, window)
        self.name = f"linear({self.window})"
        self.min_origin = self.window - 1

    def fit(self, y: np.ndarray) -> Self:
        return self

    def forecasts(self, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
        w = self.window
        lag = w // 2
        win = sliding_window_view(y, w)[origins - w + 1]
        slope = np.median((win[:, lag:] - win[:, : w - lag]) / lag, axis=1)
        t = np.arange(w) - (w - 1)
        level = np.median(win - slope[:, None] * t, axis=1)
        return level[:, None] + slope[:, None] * np.arange(1, h + 1)


class Quadratic:
    """Least-squares parabola through the last ``window`` samples: growth that accelerates (a leak
    that speeds up, compounding usage).  Validation keeps it away from series where it overshoots."""

    def __init__(self, window: int) -> None:
        self.window = max(6, window)
        self.name = f"quadratic({self.window})"
        self.min_origin = self.window - 1

    def fit(self, y: np.ndarray) -> Self:
        return self

    def forecasts(self, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
        w = self.window
        x = (np.arange(w) - (w - 1)) / w  # scaled: well-conditioned normal equations
        coef = np.linalg.pinv(np.column_stack([np.ones(w), x, x * x])) @ sliding_window_view(y, w)[origins - w + 1].T
        xf = np.arange(1, h + 1) / w
        return coef[0][:, None] + coef[1][:, None] * xf + coef[2][:, None] * xf * xf


def _optimised_params(model: ExponentialSmoothing) -> dict[str, float | np.ndarray]:
    """``dict(model.fit(use_brute=False).params)`` for a trend-only model, bit for bit, at ~60 % of the CPU.

    ``fit`` runs the optimiser, then an in-sample pass in Python and builds
    a results object with information criteria and tables, none of which
    the forecaster reads.  This runs the optimiser alone, through the same
    private entry point ``fit`` uses (statsmodels 0.14), and reports the
    parameters as ``fit`` does (its initial trend comes back as
    ``(b0 * phi) / phi``).  Another statsmodels version without that entry
    point gets the public ``fit``.
    """
    try:
        from statsmodels.tsa.holtwinters.model import _OptConfig

        cfg = _OptConfig()
        cfg.alpha = cfg.beta = cfg.gamma = cfg.level = cfg.trend = cfg.seasonal = None
        cfg.phi = None if model.damped_trend else 1.0
        cfg.y, cfg.params, cfg.mle_retvals, cfg.mask = model._y, None, None, None
        res = model._optimize_parameters(cfg, False, "L-BFGS-B", {})
    except (ImportError, AttributeError, TypeError):
        return dict(model.fit(use_brute=False).params)
    phi = res.phi
    return {"smoothing_level": res.alpha, "smoothing_trend": res.beta,
            "damping_trend": phi if model.damped_trend else np.nan, "initial_level": res.level,
            "initial_trend": res.trend * phi / phi if phi > 0 else 0}


def holt_states(
    y: np.ndarray, alpha: float, beta: float, phi: float, l0: float, b0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Level and trend after each sample of additive-trend smoothing with fixed parameters.

    Operation for operation the recursion of statsmodels'
    ``ExponentialSmoothing(..., initialization_method="known").fit(optimized=False)``
    (``res.level``, ``res.trend``), so the numbers are the same to the last
    bit, without building a model and its results: that cost about 14 ms per
    call, a fifth of the demo's forecasting, for a loop of float operations.

    >>> level, trend = holt_states(np.array([1.0, 2.0, 3.0]), 0.5, 0.1, 1.0, 0.0, 1.0)
    >>> level.tolist(), [round(b, 4) for b in trend.tolist()]
    ([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    """
    alpha, beta, phi, lvl, b = float(alpha), float(beta), float(phi), float(l0), float(b0)
    ya = (alpha * np.asarray(y, dtype=np.float64)).tolist()
    alphac, betac = 1 - alpha, 1 - beta
    level, trend = [0.0] * len(ya), [0.0] * len(ya)
    for i, yai in enumerate(ya):
        damped = b * phi
        new = yai + alphac * (lvl + damped)
        b = beta * (new - lvl) + betac * damped
        lvl = new
        level[i], trend[i] = lvl, b
    return np.array(level), np.array(trend)


class HoltWinters:
    """Additive-trend exponential smoothing (damped or not), optionally with an additive season of ``m`` steps."""

    def __init__(self, m: int = 0, damped: bool = True) -> None:
        self.m = m
        self.damped = damped
        kind = "damped" if damped else "trend"
        self.name = f"holt_winters_{kind}({m})" if m else f"ets_{kind}"
        self.min_origin = 0
        self.params_: dict[str, float | np.ndarray] = {}

    def _model(self, y: np.ndarray, **init: object) -> ExponentialSmoothing:
        seasonal = {"seasonal": "add", "seasonal_periods": self.m} if self.m else {}
        return ExponentialSmoothing(y, trend="add", damped_trend=self.damped, **seasonal, **init)

    def fit(self, y: np.ndarray) -> Self:
        init = "heuristic" if self.m else "estimated"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = self._model(y, initialization_method=init)
            self.params_ = dict(model.fit(use_brute=False).params) if self.m else _optimised_params(model)
        return self

    def forecasts(self, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
        p = self.params_
        phi = float(p["damping_trend"]) if self.damped else 1.0
        damp = np.cumsum(phi ** np.arange(1, h + 1))
        if not self.m:
            level, trend = holt_states(y, p["smoothing_level"], p["smoothing_trend"], phi, p["initial_level"],
                                       p["initial_trend"])
            return level[origins, None] + trend[origins, None] * damp
        init: dict[str, object] = {"initial_level": p["initial_level"], "initial_trend": p["initial_trend"]}
        smooth = {k: p[k] for k in ("smoothing_level", "smoothing_trend")}
        if self.damped:
            smooth["damping_trend"] = p["damping_trend"]
        if self.m:
            init["initial_seasonal"] = p["initial_seasons"]
            smooth["smoothing_seasonal"] = p["smoothing_seasonal"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = self._model(y, initialization_method="known", **init).fit(optimized=False, **smooth)
        out = res.level[origins, None] + res.trend[origins, None] * damp
        return out + res.season[_seasonal_index(origins, h, self.m)]


class Decomposed:
    """Seasonal profiles (daily, weekly) removed, ``inner`` forecasts the adjusted series, profiles added back."""

    def __init__(self, inner: Member, periods: tuple[int, ...]) -> None:
        self.inner = inner
        self.periods = periods
        self.name = f"decomposed{tuple(periods)}+{inner.name}"
        self.min_origin = inner.min_origin
        self.profiles_: list[np.ndarray] = []

    def fit(self, y: np.ndarray) -> Self:
        self.profiles_ = seasonal_profiles(y, self.periods)
        self.inner.fit(y - seasonal_component(self.profiles_, self.periods, 0, len(y)))
        return self

    def forecasts(self, y: np.ndarray, origins: np.ndarray, h: int) -> np.ndarray:
        season = seasonal_component(self.profiles_, self.periods, 0, len(y) + h)
        base = self.inner.forecasts(y - season[: len(y)], origins, h)
        return base + season[origins[:, None] + 1 + np.arange(h)]


def candidates(step: int, n_train: int, periods: tuple[int, ...]) -> list[Member]:
    """The members worth trying for a series with this step, training length and usable periods."""
    day = periods[0] if periods else 1
    short, long = (max(12, -(-seconds // step)) for seconds in (6 * 3600, 48 * 3600))
    windows = sorted({min(w, n_train) for w in (short, long)})
    members: list[Member] = [SeasonalNaive(day), HoltWinters(), HoltWinters(damped=False)]
    members += [RobustLinear(w) for w in windows]
    members += [Quadratic(windows[-1]), ChangepointLinear(short), SawtoothFloor(short // 2)]
    if periods:
        members += [
            HoltWinters(day),
            Decomposed(HoltWinters(), periods),
            Decomposed(RobustLinear(windows[-1]), periods),
            Decomposed(ChangepointLinear(short), periods),
        ]
    return [m for m in members if m.min_origin < n_train]
