"""PrometheusSource against a real, backfilled Prometheus (and tiny faulty HTTP servers)."""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from sentinel.config import PrometheusConfig, WatchConfig
from sentinel.sources.base import Source, SourceError
from sentinel.sources.prometheus import PrometheusSource
from tests.services import PrometheusServer, QuietHandler, free_port, openmetrics

pytestmark = pytest.mark.services

T0 = 1_699_999_200  # a multiple of 3600
N = 180  # three hours of minutes
GAP = range(30, 50)  # 20 missing minutes: longer than the 5m lookback
NAN_AT = {5: float("nan"), 6: float("inf"), 7: float("-inf")}
RESETS = (60, 120)


def _gauge(agent: int, k: int) -> float:
    return agent * 1000.0 + k


def _counter(k: int) -> float:
    """A counter growing by 2/min that restarts from 0 at each RESETS minute."""
    since = max([0, *[r for r in RESETS if r <= k]])
    return 2.0 * (k - since)


def _repaired(k: int) -> float:
    """Prometheus' reading of _counter: the first value after a reset is all increase (here 0)."""
    return 2.0 * k - 2.0 * sum(r <= k for r in RESETS)


def _history() -> str:
    minutes = range(N)
    parts = [
        openmetrics(
            "t_gauge",
            "gauge",
            [({"agent": f"a{a}"}, [(T0 + 60 * k, _gauge(a, k)) for k in minutes]) for a in (1, 2, 3)],
            eof=False,
        ),
        openmetrics(
            "t_gaps", "gauge", [({"agent": "a"}, [(T0 + 60 * k, 1.0) for k in minutes if k not in GAP])], eof=False
        ),
        openmetrics(
            "t_nonfinite",
            "gauge",
            [({"agent": "a"}, [(T0 + 60 * k, NAN_AT.get(k, 1e308 if k == 8 else 3.0)) for k in minutes])],
            eof=False,
        ),
        openmetrics(
            "t_many",
            "gauge",
            [({"id": f"{i:03d}"}, [(T0 + 60 * k, float(i)) for k in minutes]) for i in range(50)],
            eof=False,
        ),
        openmetrics(
            "t_requests_total", "counter", [({"agent": "a"}, [(T0 + 60 * k, _counter(k)) for k in minutes])], eof=False
        ),
    ]
    return "".join(parts) + "# EOF\n"


@pytest.fixture(scope="module")
def prom(prometheus_factory: Callable[..., PrometheusServer]) -> PrometheusServer:
    return prometheus_factory(_history())


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def _source(url: str, registry: CollectorRegistry, **cfg: object) -> PrometheusSource:
    return PrometheusSource(PrometheusConfig(url=url, **cfg), registry=registry, backoff=0.01)


def _watch(query: str, every: int = 60, **kw: object) -> WatchConfig:
    return WatchConfig(name="w", query=query, every=every, **kw)


def test_protocol(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    assert isinstance(_source(prom.url, registry), Source)


def test_range_matches_backfill_exactly(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    src = _source(prom.url, registry)
    batch = src.fetch(_watch("t_gauge"), T0, T0 + 60 * N)
    assert batch.timestamps.tolist() == [T0 + 60 * k for k in range(N)]
    assert [dict(lb)["agent"] for lb in batch.labels] == ["a1", "a2", "a3"]
    assert dict(batch.labels[0])["__name__"] == "t_gauge"
    expected = np.array([[_gauge(a, k) for k in range(N)] for a in (1, 2, 3)])
    np.testing.assert_array_equal(batch.values, expected)
    assert registry.get_sample_value("sentinel_source_series", {"source": "prometheus", "watch": "w"}) == 3


def test_unaligned_start_rounds_up_and_end_is_exclusive(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    batch = _source(prom.url, registry).fetch(_watch("t_gauge", every=120), T0 + 13, T0 + 600)
    assert batch.step == 120
    assert batch.timestamps.tolist() == [T0 + 120, T0 + 240, T0 + 360, T0 + 480]
    assert batch.values[0].tolist() == [_gauge(1, k) for k in (2, 4, 6, 8)]


def test_chunked_equals_unchunked(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    whole = _source(prom.url, registry).fetch(_watch("t_gauge"), T0, T0 + 60 * N)
    other = CollectorRegistry()
    chunked = _source(prom.url, other, max_points_per_query=7).fetch(_watch("t_gauge"), T0, T0 + 60 * N)
    np.testing.assert_array_equal(chunked.values, whole.values)
    assert chunked.labels == whole.labels
    requests = other.get_sample_value(
        "sentinel_source_requests_total", {"source": "prometheus", "watch": "w", "outcome": "ok"}
    )
    assert requests == math.ceil(N / 7)


def test_series_appearing_in_a_later_chunk_is_kept(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    # t_gaps has no samples in GAP: a chunk inside the gap returns nothing for it
    src = _source(prom.url, registry, max_points_per_query=10)
    batch = src.fetch(_watch("t_gaps"), T0 + 60 * 35, T0 + 60 * 70)
    assert batch.n_series == 1
    assert np.isnan(batch.values[0, :15]).all()
    assert (batch.values[0, 15:] == 1.0).all()


def test_long_gap_is_missing_not_zero(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    batch = _source(prom.url, registry).fetch(_watch("t_gaps"), T0, T0 + 60 * N)
    row = batch.values[0]
    # Prometheus carries the last sample for its 5m lookback, then the point is missing
    assert (row[:35] == 1.0).all()
    assert np.isnan(row[35:50]).all()
    assert (row[50:] == 1.0).all()
    assert not (row == 0).any()


def test_nan_and_inf_are_missing_and_counted(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    batch = _source(prom.url, registry).fetch(_watch("t_nonfinite"), T0, T0 + 60 * 10)
    row = batch.values[0]
    assert row[:5].tolist() == [3.0] * 5
    assert np.isnan(row[5:8]).all()
    assert row[8] == 1e308  # huge but finite: data
    labels = {"source": "prometheus", "watch": "w"}
    assert registry.get_sample_value("sentinel_source_nonfinite_samples_total", labels) == 3


def test_empty_result_is_an_empty_batch_on_the_grid(
    prom: PrometheusServer, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    src = _source(prom.url, registry)
    batch = src.fetch(_watch("no_such_metric"), T0, T0 + 300)
    assert batch.n_series == 0 and batch.timestamps.tolist() == [T0 + 60 * k for k in range(5)]
    assert registry.get_sample_value("sentinel_source_series", {"source": "prometheus", "watch": "w"}) == 0
    # a watch whose series all vanish says so once
    src.fetch(_watch("t_gauge"), T0, T0 + 300)
    with caplog.at_level(logging.WARNING, logger="sentinel.sources.prometheus"):
        src.fetch(_watch("t_gauge"), T0 + 86_400, T0 + 86_700)
        src.fetch(_watch("t_gauge"), T0 + 86_700, T0 + 87_000)
    assert caplog.text.count("returned no series") == 1


def test_functions_drop_name(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    batch = _source(prom.url, registry).fetch(_watch("sum by (agent) (t_gauge)"), T0, T0 + 120)
    assert batch.labels == ((("agent", "a1"),), (("agent", "a2"),), (("agent", "a3"),))


def test_label_explosion_is_capped_with_warning(
    prom: PrometheusServer, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    src = _source(prom.url, registry)
    watch = _watch("t_many", max_series=10)
    with caplog.at_level(logging.WARNING, logger="sentinel.sources.prometheus"):
        batch = src.fetch(watch, T0, T0 + 600)
    assert batch.n_series == 10
    assert [dict(lb)["id"] for lb in batch.labels] == [f"{i:03d}" for i in range(10)]
    assert "over the cap of 10" in caplog.text and "dropped 40" in caplog.text
    dropped = {"source": "prometheus", "watch": "w"}
    assert registry.get_sample_value("sentinel_source_series_dropped_total", dropped) == 40
    # the watched series keep their places in later cycles
    again = src.fetch(_watch("t_many{id!='000'}", max_series=10), T0, T0 + 600)
    assert [dict(lb)["id"] for lb in again.labels] == [f"{i:03d}" for i in range(1, 11)]
    # the global cap applies when the watch sets none
    capped = _source(prom.url, CollectorRegistry(), max_series_per_watch=5)
    assert capped.fetch(_watch("t_many"), T0, T0 + 120).n_series == 5


def test_raw_counter_resets_are_repaired(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    src = _source(prom.url, registry)
    batch = src.fetch(_watch("t_requests_total"), T0, T0 + 60 * N)
    expected = np.array([_repaired(k) for k in range(N)])
    np.testing.assert_array_equal(batch.values[0], expected)
    labels = {"source": "prometheus", "watch": "w"}
    assert registry.get_sample_value("sentinel_source_reset_repairs_total", labels) == 2
    # a reset between two fetches is repaired with the carried state
    src2 = _source(prom.url, CollectorRegistry())
    first = src2.fetch(_watch("t_requests_total"), T0, T0 + 60 * 100)
    second = src2.fetch(_watch("t_requests_total"), T0 + 60 * 100, T0 + 60 * N)
    joined = np.concatenate([first.values[0], second.values[0]])
    np.testing.assert_array_equal(joined, expected)
    # rate() handles resets in PromQL; no repair is applied to it
    rate = src.fetch(_watch("rate(t_requests_total[5m])"), T0 + 60 * 10, T0 + 60 * N)
    assert np.nanmin(rate.values) >= 0


def test_bad_promql_is_one_line_source_error_without_retry(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    with pytest.raises(SourceError) as err:
        _source(prom.url, registry).fetch(_watch("rate(t_gauge["), T0, T0 + 600)
    msg = str(err.value)
    assert "\n" not in msg and "watch 'w'" in msg and "HTTP 400" in msg and "parse error" in msg
    base = {"source": "prometheus", "watch": "w"}
    assert registry.get_sample_value("sentinel_source_requests_total", {**base, "outcome": "http_4xx"}) == 1
    assert registry.get_sample_value("sentinel_source_errors_total", {**base, "reason": "http_4xx"}) == 1


def test_too_many_points_is_chunked_not_refused(prom: PrometheusServer, registry: CollectorRegistry) -> None:
    # 12,000 one-second points exceed Prometheus' 11,000 limit for a single request
    batch = _source(prom.url, registry).fetch(_watch("t_gauge{agent='a1'}", every=1), T0, T0 + 12_000)
    assert batch.n_steps == 12_000
    assert batch.values[0, 60] == _gauge(1, 1)


@pytest.mark.slow
def test_stale_series_become_missing(
    prometheus_factory: Callable[..., PrometheusServer], registry: CollectorRegistry
) -> None:
    """A target that stops exposing a series gets a stale marker: missing at once, not carried 5m."""
    exposed = {"x": True}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"t_stale{x=\"1\"} 1\n" + (b"t_stale{x=\"2\"} 2\n" if exposed["x"] else b"")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with _serve(Handler) as port:
        prom = prometheus_factory(
            scrape_configs=[{"job_name": "t", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
            scrape_interval=1.0,
        )
        src = _source(prom.url, registry)
        _wait(lambda: src.fetch(_watch("t_stale", every=1), int(time.time()) - 5, int(time.time())).n_series == 2)
        seen = time.time()
        time.sleep(3)
        exposed["x"] = False
        gone = time.time()
        time.sleep(4)
        batch = src.fetch(_watch("t_stale", every=1), int(seen), int(time.time()))
    by_x = {dict(lb)["x"]: row for lb, row in zip(batch.labels, batch.values, strict=True)}
    after = batch.timestamps > gone + 2
    assert (by_x["1"][after] == 1.0).all()
    assert np.isnan(by_x["2"][after]).all()
    before = (batch.timestamps >= seen + 1) & (batch.timestamps < gone - 1)
    assert before.any() and (by_x["2"][before] == 2.0).all()


# -- faults: real HTTP servers that misbehave ------------------------------------------


class _Faulty(QuietHandler):
    mode = "500"
    seen_headers: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen_headers.append(dict(self.headers))
        if self.mode == "sleep":
            time.sleep(3)
            body, status = b"{}", 200
        elif self.mode == "html":
            body, status = b"<html>login</html>", 200
        elif self.mode == "drop":  # promise 1000 bytes, send 2, hang up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"')
            return
        else:
            body, status = b'{"status":"error","errorType":"internal","error":"boom"}', int(self.mode)
        self.reply(status, body)


class _serve:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True

    def __enter__(self) -> int:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return int(self.server.server_address[1])

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait(cond: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.2)


@pytest.fixture
def faulty() -> Iterator[Callable[[str], tuple[int, type[_Faulty]]]]:
    """Start a misbehaving HTTP server; returns its port and handler class (with ``seen_headers``)."""
    servers: list[_serve] = []

    def start(mode: str) -> tuple[int, type[_Faulty]]:
        handler = type("H", (_Faulty,), {"mode": mode, "seen_headers": []})
        srv = _serve(handler)
        servers.append(srv)
        return srv.__enter__(), handler

    yield start
    for s in servers:
        s.__exit__()


@pytest.mark.parametrize(
    ("mode", "fragment", "outcome", "attempts"),
    [
        ("500", "HTTP 500: internal: boom (after 3 attempts)", "http_5xx", 3),
        ("503", "HTTP 503", "http_5xx", 3),
        ("429", "HTTP 429", "http_4xx", 3),
        ("404", "HTTP 404", "http_4xx", 1),
        ("html", "did not answer like a Prometheus API", "bad_response", 1),
        ("drop", "failed (ChunkedEncodingError) (after 3 attempts)", "connection", 3),
        ("sleep", "within 1s (after 3 attempts)", "timeout", 3),
    ],
)
def test_http_faults_raise_one_line_source_error(
    faulty: Callable[[str], tuple[int, type[_Faulty]]],
    registry: CollectorRegistry,
    mode: str,
    fragment: str,
    outcome: str,
    attempts: int,
) -> None:
    port, _ = faulty(mode)
    src = _source(f"http://127.0.0.1:{port}", registry, retries=2, timeout=1)
    with pytest.raises(SourceError) as err:
        src.fetch(_watch("up"), T0, T0 + 600)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    base = {"source": "prometheus", "watch": "w"}
    assert registry.get_sample_value("sentinel_source_requests_total", {**base, "outcome": outcome}) == attempts
    assert registry.get_sample_value("sentinel_source_errors_total", {**base, "reason": outcome}) == 1


def test_connection_refused(registry: CollectorRegistry) -> None:
    slept: list[float] = []
    src = PrometheusSource(
        PrometheusConfig(url=f"http://127.0.0.1:{free_port()}", retries=3), registry=registry, sleep=slept.append
    )
    with pytest.raises(SourceError, match=r"cannot connect to http://127\.0\.0\.1:\d+ \(after 4 attempts\)"):
        src.fetch(_watch("up"), T0, T0 + 600)
    assert slept == [0.5, 1.0, 2.0]


def test_credentials_are_sent_but_never_shown(
    faulty: Callable[[str], tuple[int, type[_Faulty]]], registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    port, handler = faulty("503")
    handler_headers = handler.seen_headers
    src = _source(f"http://127.0.0.1:{port}", registry, retries=1, bearer_token="s3cret-token")
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceError) as err:
        src.fetch(_watch("up"), T0, T0 + 600)
    assert handler_headers and handler_headers[0]["Authorization"] == "Bearer s3cret-token"
    assert "s3cret" not in str(err.value) and "s3cret" not in caplog.text
    basic = _source(f"http://user:pw@127.0.0.1:{port}", CollectorRegistry(), retries=0, username="u", password="p4ss")
    with pytest.raises(SourceError) as err2:
        basic.fetch(_watch("up"), T0, T0 + 600)
    assert handler_headers[-1]["Authorization"].startswith("Basic ")
    assert "p4ss" not in str(err2.value) and "pw@" not in str(err2.value)


@pytest.fixture(scope="module")
def tls_prom(
    prometheus_factory: Callable[..., PrometheusServer], tmp_path_factory: pytest.TempPathFactory
) -> tuple[PrometheusServer, Path]:
    """A backfilled Prometheus serving HTTPS with a fresh self-signed certificate for 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    history = openmetrics("t_tls", "gauge", [({"a": "1"}, [(T0 + 60 * k, float(k)) for k in range(10)])])
    return prometheus_factory(history, tls=(cert, key)), cert


def test_tls_is_verified_by_default(tls_prom: tuple[PrometheusServer, Path], registry: CollectorRegistry) -> None:
    prom, cert = tls_prom
    assert prom.url.startswith("https://")
    with pytest.raises(SourceError, match=r"TLS verification failed for https://127\.0\.0\.1"):
        _source(prom.url, registry).fetch(_watch("t_tls"), T0, T0 + 600)
    reason = {"source": "prometheus", "watch": "w", "reason": "connection"}
    assert registry.get_sample_value("sentinel_source_errors_total", reason) == 1
    trusted = _source(prom.url, CollectorRegistry(), tls_verify=str(cert)).fetch(_watch("t_tls"), T0, T0 + 600)
    assert trusted.values[0].tolist() == [float(k) for k in range(10)]
