"""Real Prometheus 2.42 and Alertmanager 0.25 for tests, on free loopback ports.

Nothing here is a mock: the Debian binaries (``scripts/install-services.sh``)
run as child processes on ``127.0.0.1:<free port>`` with their own temp data
dirs, so parallel test runs never collide and never touch a system install.

Fixture API (registered for every test via ``tests/conftest.py``)
-----------------------------------------------------------------
Tests that use any of these carry ``@pytest.mark.services``.

``prometheus`` (session) -> :class:`PrometheusServer`
    An empty Prometheus; ``.url`` is ``http://127.0.0.1:<port>``.  Shared by
    the whole session: put data in it only with unique metric names, or use
    the factory.
``prometheus_factory`` (session) -> ``(openmetrics=None, **opts) -> PrometheusServer``
    A *fresh* Prometheus per call, optionally backfilled first from
    OpenMetrics text (``str``), a file (``Path``) or an iterable of text
    chunks (streamed to disk, for big histories).  Options:
    ``scrape_configs`` (list of dicts, Prometheus' own schema),
    ``scrape_interval`` (s), ``lookback_delta`` (e.g. ``"5m"``),
    ``tls=(cert_file, key_file)`` (serve HTTPS), ``extra_args``.  Stopped at
    session end.
``webhook`` (session) -> :class:`WebhookReceiver`
    Records every notification the session ``alertmanager`` sends.
``alertmanager`` (session) -> :class:`AlertmanagerServer`
    Routes every alert (``group_by: ['...']``: one group per label set,
    ``group_wait``/``group_interval`` 1s, ``send_resolved``) to ``webhook``.
``alertmanager_factory`` (session) -> ``(**opts) -> AlertmanagerServer``
    A fresh Alertmanager with its own receiver (``am.webhook``); use it in
    fault tests so ``am.stop()`` / ``am.start()`` (same port, same storage,
    so its notification log survives, as in production) do not disturb
    other tests.  Options: ``group_by``, ``group_wait``, ``group_interval``,
    ``repeat_interval`` (strings like ``"1s"``).  Alertmanager keeps alerts
    in memory only: after a restart the sender must re-send them.  It
    records a notification just *after* the webhook answered, so wait ~1 s
    after a notification before ``stop()``, or it will not send the
    matching resolution (it never knew the firing one went out).

Helpers usable without fixtures: :func:`backfill` (promtool into a data dir),
:func:`openmetrics` (render samples as OpenMetrics text), :func:`free_port`,
:func:`start_prometheus`, :func:`start_alertmanager`, :class:`WebhookReceiver`.

Backfill pitfalls this module handles for you: OpenMetrics timestamps are in
*seconds*; the text must end with ``# EOF``; each backfill gets a fresh data
dir; retention is 10y (or old blocks are deleted at once); and the blocks
are written *before* Prometheus starts (a running server only picks up new
blocks at its next periodic block reload, about a minute later).  Samples
up to "now" are fine for a server started after the backfill.

Example::

    @pytest.mark.services
    def test_x(prometheus_factory):
        prom = prometheus_factory(openmetrics(
            "m", "gauge", [({"agent": "a"}, [(1_700_000_000, 1.0), (1_700_000_060, 2.0)])]))
        httpx.get(f"{prom.url}/api/v1/query", params={"query": "m", "time": 1_700_000_060})

    @pytest.mark.services
    def test_y(alertmanager_factory):
        am = alertmanager_factory()
        httpx.post(f"{am.url}/api/v2/alerts", json=[{"labels": {"alertname": "A"}}])
        am.webhook.wait_for(lambda alerts: any(a["status"] == "firing" for a in alerts))
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

PROMETHEUS_BIN = os.environ.get("SENTINEL_PROMETHEUS_BIN", "prometheus")
ALERTMANAGER_BIN = os.environ.get("SENTINEL_ALERTMANAGER_BIN", "prometheus-alertmanager")
PROMTOOL_BIN = os.environ.get("SENTINEL_PROMTOOL_BIN", "promtool")
_READY_TIMEOUT = 60.0

__all__ = [
    "AlertmanagerServer",
    "PrometheusServer",
    "ServiceError",
    "WebhookReceiver",
    "alertmanager",
    "alertmanager_factory",
    "backfill",
    "free_port",
    "openmetrics",
    "prometheus",
    "prometheus_factory",
    "start_alertmanager",
    "start_prometheus",
    "webhook",
]


def pump_outbox(daemon: Any, until: Callable[[], bool], seen: Callable[[], object] = lambda: "",
                timeout: float = 60) -> None:
    """Flush a :class:`~sentinel.daemon.Daemon`'s outbox, as its cycles do, until ``until()`` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"alerts did not arrive; got {seen()}"
        daemon.notifier.flush()
        daemon.notifier.drain(5)
        time.sleep(0.3)


def unix_seconds(rfc3339: str) -> float:
    """An Alertmanager time (``2026-11-26T10:00:00Z``) in unix seconds."""
    from datetime import datetime

    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


class ServiceError(RuntimeError):
    """A test service could not be started (the message carries its log tail)."""


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """Status and body of a GET, an HTTP error's included (a 503 from ``/-/ready`` is an answer, not a failure)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} not installed (run scripts/install-services.sh as root)")
    return path


# -- generic child process ---------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, even by SIGKILL (Linux), so no server is orphaned."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Service:
    """A child process with a log file, a readiness URL and stop/start."""

    name = "service"

    def __init__(self, argv: list[str], url: str, workdir: Path) -> None:
        self.argv = argv
        self.url = url
        self.workdir = workdir
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.ssl_context: ssl.SSLContext | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the process and block until ``/-/ready`` answers 200."""
        if self.running:
            return
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent
            )
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1, context=self.ssl_context) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise ServiceError(f"{self.name} not ready after {_READY_TIMEOUT:.0f}s: {self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; idempotent."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _start_on_free_port(make: Callable[[int], _Service], attempts: int = 3) -> _Service:
    """Start a service, retrying with a new port if another process took ours meanwhile."""
    err: ServiceError | None = None
    for _ in range(attempts):
        svc = make(free_port())
        try:
            svc.start()
            return svc
        except ServiceError as exc:
            if "address already in use" not in str(exc):
                raise
            err = exc
    assert err is not None
    raise err


# -- Prometheus --------------------------------------------------------------------


class PrometheusServer(_Service):
    """A running Prometheus: ``url``, ``port``, ``data_dir``; ``stop()``/``start()``/``reload()``."""

    name = "prometheus"

    def __init__(self, argv: list[str], url: str, workdir: Path, port: int, data_dir: Path) -> None:
        super().__init__(argv, url, workdir)
        self.port = port
        self.data_dir = data_dir

    def reload(self) -> None:
        """Re-read the config file (``/-/reload``), e.g. after editing ``workdir/prometheus.yml``."""
        req = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(req, timeout=30, context=self.ssl_context):
            pass


def start_prometheus(
    workdir: Path,
    *,
    scrape_configs: Sequence[Mapping[str, Any]] = (),
    scrape_interval: float = 1.0,
    lookback_delta: str | None = None,
    extra_args: Sequence[str] = (),
    tls: tuple[Path, Path] | None = None,
) -> PrometheusServer:
    """Start Prometheus with its TSDB in ``workdir/data`` (keeping any blocks already there).

    ``tls=(cert_file, key_file)`` serves HTTPS (the URL becomes ``https://``);
    the readiness check trusts ``cert_file`` as its CA (a self-signed cert).
    """
    binary = _require(PROMETHEUS_BIN)
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    data_dir.mkdir(exist_ok=True)
    interval = f"{round(scrape_interval * 1000)}ms"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [dict(c) for c in scrape_configs],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))

    web_args: list[str] = []
    if tls is not None:
        web = {"tls_server_config": {"cert_file": str(tls[0]), "key_file": str(tls[1])}}
        (workdir / "web.yml").write_text(yaml.safe_dump(web))
        web_args = [f"--web.config.file={workdir / 'web.yml'}"]
    scheme = "https" if tls else "http"

    def make(port: int) -> PrometheusServer:
        argv = [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={data_dir}",
            "--storage.tsdb.retention.time=10y",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--web.enable-admin-api",
            "--log.level=warn",
            *([f"--query.lookback-delta={lookback_delta}"] if lookback_delta else []),
            *web_args,
            *extra_args,
        ]
        server = PrometheusServer(argv, f"{scheme}://127.0.0.1:{port}", workdir, port, data_dir)
        if tls is not None:
            server.ssl_context = ssl.create_default_context(cafile=str(tls[0]))
        return server

    return _start_on_free_port(make)  # type: ignore[return-value]


def backfill(source: str | Path | Iterable[str], data_dir: Path) -> None:
    """Write TSDB blocks into ``data_dir`` with ``promtool tsdb create-blocks-from openmetrics``.

    ``source`` is OpenMetrics text, a file path, or an iterable of text chunks
    (written to a temp file as they come).  Text without a final ``# EOF`` gets one.
    Start Prometheus on ``data_dir`` *after* this: a running server notices new
    blocks only at its next periodic block reload (about a minute later).
    """
    promtool = _require(PROMTOOL_BIN)
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir.parent) as tmp:
        if isinstance(source, Path):
            path = source
        else:
            path = Path(tmp) / "history.om.txt"
            last = ""
            with open(path, "w") as fh:
                for chunk in [source] if isinstance(source, str) else source:
                    if chunk:
                        fh.write(chunk)
                        last = chunk
                if not last.rstrip().endswith("# EOF"):
                    fh.write(("" if not last or last.endswith("\n") else "\n") + "# EOF\n")
        proc = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(path), str(data_dir)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise ServiceError(f"promtool backfill failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")


def _om_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _om_labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    esc = (str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for v in labels.values())
    return "{" + ",".join(f'{k}="{v}"' for k, v in zip(labels, esc, strict=True)) + "}"


def openmetrics(
    name: str,
    kind: str,
    series: Iterable[tuple[Mapping[str, str], Iterable[tuple[float, float]]]],
    *,
    eof: bool = True,
) -> str:
    """OpenMetrics text for one metric family: ``series`` = ``[(labels, [(ts_seconds, value), ...])]``.

    Counters need the ``_total`` suffix on ``name``; it is stripped for the
    ``# TYPE`` line as OpenMetrics requires.  Concatenate several families
    with ``eof=False`` and end with ``"# EOF\\n"``.

    >>> print(openmetrics("m", "gauge", [({"a": "x"}, [(60, 1.5), (120, float("nan"))])]), end="")
    # TYPE m gauge
    m{a="x"} 1.5 60
    m{a="x"} NaN 120
    # EOF
    """
    family = name.removesuffix("_total") if kind == "counter" else name
    lines = [f"# TYPE {family} {kind}"]
    for labels, points in series:
        prefix = name + _om_labels(labels)
        lines.extend(f"{prefix} {_om_value(v)} {int(ts) if float(ts).is_integer() else ts}" for ts, v in points)
    if eof:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


# -- Alertmanager + webhook receiver -------------------------------------------------


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's request handler: no access log, and one way to answer."""

    def reply(self, status: int, body: bytes, content_type: str | None = None) -> None:
        """Send ``body`` with ``status``; a client that hung up is not an error here."""
        try:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


class WebhookReceiver:
    """An HTTP endpoint that records every Alertmanager webhook notification.

    ``notifications`` holds the raw JSON payloads in arrival order;
    :meth:`alerts` flattens them to the alerts inside (each with ``status``,
    ``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``).
    """

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._cond:
                    receiver.notifications.append(json.loads(body))
                    receiver._cond.notify_all()
                self.reply(200, b"")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)
        self._thread.start()

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert in every notification so far, in arrival order."""
        with self._cond:
            return [a for n in self.notifications for a in n.get("alerts", [])]

    def wait_for(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Block until ``predicate(alerts())`` holds; return the alerts, or fail the test on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                alerts = [a for n in self.notifications for a in n.get("alerts", [])]
                if predicate(alerts):
                    return alerts
                left = deadline - time.monotonic()
                if left <= 0:
                    summary = [(a.get("status"), a.get("labels")) for a in alerts][-10:]
                    pytest.fail(f"webhook: condition not met within {timeout}s; last alerts: {summary}")
                self._cond.wait(left)

    def clear(self) -> None:
        with self._cond:
            self.notifications.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class AlertmanagerServer(_Service):
    """A running Alertmanager: ``url``, ``port``, ``webhook``; ``stop()``/``start()`` keep port and storage."""

    name = "alertmanager"

    def __init__(self, argv: list[str], url: str, workdir: Path, port: int, webhook: WebhookReceiver) -> None:
        super().__init__(argv, url, workdir)
        self.port = port
        self.webhook = webhook

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager currently holds (``GET /api/v2/alerts``)."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=10) as r:
            return list(json.loads(r.read()))


def start_alertmanager(
    workdir: Path,
    webhook: WebhookReceiver,
    *,
    group_by: Sequence[str] = ("...",),
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> AlertmanagerServer:
    """Start Alertmanager routing everything to ``webhook`` (clustering off, storage in ``workdir``)."""
    binary = _require(ALERTMANAGER_BIN)
    workdir.mkdir(parents=True, exist_ok=True)
    config = {
        "route": {
            "receiver": "webhook",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [{"name": "webhook", "webhook_configs": [{"url": webhook.url, "send_resolved": True}]}],
    }
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    (workdir / "data").mkdir(exist_ok=True)

    def make(port: int) -> AlertmanagerServer:
        argv = [
            binary,
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url=http://127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        return AlertmanagerServer(argv, f"http://127.0.0.1:{port}", workdir, port, webhook)

    return _start_on_free_port(make)  # type: ignore[return-value]


# -- pytest fixtures ------------------------------------------------------------------


@pytest.fixture(scope="session")
def prometheus_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., PrometheusServer]]:
    started: list[PrometheusServer] = []

    def make(openmetrics: str | Path | Iterable[str] | None = None, **opts: Any) -> PrometheusServer:
        workdir = tmp_path_factory.mktemp("prometheus")
        if openmetrics is not None:
            backfill(openmetrics, workdir / "data")
        server = start_prometheus(workdir, **opts)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def prometheus(prometheus_factory: Callable[..., PrometheusServer]) -> PrometheusServer:
    return prometheus_factory()


@pytest.fixture(scope="session")
def alertmanager_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., AlertmanagerServer]]:
    started: list[AlertmanagerServer] = []
    own_receivers: list[WebhookReceiver] = []

    def make(webhook: WebhookReceiver | None = None, **opts: Any) -> AlertmanagerServer:
        if webhook is None:
            webhook = WebhookReceiver()
            own_receivers.append(webhook)
        server = start_alertmanager(tmp_path_factory.mktemp("alertmanager"), webhook, **opts)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
    for receiver in own_receivers:
        receiver.close()


@pytest.fixture(scope="session")
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def alertmanager(
    alertmanager_factory: Callable[..., AlertmanagerServer], webhook: WebhookReceiver
) -> AlertmanagerServer:
    return alertmanager_factory(webhook)
