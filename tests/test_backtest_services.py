"""``sentinel backtest`` against a real Prometheus holding backfilled history."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import sentinel.cli.backtest  # noqa: F401  (registers the command)
from sentinel.cli.app import app
from tests.services import PrometheusServer, openmetrics

pytestmark = pytest.mark.services

STEP = 300
T0 = 1_700_006_400  # a multiple of the step, years old (kept by the fixture's long retention)
DAYS = 3


def test_backtest_from_prometheus(prometheus_factory: Callable[..., PrometheusServer], tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    n = DAYS * 288
    ts = T0 + np.arange(n) * STEP
    series = []
    spike = 2 * 288 + 100  # on the third day
    for a in range(3):
        v = 20 + 5 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 0.5, n)
        if a == 0:
            v[spike : spike + 12] += 15
        series.append(({"agent": f"a{a}"}, list(zip(ts.tolist(), v.tolist(), strict=True))))
    prom = prometheus_factory(openmetrics("bt_latency_seconds", "gauge", series))
    cfg = tmp_path / "sentinel.yaml"
    cfg.write_text(
        f"prometheus: {{url: '{prom.url}'}}\n"
        "watches:\n"
        "  - {name: lat, query: bt_latency_seconds, every: 5m, alert: {threshold: 0.99, for: 10m, direction: up}}\n"
    )
    rep = tmp_path / "r.json"
    res = CliRunner().invoke(app, ["backtest", "--config", str(cfg), "--from", str(T0 + 2 * 86400),
                                   "--to", str(T0 + 3 * 86400), "--warmup", "2d", "--chunk", "100",
                                   "--plot", str(tmp_path / "p.png"), "--json", str(rep), "-q"])
    assert res.exit_code == 0, res.output
    report = json.loads(rep.read_text())
    assert report["series"] == 3 and report["steps"] == 288
    firing = [e for e in report["events"] if e["status"] == "firing"]
    hits = [e for e in firing if e["labels"].get("agent") == "a0"
            and T0 + spike * STEP <= e["at"] <= T0 + (spike + 12) * STEP]
    assert hits, firing
    assert len(firing) <= 3  # the clean agents do not page
    assert (tmp_path / "p.png").stat().st_size > 10_000
