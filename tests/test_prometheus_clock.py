"""This host's wall clock stepped an hour ahead, then back (NTP), with a PromQL watch on a real Prometheus.

Measured before the fix: the cycle an hour ahead read 55 steps with no sample in any series (Prometheus has
no future), fired an absent alert on every series, and moved the cursor an hour ahead; once the clock was
right again the watch idled silently for 59 minutes and never read that hour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from sentinel.config import Config
from sentinel.sources.base import SourceError
from sentinel.sources.prometheus import PrometheusSource
from sentinel.watch import WatchRunner
from tests.services import openmetrics

pytestmark = pytest.mark.services


def test_a_clock_ahead_of_prometheus_reads_nothing_and_loses_nothing(prometheus_factory: Callable[..., Any]) -> None:
    now = int(time.time()) // 60 * 60 - 300
    rng = np.random.default_rng(1)
    prom = prometheus_factory(openmetrics("clock_lat_seconds", "gauge", [
        ({"agent": f"a{i}"}, [(t, 10 + rng.normal()) for t in range(now - 3 * 3600, now + 1, 15)]) for i in range(3)]))
    cfg = Config.model_validate({"prometheus": {"url": prom.url}, "watches": [
        {"name": "lat", "query": "clock_lat_seconds", "every": "1m", "alert": {"absent_for": "10m"}}]})
    reg = CollectorRegistry()
    runner = WatchRunner(cfg.watches[0], PrometheusSource(cfg.prometheus, registry=reg), warmup=3 * 3600)
    assert runner.cycle(now + 30) is not None
    with pytest.raises(SourceError, match=r"past http://127\.0\.0\.1:\d+'s clock: is this host's clock ahead\?"):
        runner.cycle(now + 3600 + 30)  # stepped an hour ahead
    assert runner.cursor == now  # nothing read, so nothing skipped
    assert reg.get_sample_value("sentinel_source_errors_total",
                                {"source": "prometheus", "watch": "lat", "reason": "clock_ahead"}) == 1
    back = runner.cycle(now + 90)  # stepped back: the watch goes on where it was
    assert back is not None and back.batch.timestamps.tolist() == [now + 60]
    assert not [e for e in back.events if e.kind == "absent"]
