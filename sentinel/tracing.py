"""OpenTelemetry traces of sentinel's own cycles, exported over OTLP/HTTP.

With ``tracing.otlp_endpoint`` set (e.g. ``http://127.0.0.1:4318/v1/traces``;
Jaeger ingests OTLP natively since 1.35), every watch cycle is one span
``sentinel.cycle`` with child spans for its stages (fetch, score, decide,
notify, checkpoint) and attributes (watch, series, steps, events, outcome).
Without it, spans are no-ops and cost nothing.  The deprecated Jaeger
exporter is deliberately not used (DESIGN §3).

>>> t = Tracing.from_config(None)
>>> with t.span("sentinel.cycle", watch="w") as s:
...     s.set_attribute("series", 3)
>>> t.enabled
False
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from sentinel.config import TracingConfig


class Tracing:
    """A tracer with its own provider (never the global one, so tests and embedders stay isolated)."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("sentinel") if provider else trace.NoOpTracer()

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    @classmethod
    def from_config(cls, cfg: TracingConfig | None, exporter: SpanExporter | None = None) -> Tracing:
        """OTLP/HTTP export to ``cfg.otlp_endpoint``; ``exporter`` overrides it (tests)."""
        if exporter is None:
            if cfg is None or not cfg.otlp_endpoint:
                return cls(None)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=cfg.otlp_endpoint, timeout=5)
        name = cfg.service_name if cfg else "sentinel"
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=1000))
        return cls(provider)

    @contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[trace.Span]:
        """A span (child of the current one); exceptions are recorded and re-raised."""
        with self.tracer.start_as_current_span(name, attributes=attributes) as s:
            yield s

    def stage(self, name: str, start_ns: int, end_ns: int, **attributes: Any) -> None:
        """A finished child span from measured times (stages timed inside the watch runner)."""
        s = self.tracer.start_span(name, start_time=start_ns, attributes=attributes)
        s.end(end_time=end_ns)

    def stages(self, timings: dict[str, float], start_ns: int, **attributes: Any) -> None:
        """Child spans for a cycle's stages, laid end to end from ``start_ns`` (durations in seconds)."""
        if not self.enabled:
            return
        t = start_ns
        for stage, seconds in timings.items():
            d = int(seconds * 1e9)
            self.stage(f"sentinel.{stage}", t, t + d, **attributes)
            t += d

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        if self.provider is not None:
            self.provider.force_flush(5000)
            self.provider.shutdown()
