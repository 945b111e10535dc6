"""A dead agent goes absent against a real Prometheus, whose range query leaves its series out entirely.

Prometheus returns no row for a series with no sample in the queried range (after its last sample the
5-minute lookback keeps it a little longer), so a watch stops seeing the series, not values missing
from it.  The policy remembers it and raises the absent alert all the same (sentinel.alerting.absent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sentinel.config import PrometheusConfig, WatchConfig
from sentinel.sources.prometheus import PrometheusSource
from sentinel.watch import WatchRunner
from tests.services import openmetrics

pytestmark = pytest.mark.services

T0 = 1_767_225_600
STOP = 30  # agent b's last sample: minute 29


def test_an_agent_whose_series_vanish_from_prometheus_goes_absent(prometheus_factory: Callable[..., Any]) -> None:
    series = [({"agent": a}, [(T0 + 60 * k, 5.0 + k % 3) for k in range(120 if a == "a" else STOP)])
              for a in ("a", "b")]
    prom = prometheus_factory([openmetrics("t_task_rate", "gauge", series)])
    source = PrometheusSource(PrometheusConfig(url=prom.url, retries=0), registry=CollectorRegistry())
    watch = WatchConfig.model_validate({"name": "rate", "query": "t_task_rate", "every": "1m",
                                        "alert": {"absent_for": "10m"}})
    runner = WatchRunner(watch, source, warmup=20 * 60)
    events = []
    for minute in range(20, 90, 5):
        result = runner.cycle(T0 + 60 * minute)
        assert result is not None
        events += [(e.kind, e.status, dict(e.labels)["agent"], (e.at - T0) // 60) for e in result.events]
        if minute >= 45:
            assert "b" not in {dict(k)["agent"] for k in result.batch.labels}  # Prometheus no longer returns it
    source.close()
    [(kind, status, agent, at)] = events
    assert (kind, status, agent) == ("absent", "firing", "b")
    assert STOP - 1 + 10 <= at <= STOP - 1 + 5 + 10  # its last value (or the lookback's copy of it) + absent_for
