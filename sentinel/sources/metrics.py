"""Self-monitoring metrics shared by every source, so /metrics shows source trouble by name.

One set of collectors per registry (prometheus_client refuses to register a
name twice), created on first use and shared by every source instance:

>>> from prometheus_client import CollectorRegistry
>>> reg = CollectorRegistry()
>>> source_metrics(reg) is source_metrics(reg)
True
>>> source_metrics(reg).requests.labels(source="prometheus", watch="w", outcome="ok").inc()
>>> reg.get_sample_value("sentinel_source_requests_total", {"source": "prometheus", "watch": "w", "outcome": "ok"})
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from sentinel.telemetry import per_registry


@dataclass(frozen=True)
class SourceMetrics:
    requests: Counter
    request_duration: Histogram
    retries: Counter
    errors: Counter
    series: Gauge
    series_dropped: Counter
    nonfinite_samples: Counter
    counter_resets: Counter
    target_lookups: Counter




@per_registry
def source_metrics(registry: CollectorRegistry = REGISTRY) -> SourceMetrics:
    """The shared source collectors registered in ``registry`` (created once)."""
    kw = {"registry": registry}
    metrics = SourceMetrics(
        requests=Counter(
            "sentinel_source_requests",
            "HTTP requests to a source, by outcome (ok, http_5xx, http_4xx, timeout, connection, bad_response).",
            ["source", "watch", "outcome"],
            **kw,
        ),
        request_duration=Histogram(
            "sentinel_source_request_duration_seconds",
            "Wall time of one request to a source, including the server's query time.",
            ["source", "watch"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            **kw,
        ),
        retries=Counter(
            "sentinel_source_retries", "Requests retried after a transient failure.", ["source", "watch"], **kw
        ),
        errors=Counter(
            "sentinel_source_errors",
            "Fetches that failed after retries (the cycle got no data), by reason.",
            ["source", "watch", "reason"],
            **kw,
        ),
        series=Gauge(
            "sentinel_source_series", "Series returned by the last successful fetch.", ["source", "watch"], **kw
        ),
        series_dropped=Counter(
            "sentinel_source_series_dropped",
            "Series dropped because a watch returned more than its series cap (label explosion).",
            ["source", "watch"],
            **kw,
        ),
        nonfinite_samples=Counter(
            "sentinel_source_nonfinite_samples",
            "Samples that were NaN or +-Inf at the source and were treated as missing.",
            ["source", "watch"],
            **kw,
        ),
        counter_resets=Counter(
            "sentinel_source_reset_repairs",
            "Resets (drops to a lower value) repaired in raw counter series.",
            ["source", "watch"],
            **kw,
        ),
        target_lookups=Counter(
            "sentinel_source_target_lookups",
            "Lookups of vanished series' scrape targets in `up` (sentinel.sources.targets), by outcome: ok, or "
            "failed (their absent alerts page as if every target were still configured).",
            ["source", "watch", "outcome"],
            **kw,
        ),
    )
    return metrics
