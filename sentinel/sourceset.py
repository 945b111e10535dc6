"""Which source serves which watch, built from the config's connection sections.

- a watch with ``logs:`` reads Elasticsearch (:mod:`sentinel.sources.elasticsearch`),
  or the simulated fleet's own logs when the config has only a ``simulator:``
  section (:mod:`sentinel.sources.simulated_logs`);
- otherwise, with a ``prometheus:`` section, the watch's ``query`` is PromQL
  for :mod:`sentinel.sources.prometheus` (a config with PromQL watches and
  neither ``prometheus:`` nor ``simulator:`` is refused, as log watches
  without ``elasticsearch:`` are: sentinel never guesses where to read);
- with only a ``simulator:`` section, ``query`` names a simulated fleet
  signal (:mod:`sentinel.sources.simulated`).

How much history a fresh watch learns from first (its warm-up) follows
the source: ``prometheus.backfill`` or ``simulator.warmup``.

Sources are built on first use and rebuilt only when their section changes.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from sentinel.config import Config, PrometheusConfig, WatchConfig
from sentinel.sources.base import Source


class SourceSet:
    """The sources one daemon uses (see the module docstring)."""

    def __init__(self, config: Config, registry: CollectorRegistry) -> None:
        self.config = config
        self.registry = registry
        self._built: dict[str, Source] = {}

    @property
    def simulated_only(self) -> bool:
        return self.config.prometheus is None and self.config.simulator is not None

    def kind(self, watch: WatchConfig) -> str:
        if watch.logs is not None and (self.config.elasticsearch is not None or not self.simulated_only):
            return "elasticsearch"
        return "simulated" if self.simulated_only else "prometheus"

    def warmup(self, watch: WatchConfig) -> int:
        if self.kind(watch) == "simulated":
            assert self.config.simulator is not None
            return self.config.simulator.warmup
        return (self.config.prometheus or PrometheusConfig()).backfill

    def fleet_start(self) -> int:
        """Where the simulated clock starts on a fresh store: the fleet's own start (clean history before)."""
        return int(self._fleet().start)

    def _fleet(self) -> Any:
        from sentinel.fleet import Fleet

        sim = self.config.simulator
        assert sim is not None
        return Fleet(agents=sim.agents, seed=sim.seed, step=sim.step, incident_rate=sim.incident_rate)

    def for_watch(self, watch: WatchConfig) -> Source:
        kind = self.kind(watch)
        if kind not in self._built:
            self._built[kind] = self._build(kind)
        return self._built[kind]

    def _build(self, kind: str) -> Source:
        if kind == "prometheus":
            from sentinel.sources.prometheus import PrometheusSource

            assert self.config.prometheus is not None, "Config refuses PromQL watches without a prometheus section"
            return PrometheusSource(self.config.prometheus, registry=self.registry)
        if kind == "simulated":
            from sentinel.sources.simulated import SimulatedSource

            return SimulatedSource(self._fleet(), registry=self.registry)
        from sentinel.sources.elasticsearch import ElasticsearchSource

        assert self.config.elasticsearch is not None
        return ElasticsearchSource(self.config.elasticsearch, registry=self.registry)  # type: ignore[return-value]

    def reconfigure(self, config: Config) -> bool:
        """Adopt ``config``; rebuild the sources whose section changed.  True if any was rebuilt."""
        old, self.config = self.config, config
        stale = [k for k in self._built if _section(old, k) != _section(config, k)]
        for k in stale:
            self._built.pop(k).close()
        return bool(stale)

    def close(self) -> None:
        for s in self._built.values():
            s.close()
        self._built.clear()


def _section(config: Config, kind: str) -> Any:
    return {"prometheus": config.prometheus, "simulated": config.simulator,
            "elasticsearch": config.elasticsearch}[kind]
