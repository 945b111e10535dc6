"""Requests to Elasticsearch: the client from the config, every request timed and counted, every failure one line.

:class:`~sentinel.sources.elasticsearch.ElasticsearchSource` decides what to
ask (counts, message samples); :class:`Requests` asks it, so that each way a
node fails (down, too slow, HTTP error, a query rejected or failed on some
shards, a search timed out inside the node) becomes one
:class:`~sentinel.sources.base.SourceError` line naming the watch, and no
partial answer passes as a complete one.  Every request is counted in
``sentinel_source_requests{source="elasticsearch"}`` by outcome and timed;
every failure is counted in ``sentinel_source_errors`` by reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from elasticsearch import (
    ApiError,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    SSLError,
    TransportError,
)

from sentinel.config import ElasticsearchConfig
from sentinel.errors import one_line
from sentinel.sources.base import SourceError
from sentinel.sources.metrics import SourceMetrics

SOURCE = "elasticsearch"


class Requests:
    """One source's requests through ``client`` (see the module doc); ``metrics`` are the shared source metrics."""

    def __init__(self, cfg: ElasticsearchConfig, client: Elasticsearch, metrics: SourceMetrics) -> None:
        self.cfg = cfg
        self.client = client
        self._metrics = metrics

    def search(self, watch: str, index: str, kind: str, **body: Any) -> dict[str, Any]:
        """Search ``index`` (the point in time ``body["pit"]`` instead, if given); partial results are failures."""
        opts: dict[str, Any] = {} if "pit" in body else {"index": index, "allow_no_indices": False,
                                                         "ignore_unavailable": False}
        resp = self.call(watch, index, kind, lambda: self.client.search(
            **opts, **body, timeout=f"{self.cfg.timeout}s", allow_partial_search_results=False
        ))
        shards = resp.get("_shards") or {}
        if shards.get("failed"):
            reason = _shard_reason(shards.get("failures") or [])
            self._metrics.errors.labels(SOURCE, watch, "shard_failure").inc()
            raise SourceError(f"watch {watch!r}: Elasticsearch {kind} query failed on "
                              f"{shards['failed']} shard(s): {reason}")
        if resp.get("timed_out"):
            self._metrics.errors.labels(SOURCE, watch, "timeout").inc()
            raise SourceError(f"watch {watch!r}: Elasticsearch {kind} query timed out after {self.cfg.timeout}s "
                              "(results would be partial)")
        return resp

    def call(self, watch: str, index: str, kind: str, fn: Callable[[], Any]) -> dict[str, Any]:
        """``fn()`` (a request of the client about ``index``) as a dict, timed and counted; failures as SourceError."""
        t0 = time.perf_counter()
        outcome, reason = "ok", ""
        try:
            return dict(fn())
        except ConnectionTimeout:
            outcome, reason = "timeout", f"no answer from {self.cfg.url} within {self.cfg.timeout}s"
        except SSLError:
            outcome, reason = "connection", f"TLS verification failed for {self.cfg.url} (check tls_verify / CA)"
        except ConnectionError:
            outcome, reason = "connection", f"cannot connect to {self.cfg.url}"
        except ApiError as exc:
            outcome = "http_5xx" if exc.meta.status >= 500 else "http_4xx"
            reason = _api_reason(exc, index)
        except TransportError as exc:
            outcome, reason = "connection", f"{self.cfg.url}: {exc.__class__.__name__}"
        finally:
            self._metrics.requests.labels(SOURCE, watch, outcome).inc()
            self._metrics.request_duration.labels(SOURCE, watch).observe(time.perf_counter() - t0)
        self._metrics.errors.labels(SOURCE, watch, outcome).inc()
        raise SourceError(f"watch {watch!r}: Elasticsearch {kind} query failed: {reason}")


def connect(cfg: ElasticsearchConfig) -> Elasticsearch:
    """A client with the config's timeout, TLS and credentials (an API key, else a bearer token, else basic auth)."""
    kw: dict[str, Any] = {
        "request_timeout": float(cfg.timeout),
        "max_retries": 1,
        "retry_on_timeout": False,
        "headers": dict(cfg.headers) or None,
    }
    if isinstance(cfg.tls_verify, str):
        kw["ca_certs"] = cfg.tls_verify
    elif cfg.url.startswith("https"):
        kw["verify_certs"] = cfg.tls_verify
    if cfg.api_key is not None:
        kw["api_key"] = cfg.api_key.get_secret_value()
    elif cfg.token():
        kw["bearer_auth"] = cfg.token()
    elif cfg.basic_auth():
        kw["basic_auth"] = cfg.basic_auth()
    return Elasticsearch(cfg.url, **kw)


def _api_reason(exc: ApiError, index: str) -> str:
    body = exc.body if isinstance(exc.body, Mapping) else {}
    err = body.get("error") if isinstance(body.get("error"), Mapping) else {}
    kind = str(err.get("type") or exc.error or "")
    if kind == "index_not_found_exception":
        return f"index {index!r} does not exist (no index matches the pattern)"
    root = (err.get("root_cause") or [{}])[0] if isinstance(err.get("root_cause"), list) else {}
    detail = str(root.get("reason") or err.get("reason") or exc.message)
    caused = err.get("caused_by") if isinstance(err.get("caused_by"), Mapping) else None
    if caused and caused.get("reason") and str(caused["reason"]) not in detail:
        detail = f"{detail}: {caused['reason']}"
    return one_line(f"HTTP {exc.meta.status} {kind}: {detail}")


def _shard_reason(failures: Sequence[Mapping[str, Any]]) -> str:
    if not failures:
        return "unknown reason"
    reason = failures[0].get("reason") or {}
    text = f"{reason.get('type', '')}: {reason.get('reason', '')}"
    caused = reason.get("caused_by") or {}
    if caused.get("reason"):
        text += f" ({caused['reason']})"
    return one_line(text + " (a mapping conflict between indices? check the field types)")
