"""Self-monitoring for the logs path: what was mined, dropped, capped, truncated or failed.

Metrics live in the default registry unless a caller passes its own (tests do,
so counts never leak between them).  Label ``watch`` names the log watch.
Request counts, latency and errors of Elasticsearch queries are in the shared
``sentinel_source_*`` families (:mod:`sentinel.sources.metrics`, source
``elasticsearch``); these are the logs-specific ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from sentinel.telemetry import per_registry


@dataclass(frozen=True)
class LogsMetrics:
    """The ``sentinel_log*`` metric families, registered once per registry."""

    lines: Counter
    truncated: Counter
    templates: Gauge
    merged: Counter
    overflow: Counter
    new_patterns: Counter
    template_series: Gauge
    template_series_dropped: Counter
    messages_sampled: Counter
    sample_truncated: Counter
    docs_written: Counter
    docs_failed: Counter
    state_save_errors: Counter


@per_registry
def logs_metrics(reg: CollectorRegistry) -> LogsMetrics:
    """The metrics bound to ``registry`` (default: the global one), created on first use."""
    return LogsMetrics(
        lines=Counter("sentinel_log_lines_mined", "Log lines masked and mined into templates", ["watch"], registry=reg),
        truncated=Counter(
            "sentinel_log_lines_truncated", "Log lines cut at the maximum line length before mining", ["watch"],
            registry=reg,
        ),
        templates=Gauge("sentinel_log_templates", "Templates currently known per log watch", ["watch"], registry=reg),
        merged=Counter(
            "sentinel_log_templates_merged",
            "Templates merged into an older one of the same shape (a variable first word; lines go to the older id)",
            ["watch"],
            registry=reg,
        ),
        overflow=Counter(
            "sentinel_log_template_overflow_lines",
            "Lines that matched no template after the per-watch template cap was reached",
            ["watch"],
            registry=reg,
        ),
        new_patterns=Counter(
            "sentinel_log_new_patterns", "New error/warning templates reported", ["watch"], registry=reg
        ),
        template_series=Gauge(
            "sentinel_log_template_series", "(group, template) count series scored per log watch", ["watch"],
            registry=reg,
        ),
        template_series_dropped=Counter(
            "sentinel_log_template_series_dropped",
            "(group, template) pairs not scored because the watch reached logs.max_template_series",
            ["watch"],
            registry=reg,
        ),
        messages_sampled=Counter(
            "sentinel_elasticsearch_messages_sampled", "Raw messages fetched for template mining", ["watch"],
            registry=reg,
        ),
        sample_truncated=Counter(
            "sentinel_elasticsearch_sample_truncated",
            "Cycles whose messages exceeded max_messages_per_cycle (later buckets left missing)",
            ["watch"],
            registry=reg,
        ),
        docs_written=Counter(
            "sentinel_elasticsearch_docs_written", "Log documents bulk-written to Elasticsearch", ["index"],
            registry=reg,
        ),
        docs_failed=Counter(
            "sentinel_elasticsearch_docs_failed", "Log documents Elasticsearch rejected in a bulk write", ["index"],
            registry=reg,
        ),
        state_save_errors=Counter(
            "sentinel_log_state_save_errors",
            "Failed writes of a log watch's template state (kept in memory, written again next cycle)",
            ["watch"],
            registry=reg,
        ),
    )
