"""The Alertmanager API v2 client: one POST of a batch of alerts, and nothing else.

Authentication (bearer token or basic auth, from env or files via the
config) and TLS verification (on by default; ``tls_verify`` may name a CA
bundle) come from :class:`~sentinel.config.AlertmanagerConfig`.  Errors are
one line naming the server (without credentials) and the cause; request
headers are never part of a message.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

from sentinel.config import AlertmanagerConfig


class NotifyError(Exception):
    """A batch was not accepted; ``reason`` is a short label for metrics (http_5xx, timeout, ...), ``status``
    the HTTP status when there was an answer."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


def _verify(tls_verify: bool | str) -> bool | ssl.SSLContext:
    if isinstance(tls_verify, str):
        return ssl.create_default_context(cafile=tls_verify)
    return tls_verify


def safe_url(url: str) -> str:
    """``url`` without user info, for messages.

    >>> safe_url("https://user:secret@am.example:9093/prefix")
    'https://am.example:9093/prefix'
    """
    p = urlsplit(url)
    host = p.hostname or ""
    return f"{p.scheme}://{host}" + (f":{p.port}" if p.port else "") + p.path.rstrip("/")


class AlertmanagerClient:
    """POSTs batches to ``{url}/api/v2/alerts``."""

    def __init__(self, cfg: AlertmanagerConfig) -> None:
        parts = urlsplit(cfg.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"alertmanager.url {safe_url(cfg.url)!r} must be an http(s) URL like http://127.0.0.1:9093")
        self.where = safe_url(cfg.url)
        headers = dict(cfg.headers)
        token = cfg.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        basic = cfg.basic_auth()
        self._http = httpx.Client(
            timeout=httpx.Timeout(cfg.timeout), verify=_verify(cfg.tls_verify), headers=headers,
            auth=httpx.BasicAuth(*basic) if basic else None, follow_redirects=False,
        )
        self._endpoint = f"{cfg.url.rstrip('/')}/api/v2/alerts"

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """Send one batch; raises :class:`NotifyError` unless Alertmanager answers 2xx."""
        try:
            r = self._http.post(self._endpoint, json=alerts)
        except httpx.TimeoutException:
            raise NotifyError("timeout", f"Alertmanager {self.where}: timed out") from None
        except httpx.HTTPError as exc:
            raise NotifyError("connection", f"Alertmanager {self.where}: {type(exc).__name__}: {exc}") from None
        if r.status_code // 100 != 2:
            body = " ".join(r.text.split())[:200]
            reason = "http_5xx" if r.status_code >= 500 else "http_4xx"
            raise NotifyError(reason, f"Alertmanager {self.where} answered {r.status_code}: {body}", r.status_code)

    def close(self) -> None:
        self._http.close()
