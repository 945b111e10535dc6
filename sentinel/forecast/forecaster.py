"""The forecaster: history in, forecast with honest intervals and time to limit out.

>>> import numpy as np
>>> t = np.arange(0, 2 * 86400, 300)
>>> y = 1000.0 - t / 300 + np.random.default_rng(1).normal(0, 2, len(t))   # disk: -1 per 5 min
>>> f = Forecaster()
>>> fc = f.forecast(t, y, horizon=48 * 3600)
>>> len(fc.yhat), int(fc.timestamps[0] - t[-1]), f.method_
(576, 300, 'changepoint_linear(72)')
>>> ttl = f.time_to_limit(0.0)       # ~421 left, -1 per step: 35.1 h
>>> ttl.direction, abs(ttl.seconds / 3600 - 35.1) < 1, ttl.probability > 0.9
('down', True, True)
>>> f.time_to_limit(500.0, "down")   # already below
TimeToLimit(seconds=0.0, probability=1.0, direction='down')
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Self

import numpy as np

from sentinel.config.watches import MAX_HORIZON_STEPS
from sentinel.forecast.intervals import ErrorModel
from sentinel.forecast.members import candidates
from sentinel.forecast.seasonal import seasonal_periods
from sentinel.forecast.select import ValidationPlan, validate
from sentinel.forecast.threads import single_threaded_blas
from sentinel.timegrid import place

log = logging.getLogger(__name__)

Direction = Literal["up", "down", "auto"]
MIN_SAMPLES = 4
MAX_ABS_VALUE = 1e150
"""Larger values are refused: the members' sums of squares would overflow float64 (inf/NaN fits)."""

_METHODS = {
    "auto": "",
    "naive": "naive",
    "seasonal_naive": "seasonal_naive",
    "linear": "linear",
    "changepoint": "changepoint",
    "sawtooth": "sawtooth",
    "quadratic": "quadratic",
    "ets": "ets_",
    "holt_winters": "holt_winters",
    "decomposed": "decomposed",
}


@dataclass(frozen=True)
class Forecast:
    """A forecast path: one row per future step after the last sample."""

    timestamps: np.ndarray
    yhat: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    method: str


@dataclass(frozen=True)
class TimeToLimit:
    """Seconds from the last sample until the median forecast crosses the limit (None: not within
    the horizon; 0: already beyond it) and the probability of crossing within the horizon."""

    seconds: float | None
    probability: float
    direction: Literal["up", "down"]


def to_grid(timestamps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Place samples on a regular grid, NaN at missing steps.  Raises ValueError on bad timestamps.

    The rule is :func:`sentinel.timegrid.place`, the one CSV files follow: the
    median spacing is the step, whole multiples of it are gaps, irregular
    samples are a sequence at that step ending at the last sample, and a grid
    mostly made of gaps is refused.

    >>> t, y, step = to_grid(np.array([0, 60, 180]), np.array([1.0, 2.0, 4.0]))
    >>> t.tolist(), y.tolist(), step
    ([0, 60, 120, 180], [1.0, 2.0, nan, 4.0], 60)
    >>> to_grid(np.array([0, 59, 121, 200]), np.arange(4.0))[0].tolist()  # irregular: step 62, ends at 200
    [14, 76, 138, 200]
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    vals = np.asarray(values, dtype=np.float64)
    if ts.ndim != 1 or ts.shape != vals.shape:
        raise ValueError("timestamps and values must be 1-D and of equal length")
    if len(ts) < 2:
        raise ValueError(f"need at least {MIN_SAMPLES} samples, got {len(ts)}")
    diffs = np.diff(ts)
    if (diffs == 0).any():
        raise ValueError(f"duplicate timestamp {int(ts[1:][diffs == 0][0])}")
    if (diffs < 0).any():
        raise ValueError(f"timestamps are not sorted (at {int(ts[1:][diffs < 0][0])})")
    placed = place(ts)
    if placed.irregular:
        log.warning("irregular timestamps: forecast as a sequence at the median step of %ds", placed.step)
    y = np.full(len(placed.grid), np.nan)
    y[placed.cells] = np.where(np.isfinite(vals), vals, np.nan)
    return placed.forecast_grid, y, placed.step


class Forecaster:
    """Choose a member by rolling-origin validation, forecast, and calibrate intervals on its errors.

    ``method`` restricts the candidates (``auto`` tries all: seasonal-naive,
    damped and undamped trend ETS, robust linear and quadratic trends, a
    line since the last detected change of level or slope, on a saw-tooth
    its level moving with its troughs and, with two days of training data,
    damped Holt-Winters and seasonal decomposition + trend; see
    ``members.py``, ``changepoint.py`` and ``sawtooth.py``).  ``level`` is the central
    coverage of ``lower``/``upper``.
    """

    def __init__(self, method: str = "auto", level: float = 0.95, max_origins: int = 100) -> None:
        if method not in _METHODS:
            raise ValueError(f"unknown forecast method {method!r}: use one of {', '.join(_METHODS)}")
        if not 0 < level < 1:
            raise ValueError("level must be in (0, 1)")
        self.method = method
        self.level = level
        self.max_origins = max_origins

    def fit(self, timestamps: np.ndarray, values: np.ndarray, horizon: int) -> Self:
        """Fit on the history for forecasts ``horizon`` seconds ahead.  Raises ValueError on bad input."""
        grid, observed, step = to_grid(timestamps, values)
        n_valid = int(np.isfinite(observed).sum())
        if n_valid < MIN_SAMPLES:
            raise ValueError(f"need at least {MIN_SAMPLES} numeric samples, got {n_valid}")
        peak = float(np.nanmax(np.abs(observed)))
        if peak > MAX_ABS_VALUE:
            raise ValueError(f"values up to ±{MAX_ABS_VALUE:.0e} can be forecast, got {peak:.3g}: "
                             "rescale the series (e.g. to larger units)")
        if horizon < step:
            raise ValueError(f"horizon {horizon}s is shorter than the sampling step {step}s")
        if horizon // step > MAX_HORIZON_STEPS:
            raise ValueError(f"horizon {horizon}s is {horizon // step} steps of {step}s; at most {MAX_HORIZON_STEPS}")
        h = int(horizon // step)
        idx = np.arange(len(observed))
        ok = np.isfinite(observed)
        filled = np.interp(idx, idx[ok], observed[ok])
        plan = ValidationPlan.make(len(filled), h, self.max_origins)
        periods = seasonal_periods(step, plan.train)
        prefix = _METHODS[self.method]
        members = [m for m in candidates(step, plan.train, periods) if m.name.startswith(prefix)]
        if not members:
            raise ValueError(f"method {self.method!r} needs a longer history")
        with single_threaded_blas():  # thousands of tiny BLAS calls: threads only cost (see threads.py)
            val = validate(members, filled, observed, plan, h)
        self.step_ = step
        self.last_timestamp_ = int(grid[-1])
        self.last_value_ = float(observed[ok][-1])
        self.nonnegative_ = bool(observed[ok].min() >= 0)
        self.method_ = val.member.name
        self.scores_ = val.scores
        self.errors_ = ErrorModel.fit(val.residuals)
        self.yhat_ = val.final
        self.scale_ = self.errors_.scale(h)
        return self

    def forecast(self, timestamps: np.ndarray, values: np.ndarray, horizon: int) -> Forecast:
        """Fit on the history and return the forecast path for ``horizon`` seconds."""
        self.fit(timestamps, values, horizon)
        return self.path()

    def path(self, level: float | None = None) -> Forecast:
        """The fitted forecast path with a central ``level`` interval (default: the forecaster's).

        A series whose history never went below zero gets its path and
        bounds clipped at zero (time to limit still uses the unclipped path).
        """
        lvl = self.level if level is None else level
        zlo, zhi = self.errors_.quantiles(lvl, len(self.yhat_))
        ts = self.last_timestamp_ + self.step_ * np.arange(1, len(self.yhat_) + 1, dtype=np.int64)
        yhat, lower, upper = self.yhat_, self.yhat_ + zlo * self.scale_, self.yhat_ + zhi * self.scale_
        if self.nonnegative_:  # queue depths, token rates, bytes: a history that never went below 0 won't
            yhat, lower, upper = np.maximum(yhat, 0), np.maximum(lower, 0), np.maximum(upper, 0)
        return Forecast(ts, yhat, lower, upper, lvl, self.method_)

    def time_to_limit(self, limit: float, direction: Direction = "auto") -> TimeToLimit:
        """When the median forecast crosses ``limit``, and P(crossing within the horizon).

        ``auto`` reads the direction from where the limit lies relative to the
        last observed value.  The probability is the largest per-step
        probability of being beyond the limit (a lower bound on crossing by
        then, and exact for monotone paths).
        """
        cur = self.last_value_
        up = limit >= cur if direction == "auto" else direction == "up"
        way: Literal["up", "down"] = "up" if up else "down"
        if (cur >= limit) if up else (cur <= limit):
            return TimeToLimit(0.0, 1.0, way)
        std = (limit - self.yhat_) / self.scale_
        probs = self.errors_.prob_above(std) if up else self.errors_.prob_below(std)
        beyond = (self.yhat_ >= limit) if up else (self.yhat_ <= limit)
        seconds = None
        if beyond.any():
            j = int(np.argmax(beyond))
            prev = cur if j == 0 else float(self.yhat_[j - 1])
            frac = (limit - prev) / (float(self.yhat_[j]) - prev) if self.yhat_[j] != prev else 1.0
            seconds = (j + min(max(frac, 0.0), 1.0)) * self.step_
        return TimeToLimit(seconds, float(probs.max()), way)
