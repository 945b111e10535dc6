"""Forecast every series of a batch: the result the policy, the exporter and reports read.

One :class:`BatchForecast` holds, per series, the forecast at a few named
horizons (``yhat``/``lower``/``upper``), the time to limit (NaN: not within
the horizon) and the probability of crossing within the horizon, as numpy
arrays over series, ready for the /metrics exporter:
``collector.update_forecast(**bf.exporter_args())``.

>>> import numpy as np
>>> from sentinel.config import ForecastConfig
>>> from sentinel.series import Batch
>>> t = np.arange(0, 86400, 300)
>>> b = Batch.from_rows([{"m": "/"}, {"m": "/data"}], t,
...                     [300.0 - t / 300.0, 500.0 + np.sin(t / 3000.0)])
>>> bf = forecast_batch(b, ForecastConfig(horizon="12h", limit=0), watch="disk")
>>> bf.time_to_limit.tolist(), bf.probability.tolist()   # 13 left at -1 per 5 min: 65 min
([3900.0, nan], [1.0, 0.0])
>>> sorted(bf.yhat), round(float(bf.yhat["1h"][0]), 1)
(['1h', '6h'], 1.0)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry

from sentinel.config import ForecastConfig
from sentinel.forecast.forecaster import MIN_SAMPLES, Forecaster
from sentinel.forecast.metrics import forecast_metrics
from sentinel.forecast.screen import screen
from sentinel.forecast.threads import single_threaded_blas
from sentinel.series import Batch, Labels

EXPORT_HORIZONS: tuple[tuple[str, int], ...] = (("1h", 3600), ("6h", 6 * 3600), ("24h", 86400))


@dataclass(frozen=True)
class BatchForecast:
    """Forecasts of every series of one watch, made at ``at`` (the batch's last timestamp)."""

    watch: str
    labels: tuple[Labels, ...]
    at: int
    limit: float | None
    current: np.ndarray
    yhat: dict[str, np.ndarray]
    lower: dict[str, np.ndarray]
    upper: dict[str, np.ndarray]
    time_to_limit: np.ndarray
    """Seconds from ``at``; NaN when the limit is not crossed within the horizon (or no limit)."""
    probability: np.ndarray
    """P(crossing within the horizon); NaN without a limit or a forecast."""
    direction: np.ndarray
    """+1 (limit above), -1 (below), 0 unknown."""
    methods: tuple[str, ...]
    """Chosen member per series ('' when the series could not be forecast)."""

    def exporter_args(self) -> dict[str, object]:
        """Keyword arguments for ``ResultCollector.update_forecast``."""
        ok = np.array([bool(m) for m in self.methods])
        horizons = {k: np.where(ok, v, np.nan) for k, v in self.yhat.items()}
        return {"watch": self.watch, "labels": self.labels, "at": self.at, "horizons": horizons,
                "time_to_limit": self.time_to_limit if self.limit is not None else None}


def forecast_batch(
    batch: Batch,
    cfg: ForecastConfig,
    watch: str,
    horizons: tuple[tuple[str, int], ...] = EXPORT_HORIZONS,
    level: float = 0.95,
    registry: CollectorRegistry = REGISTRY,
) -> BatchForecast:
    """Fit one forecaster per series (the last ``cfg.history`` of the batch) and collect the results.

    A series that cannot be forecast (too short, constant failures) gets NaN
    everywhere and is counted in ``sentinel_forecast_failures_total``; it
    never stops the others.  With a limit, series that cannot plausibly reach
    it are screened out first (:mod:`sentinel.forecast.screen`) and get the
    plain least-squares line as forecast, no runway and probability 0.
    """
    metrics = forecast_metrics(registry)
    n = batch.n_series
    keep = batch.timestamps > batch.end - cfg.history
    ts, values = batch.timestamps[keep], batch.values[:, keep]
    names = [name for name, secs in horizons if secs <= cfg.horizon]
    yhat = {k: np.full(n, np.nan) for k in names}
    lower = {k: np.full(n, np.nan) for k in names}
    upper = {k: np.full(n, np.nan) for k in names}
    ttl = np.full(n, np.nan)
    prob = np.full(n, np.nan)
    way = np.zeros(n)
    methods = [""] * n
    fit = np.ones(n, dtype=bool)
    if cfg.limit is not None and len(ts) >= 2:
        fit, line = screen(ts, values, cfg.limit, cfg.direction, cfg.horizon)
        fit |= np.isfinite(values).sum(axis=1) < MIN_SAMPLES  # the forecaster says why it cannot
        for name, secs in horizons:
            if name in yhat:
                yhat[name][~fit] = line(batch.end + secs)[~fit]
        prob[~fit] = 0.0
        for s in np.flatnonzero(~fit):
            methods[s] = "screened"
        metrics.screened.labels(watch=watch).inc(int((~fit).sum()))
    with single_threaded_blas():  # once for the batch rather than per fit (see threads.py)
        for s in np.flatnonzero(fit):
            f = Forecaster(cfg.method, level=level)
            t0 = time.perf_counter()
            try:
                fc = f.forecast(ts, values[s], cfg.horizon)
            except ValueError as exc:
                reason = "short_history" if "at least" in str(exc) else "fit_failed"
                metrics.failures.labels(watch=watch, reason=reason).inc()
                continue
            metrics.fit_seconds.labels(watch=watch).observe(time.perf_counter() - t0)
            methods[s] = f.method_
            for name, secs in horizons:
                if name in yhat:
                    j = min(len(fc.yhat), max(1, secs // batch.step)) - 1
                    yhat[name][s], lower[name][s], upper[name][s] = fc.yhat[j], fc.lower[j], fc.upper[j]
            if cfg.limit is not None:
                res = f.time_to_limit(cfg.limit, cfg.direction)
                ttl[s] = np.nan if res.seconds is None else res.seconds
                prob[s] = res.probability
                way[s] = 1 if res.direction == "up" else -1
    last = np.where(np.isfinite(values).any(axis=1), _last_valid(values), np.nan)
    return BatchForecast(watch, batch.labels, batch.end, cfg.limit, last, yhat, lower, upper, ttl, prob, way,
                         tuple(methods))


def _last_valid(values: np.ndarray) -> np.ndarray:
    has = np.isfinite(values)
    idx = values.shape[1] - 1 - np.argmax(has[:, ::-1], axis=1)
    return values[np.arange(values.shape[0]), idx]
