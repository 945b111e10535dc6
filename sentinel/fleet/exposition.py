"""A live /metrics endpoint for the simulated fleet, on an accelerated clock.

:class:`FleetCollector` is a prometheus_client custom collector: each scrape
advances simulated time to ``sim_start + (wall - wall_start) * speed``,
accumulates the counter and histogram increments of the cells passed since
the previous scrape, and exposes the latest gauge values.  A real Prometheus
can scrape it like any agent runtime; a silent agent's series disappear while
it is silent (Prometheus marks them stale).  A long pause between scrapes
catches up at most ``max_catchup`` simulated seconds (counters simply grow
less), so a forgotten endpoint never stalls a scrape.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from sentinel.fleet.metrics import Family, families
from sentinel.fleet.model import Fleet


class FleetCollector(Collector):
    """The fleet's metric families at the current simulated time."""

    def __init__(
        self,
        fleet: Fleet,
        speed: float = 1.0,
        sim_start: float | None = None,
        clock: Callable[[], float] = time.time,
        max_catchup: int = 86400,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.fleet, self.speed, self._clock, self.max_catchup = fleet, float(speed), clock, int(max_catchup)
        self._wall0 = clock()
        self._sim0 = float(self._wall0 if sim_start is None else sim_start)
        self._lock = threading.Lock()
        self._t: int | None = None
        self._totals: list[np.ndarray] = []
        self._sums: list[np.ndarray | None] = []
        self._latest: list[Family] = []
        reg = REGISTRY if registry is None else registry
        self._duration = Histogram(
            "sentinel_simulator_collect_duration_seconds", "Wall time to advance and expose the simulated fleet.",
            registry=reg,
        )
        self._skipped = Counter(
            "sentinel_simulator_skipped_seconds",
            "Simulated seconds not accumulated because a scrape came after more than max_catchup.",
            registry=reg,
        )

    def now(self) -> float:
        """Current simulated Unix time."""
        return self._sim0 + (self._clock() - self._wall0) * self.speed

    def _advance(self) -> None:
        step = self.fleet.step
        t_now = int(self.now()) // step * step
        first = t_now if self._t is None else self._t + step
        if first > t_now:
            return
        if t_now - first > self.max_catchup:
            self._skipped.inc(t_now - self.max_catchup - first)
            first = t_now - self.max_catchup // step * step
        sig = self.fleet.signals(first, t_now + step, step)
        fams = families(self.fleet, sig, step)
        if self._t is None:
            self._totals = [np.zeros(f.values.shape[:-1]) for f in fams]
            self._sums = [None if f.sums is None else np.zeros(f.sums.shape[0]) for f in fams]
        for i, f in enumerate(fams):
            if f.kind != "gauge":
                self._totals[i] += f.values.sum(axis=-1)
            if f.sums is not None:
                self._sums[i] += f.sums.sum(axis=-1)
        self._latest = fams
        self._t = t_now

    def collect(self) -> Iterator[Metric]:
        t0 = time.perf_counter()
        with self._lock:
            self._advance()
            out = [self._metric(i, f) for i, f in enumerate(self._latest)]
        self._duration.observe(time.perf_counter() - t0)
        yield from out

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def _metric(self, i: int, fam: Family) -> Metric:
        names = list(fam.labels[0]) if fam.labels else []
        present = fam.present[:, -1]
        metric: Metric
        if fam.kind == "counter":
            metric = CounterMetricFamily(fam.name, fam.help, labels=names)
            for s, lb in enumerate(fam.labels):
                if present[s]:
                    metric.add_metric(list(lb.values()), float(np.floor(self._totals[i][s])))
        elif fam.kind == "gauge":
            metric = GaugeMetricFamily(fam.name, fam.help, labels=names)
            for s, lb in enumerate(fam.labels):
                if present[s]:
                    metric.add_metric(list(lb.values()), float(fam.values[s, -1]))
        else:
            metric = HistogramMetricFamily(fam.name, fam.help, labels=names)
            les = [floatToGoString(le) for le in (*fam.buckets, float("inf"))]
            sums = self._sums[i]
            assert sums is not None
            for s, lb in enumerate(fam.labels):
                if present[s]:
                    counts = np.floor(self._totals[i][s]).tolist()
                    metric.add_metric(list(lb.values()), list(zip(les, counts, strict=True)), float(sums[s]))
        return metric


def serve(fleet: Fleet, host: str, port: int, speed: float = 1.0, sim_start: float | None = None,
          registry: CollectorRegistry | None = None) -> tuple[object, FleetCollector, CollectorRegistry]:
    """Start serving ``/metrics`` on ``host:port`` in a daemon thread; returns (server, collector, registry)."""
    reg = CollectorRegistry() if registry is None else registry
    collector = FleetCollector(fleet, speed=speed, sim_start=sim_start, registry=reg)
    reg.register(collector)
    server, _thread = start_http_server(port, addr=host, registry=reg)
    return server, collector, reg
