"""The /metrics exporter: names, label rules, staleness, and promtool on the real exposition."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_fd_to_metric_families
from prometheus_client.parser import text_string_to_metric_families

from sentinel.detect.scores import Scores
from sentinel.publish import metrics as m
from sentinel.publish.exporter import ResultCollector, export_labels, exposition
from sentinel.series import Batch, labels_key
from sentinel.watch import CycleResult

_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _result(watch: str, labels: list[dict[str, str]], values: list[list[float]], t0: int = 6000,
            step: int = 60) -> CycleResult:
    b = Batch.from_rows(labels, timestamps=[t0 + step * i for i in range(len(values[0]))], values=values, step=step)
    v = b.values
    s = Scores(np.where(np.isnan(v), np.nan, 0.5), v * 0 + 10.0, v * 0 + 5.0, v * 0 + 15.0)
    return CycleResult(watch, b, s, [])


def _samples(col: ResultCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(exposition(CollectorRegistry(), col, None)[0].decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_scores_and_band_are_exported_with_watch_and_series_labels() -> None:
    col = ResultCollector()
    col.update(_result("lat", [{"agent": "a1"}, {"agent": "a2"}], [[1.0, 2.0], [3.0, float("nan")]]))
    got = _samples(col)
    assert got[(m.ANOMALY_SCORE, (("agent", "a1"), ("watch", "lat")))] == 0.5
    # a2's newest finite sample is the first column: still exported
    assert got[(m.ANOMALY_SCORE, (("agent", "a2"), ("watch", "lat")))] == 0.5
    assert got[(m.EXPECTED_VALUE, (("agent", "a1"), ("bound", "lower"), ("watch", "lat")))] == 5.0
    assert got[(m.EXPECTED_VALUE, (("agent", "a1"), ("bound", "mid"), ("watch", "lat")))] == 10.0
    assert got[(m.EXPECTED_VALUE, (("agent", "a1"), ("bound", "upper"), ("watch", "lat")))] == 15.0


def test_a_series_that_stopped_reporting_goes_stale() -> None:
    col = ResultCollector(stale_steps=5)
    col.update(_result("w", [{"agent": "a"}, {"agent": "b"}], [[1.0], [1.0]], t0=6000))
    col.update(_result("w", [{"agent": "a"}], [[1.0]], t0=6000 + 60 * 5))
    assert col.series("w") == 2  # b was seen 5 steps ago: still fresh
    col.update(_result("w", [{"agent": "a"}], [[1.0]], t0=6000 + 60 * 6))
    assert col.series("w") == 1
    names = {lb for (name, lb) in _samples(col) if name == m.ANOMALY_SCORE}
    assert names == {(("agent", "a"), ("watch", "w"))}


def test_forecasts_and_time_to_limit() -> None:
    col = ResultCollector()
    keys = [labels_key({"agent": "a"}), labels_key({"agent": "b"})]
    col.update_forecast("disk", keys, 6000, {"1h": np.array([10.0, 20.0])}, np.array([3600.0, np.nan]))
    got = _samples(col)
    assert got[(m.FORECAST_VALUE, (("agent", "b"), ("horizon", "1h"), ("watch", "disk")))] == 20.0
    assert got[(m.TIME_TO_LIMIT, (("agent", "a"), ("watch", "disk")))] == 3600.0
    assert (m.TIME_TO_LIMIT, (("agent", "b"), ("watch", "disk"))) not in got  # NaN = not within the horizon
    col.forget("disk")
    assert not [k for k in _samples(col) if k[0] == m.FORECAST_VALUE]


def test_label_clashes_and_invalid_names() -> None:
    got = export_labels(labels_key({"watch": "x", "exported_watch": "y", "bound": "b", "9lives": "c",
                                    "__meta": "d", "__name__": "up"}), "w")
    # a series label keeps its own name when it can; the clashing one is prefixed until unique
    assert got == {"exported_watch": "y", "exported_exported_watch": "x", "exported_bound": "b",
                   "_9lives": "c", "exported___meta": "d", "watch": "w"}


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=8), max_size=6))
def test_exported_label_names_are_always_valid_and_keep_every_label(labels: dict[str, str]) -> None:
    got = export_labels(labels_key(labels), "w")
    assert all(_NAME.match(k) and not k.startswith("__") for k in got)
    assert got["watch"] == "w"
    assert len(got) == len({k for k, v in labels.items() if k != "__name__" and v}) + 1  # "" = absent (labels_key)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_check_metrics_passes_on_the_real_exposition() -> None:
    reg = CollectorRegistry()
    col = ResultCollector()
    sm = m.self_metrics(reg)
    col.update(_result("lat", [{"agent": "a1", "watch": "clash"}, {"agent": "a2"}], [[1.0, 2.0], [3.0, 4.0]]))
    col.update_forecast("disk", [labels_key({"mountpoint": "/"})], 6000, {"24h": np.array([1.0])}, np.array([60.0]))
    sm.cycles.labels(watch="lat", outcome="ok").inc()
    sm.cycle_duration.labels(watch="lat").observe(0.2)
    sm.sent.inc(3)
    sm.failed.labels(reason="timeout").inc()
    sm.latency.observe(0.01)
    sm.alerts_active.labels(watch="lat", severity="warning").set(1)
    text, kind = exposition(reg, col, None)
    assert kind.startswith("text/plain")
    proc = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode()
    assert b'sentinel_anomaly_score{agent="a1",exported_watch="clash",watch="lat"} 0.5' in text
    assert b"sentinel_notifications_sent_total 3.0" in text


def test_openmetrics_keeps_every_family_before_the_end_marker() -> None:
    reg = CollectorRegistry()
    m.self_metrics(reg).sent.inc(2)
    col = ResultCollector()
    col.update(_result("lat", [{"agent": "a1"}], [[1.0]]))
    body, kind = exposition(reg, col, "application/openmetrics-text; version=1.0.0")
    assert kind.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n") and body.count(b"# EOF") == 1
    fams = {f.name: f for f in text_fd_to_metric_families(io.StringIO(body.decode()))}
    assert fams[m.ANOMALY_SCORE].samples[0].value == 0.5
    assert fams[m.NOTIFICATIONS_SENT.removesuffix("_total")].samples[0].value == 2.0


def test_label_values_are_escaped_and_infinities_written_as_prometheus_reads_them() -> None:
    col = ResultCollector()
    keys = [labels_key({"path": 'C:\\tmp\n"x"'})]
    col.update_forecast("disk", keys, 6000, {"1h": np.array([1e300])}, np.array([np.inf]))
    fams = {f.name: f for f in text_string_to_metric_families(exposition(CollectorRegistry(), col, None)[0].decode())}
    ttl = fams[m.TIME_TO_LIMIT].samples[0]
    assert ttl.labels["path"] == 'C:\\tmp\n"x"' and ttl.value == float("inf")
    assert fams[m.FORECAST_VALUE].samples[0].value == 1e300
