"""Every ``sentinel_*`` metric the code defines is on the self-monitoring dashboard, or omitted on purpose.

The names come from prometheus_client itself, not from a list kept by hand:
every module under ``sentinel/`` is imported (module-level collectors land in
the default registry), every :func:`~sentinel.telemetry.per_registry` builder
is run against a fresh registry, and the two collectors made elsewhere (the
exporter's per-series families, the simulated fleet's own metrics) are added.
A new metric without a panel query on ``sentinel-self.json`` or an entry in
:data:`OMITTED` fails :func:`test_every_sentinel_metric_is_on_the_self_dashboard_or_omitted`.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import sys
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

import sentinel
from sentinel.fleet.exposition import FleetCollector
from sentinel.fleet.model import Fleet
from sentinel.publish import exporter
from sentinel.publish import metrics as m
from sentinel.telemetry import per_registry

SELF = Path(__file__).resolve().parents[1] / "dashboards" / "sentinel-self.json"

PER_SERIES = "a per-series output: on the watch dashboards (sentinel-watches-*.json), not about sentinel's health"
SIMULATOR = "the simulated fleet's own exporter (`sentinel simulate`), not part of the sentinel daemon"
OMITTED = {
    m.ANOMALY_SCORE: PER_SERIES,
    m.EXPECTED_VALUE: PER_SERIES,
    m.FORECAST_VALUE: PER_SERIES,
    m.TIME_TO_LIMIT: PER_SERIES,
    "sentinel_simulator_collect_duration_seconds": SIMULATOR,
    "sentinel_simulator_skipped_seconds_total": SIMULATOR,
}


def _names(registry: CollectorRegistry) -> set[str]:
    """Exposed family names (counters with their ``_total``) of the ``sentinel_*`` collectors in ``registry``."""
    out = set()
    for family in registry.collect():
        if family.name.startswith("sentinel_"):
            out.add(family.name + "_total" if family.type == "counter" else family.name)
    return out


def defined_metrics() -> set[str]:
    """Every ``sentinel_*`` metric name the code under ``sentinel/`` can expose."""
    for info in pkgutil.walk_packages(sentinel.__path__, "sentinel."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    names = _names(REGISTRY)
    builder = per_registry(lambda registry: None).__code__  # every per_registry wrapper shares this code object
    builders = {obj for name, mod in list(sys.modules.items()) if name.startswith("sentinel.")
                for obj in vars(mod).values() if getattr(obj, "__code__", None) is builder}
    for build in builders:
        registry = CollectorRegistry()
        build(registry)
        names |= _names(registry)
    fleet = CollectorRegistry()
    FleetCollector(Fleet(agents=1, seed=0, step=60, start=0), registry=fleet)
    return names | _names(fleet) | set(exporter._HELP)


def dashboard_exprs() -> list[str]:
    doc = json.loads(SELF.read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


def unaccounted(names: set[str], exprs: list[str], omitted: dict[str, str]) -> list[str]:
    """Names neither queried by a panel (histograms by their ``_bucket``/``_sum``/``_count``) nor omitted."""
    text = "\n".join(exprs)
    return sorted(n for n in names - set(omitted) if not re.search(rf"\b{n}(_bucket|_sum|_count)?\b", text))


@pytest.fixture(scope="module")
def names() -> set[str]:
    return defined_metrics()


def test_metrics_are_found_from_every_kind_of_definition(names: set[str]) -> None:
    """Module-level, per-registry, per-instance and exporter metrics are all collected."""
    assert {"sentinel_retrain_fits_total", m.CYCLE_ERRORS, "sentinel_source_series_dropped_total",
            "sentinel_log_templates", "sentinel_simulator_skipped_seconds_total", m.ANOMALY_SCORE} <= names
    assert len(names) > 60


def test_every_sentinel_metric_is_on_the_self_dashboard_or_omitted(names: set[str]) -> None:
    assert unaccounted(names, dashboard_exprs(), OMITTED) == []


def test_omitted_metrics_exist_and_are_not_on_the_dashboard(names: set[str]) -> None:
    assert set(OMITTED) <= names, "an OMITTED name no longer exists: remove it"
    assert unaccounted(set(OMITTED), dashboard_exprs(), {}) == sorted(OMITTED)


def test_check_catches_a_new_metric_and_a_prefix_match() -> None:
    exprs = ['sum by (watch) (rate(sentinel_source_series_dropped_total{watch=~"$watch"}[5m]))',
             "histogram_quantile(0.95, sum by (le) (rate(sentinel_x_seconds_bucket[5m])))"]
    assert unaccounted({"sentinel_new_thing_total"}, exprs, {}) == ["sentinel_new_thing_total"]
    assert unaccounted({"sentinel_source_series"}, exprs, {}) == ["sentinel_source_series"]
    assert unaccounted({"sentinel_x_seconds", "sentinel_source_series_dropped_total"}, exprs, {}) == []
    assert unaccounted({"sentinel_new_thing_total"}, exprs, {"sentinel_new_thing_total": "why"}) == []
