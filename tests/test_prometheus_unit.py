"""Fast checks of the Prometheus source's pure parts: grid, counter repair, error parsing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from prometheus_client import CollectorRegistry, generate_latest

from sentinel.config import PrometheusConfig, WatchConfig
from sentinel.sources.base import SourceError, grid
from sentinel.sources.counters import repair_counter_resets
from sentinel.sources.metrics import source_metrics
from sentinel.sources.prometheus import PrometheusSource, _http_error
from sentinel.sources.prometheus_decode import MatrixDecoder


@given(st.integers(-10**9, 10**10), st.integers(0, 10**6), st.integers(1, 86_400))
def test_grid_is_the_multiples_of_step_in_range(start: int, length: int, step: int) -> None:
    end = start + length
    first, stop = grid(start, end, step)
    assert first % step == 0 and stop % step == 0 and first <= stop
    assert start <= first < start + step  # no grid point before `first` is in range
    if stop > first:
        assert stop - step < end <= stop  # the last point is in range, the next is not
    else:
        assert first >= end  # empty only when no multiple of step lies in [start, end)


counters = arrays(
    np.float64,
    st.tuples(st.integers(1, 4), st.integers(0, 30)),
    elements=st.one_of(st.floats(0, 1e6), st.just(np.nan)),
)


@given(counters)
def test_repair_is_monotonic_and_keeps_missing(values: np.ndarray) -> None:
    repaired, _, _, resets = repair_counter_resets(values)
    assert (np.isnan(repaired) == np.isnan(values)).all()
    for row in repaired:
        finite = row[np.isfinite(row)]
        assert (np.diff(finite) >= 0).all()
    assert resets >= 0


@given(counters, st.data())
def test_repair_is_chunk_independent(values: np.ndarray, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, values.shape[1]))
    whole = repair_counter_resets(values)[0]
    a, last, off, _ = repair_counter_resets(values[:, :cut])
    b = repair_counter_resets(values[:, cut:], last, off)[0]
    np.testing.assert_allclose(np.concatenate([a, b], axis=1), whole, rtol=1e-12)  # same sums, other order


@given(arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(0, 20)), elements=st.floats(0, 1e6)))
def test_repair_leaves_monotonic_series_alone(values: np.ndarray) -> None:
    mono = np.cumsum(values, axis=1)
    np.testing.assert_array_equal(repair_counter_resets(mono)[0], mono)


def test_http_error_extracts_prometheus_error() -> None:
    body = b'{"status":"error","errorType":"bad_data","error":"1:9: parse error: unclosed\\nbracket"}'
    status, detail = _http_error(f"HTTP Status Code 400 ({body!r})")
    assert status == 400 and detail == "bad_data: 1:9: parse error: unclosed bracket"
    assert _http_error("HTTP Status Code 502 (b'<html>\\n bad gateway</html>')") == (502, "<html> bad gateway</html>")


@pytest.mark.parametrize("url", ["127.0.0.1:9090", "ftp://x", "http://"])
def test_bad_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(SourceError, match="must be an http"):
        PrometheusSource(PrometheusConfig().model_copy(update={"url": url}))  # past the config's own URL check


def test_missing_token_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "token"
    with pytest.raises(SourceError, match=r"cannot read a credentials file \(.*token: No such file"):
        PrometheusSource(PrometheusConfig(bearer_token_file=missing))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)
_sample = st.one_of(
    st.tuples(st.integers(0, 2000) | st.floats(), st.sampled_from(["1", "NaN", "+Inf", "-1e308", "x", ""]) | _json),
    _json,
)
_series = st.fixed_dictionaries(
    {"metric": st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3) | _json,
     "values": st.lists(_sample.map(lambda s: list(s) if isinstance(s, tuple) else s), max_size=4) | _json}
)


@given(st.lists(_series | _json, max_size=4))
def test_any_answer_is_a_batch_or_a_source_error(result: list) -> None:
    """Whatever a (broken) server sends as data.result, decoding never raises anything but SourceError."""
    decoder = MatrixDecoder(default_cap=3, registry=CollectorRegistry())
    watch = WatchConfig(name="w", query="up", every=60)
    ts = np.arange(0, 1200, 60)
    try:
        batch = decoder.decode(watch, [result], ts)
    except SourceError as exc:
        assert "\n" not in str(exc)
        return
    assert batch.values.shape == (batch.n_series, len(ts))
    assert not np.isinf(batch.values).any()


def test_source_metrics_pass_promtool_check() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (scripts/install-services.sh)")
    registry = CollectorRegistry()
    m = source_metrics(registry)
    for family in (m.requests, m.errors):
        family.labels("prometheus", "w", "ok").inc()
    m.request_duration.labels("prometheus", "w").observe(0.1)
    m.series.labels("prometheus", "w").set(3)
    for c in (m.retries, m.series_dropped, m.nonfinite_samples, m.counter_resets):
        c.labels("prometheus", "w").inc()
    out = subprocess.run([promtool, "check", "metrics"], input=generate_latest(registry), capture_output=True)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
