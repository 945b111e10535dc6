"""The daemon's HTTP endpoints: /metrics, /-/healthy, /-/ready and /alerts.

- ``/metrics``: what ``metrics(accept)`` renders (the daemon passes
  :func:`sentinel.publish.exporter.exposition`: Prometheus text format, or
  OpenMetrics when the scraper asks for it);
- ``/-/healthy``: liveness, 200 while the scheduler runs;
- ``/-/ready``: readiness, 200 once every watch has completed its first
  cycle, else 503 naming the watches still pending;
- ``/alerts``: JSON of the alert state (``?watch=NAME`` filters, ``?all=1``
  includes recently resolved alerts) -- the ``generatorURL`` /
  ``sentinel_url`` target for watches that are not PromQL.

Binds ``server.listen`` (127.0.0.1:9108 by default); port 0 picks a free
port (see :attr:`HTTPServer.port`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]
Render = Callable[[str | None], tuple[bytes, str]]


class HTTPServer:
    """Serves the endpoints above from a background thread."""

    def __init__(
        self,
        host: str,
        port: int,
        metrics: Render,
        healthy: Check,
        ready: Check,
        alerts: Callable[[str | None, bool], list[dict[str, Any]]],
    ) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http: " + format, *args)

        self._metrics = metrics
        self._healthy, self._ready, self._alerts = healthy, ready, alerts
        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sentinel-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urlsplit(req.path)
        query = parse_qs(url.query)
        try:
            if url.path == "/metrics":
                body, content_type = self._metrics(req.headers.get("Accept"))
                self._send(req, 200, body, content_type)
            elif url.path in ("/-/healthy", "/-/ready"):
                ok, detail = (self._healthy if url.path == "/-/healthy" else self._ready)()
                self._send(req, 200 if ok else 503, (detail + "\n").encode(), "text/plain; charset=utf-8")
            elif url.path == "/alerts":
                watch = query.get("watch", [None])[0]
                include_resolved = query.get("all", ["0"])[0] not in ("0", "", "false")
                body = json.dumps({"alerts": self._alerts(watch, include_resolved)}, indent=1, default=str)
                self._send(req, 200, body.encode(), "application/json")
            elif url.path == "/":
                links = "sentinel: /metrics /-/healthy /-/ready /alerts\n"
                self._send(req, 200, links.encode(), "text/plain; charset=utf-8")
            else:
                self._send(req, 404, b"not found\n", "text/plain; charset=utf-8")
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, code: int, body: bytes, content_type: str) -> None:
        req.send_response(code)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)
