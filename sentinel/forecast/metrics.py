"""Self-monitoring of forecasting: fit time per series, series screened out and series that failed.

>>> from prometheus_client import CollectorRegistry
>>> reg = CollectorRegistry()
>>> forecast_metrics(reg) is forecast_metrics(reg)
True
>>> forecast_metrics(reg).failures.labels(watch="w", reason="short_history").inc()
>>> reg.get_sample_value("sentinel_forecast_failures_total", {"watch": "w", "reason": "short_history"})
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from sentinel.telemetry import per_registry

FIT_SECONDS = "sentinel_forecast_fit_seconds"
FAILURES = "sentinel_forecast_failures_total"
SCREENED = "sentinel_forecast_screened_total"



@dataclass(frozen=True)
class ForecastMetrics:
    fit_seconds: Histogram
    failures: Counter
    screened: Counter


@per_registry
def forecast_metrics(registry: CollectorRegistry = REGISTRY) -> ForecastMetrics:
    """The forecasting collectors registered in ``registry`` (created on first use)."""
    return ForecastMetrics(
        fit_seconds=Histogram(
            FIT_SECONDS, "Wall time to select, fit and forecast one series.", ["watch"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=registry,
        ),
        failures=Counter(
            FAILURES.removesuffix("_total"), "Series that could not be forecast, by reason.",
            ["watch", "reason"], registry=registry,
        ),
        screened=Counter(
            SCREENED.removesuffix("_total"),
            "Series skipped by the screen: no plausible trend toward the limit.",
            ["watch"], registry=registry,
        ),
    )
