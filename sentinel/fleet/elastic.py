"""Bulk-write the simulated fleet's ECS logs into Elasticsearch (DESIGN §4).

The simulator knows nothing of detection; this module only ships its log
records to a real node, the way a log shipper (Filebeat, Vector) would:

* :func:`ensure_template` installs an index template for ``<prefix>-*`` whose
  mapping makes the fields sentinel groups and filters by ``keyword``
  (``service.name``, ``log.level``, ``event.dataset``, ``trace.id``,
  ``agent.name`` and every ``labels.*``), ``message`` ``text`` and
  ``@timestamp`` ``date``;
* :func:`write_logs` streams any iterable of ECS dicts into daily indices
  ``<prefix>-YYYY.MM.DD`` with ``helpers.streaming_bulk`` (constant memory for
  millions of lines) and reports what the node accepted and rejected;
* :func:`write_fleet_logs` does both for ``fleet.logs(start, end)``, the
  simulator's ECS records (log-only incidents included: a new error pattern,
  an error burst on one tool).

Rejected documents are counted (``sentinel_elasticsearch_docs_failed``) and the
first rejection reason is returned, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from elasticsearch import Elasticsearch, helpers
from prometheus_client import CollectorRegistry

from sentinel.logs.metrics import logs_metrics

DEFAULT_PREFIX = "agent-logs"

_KEYWORD = {"type": "keyword", "ignore_above": 1024}


class LogFleet(Protocol):
    """What this module needs from the simulator."""

    def logs(self, start: int, end: int) -> Iterable[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class WriteResult:
    """Outcome of a bulk write: documents indexed, rejected, and the first rejection (one line)."""

    written: int
    failed: int
    first_error: str | None


def index_template(prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """The composable index template body for ``<prefix>-*`` (single shard, no replica: a test/demo node)."""
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
            "mappings": {
                "dynamic_templates": [{"labels_as_keywords": {"path_match": "labels.*", "mapping": _KEYWORD}}],
                "properties": {
                    "@timestamp": {"type": "date"},
                    "message": {"type": "text"},
                    "log": {"properties": {"level": _KEYWORD, "logger": _KEYWORD}},
                    "service": {"properties": {"name": _KEYWORD}},
                    "agent": {"properties": {"name": _KEYWORD}},
                    "event": {"properties": {"dataset": _KEYWORD}},
                    "trace": {"properties": {"id": _KEYWORD}},
                    "labels": {"type": "object"},
                },
            },
        },
    }


def ensure_template(client: Elasticsearch, prefix: str = DEFAULT_PREFIX) -> None:
    """Create or update the index template (idempotent)."""
    client.indices.put_index_template(name=f"sentinel-{prefix}", **index_template(prefix))


def index_for(doc: Mapping[str, Any], prefix: str = DEFAULT_PREFIX) -> str:
    """The daily index of a document, from its ``@timestamp`` (epoch ms/s number or ISO-8601 string).

    >>> index_for({"@timestamp": "2026-11-25T10:00:00Z"}), index_for({"@timestamp": 1_700_000_000_000})
    ('agent-logs-2026.11.25', 'agent-logs-2023.11.14')
    """
    ts = doc.get("@timestamp")
    if isinstance(ts, int | float):
        seconds = ts / 1000.0 if ts > 1e11 else float(ts)
        day = dt.datetime.fromtimestamp(seconds, dt.UTC)
    elif isinstance(ts, str):
        day = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    else:
        raise ValueError(f"log document without a usable @timestamp: {ts!r}")
    return f"{prefix}-{day:%Y.%m.%d}"


def write_logs(
    client: Elasticsearch,
    docs: Iterable[Mapping[str, Any]],
    *,
    prefix: str = DEFAULT_PREFIX,
    chunk_size: int = 2000,
    refresh: bool = True,
    registry: CollectorRegistry | None = None,
) -> WriteResult:
    """Stream ``docs`` into ``<prefix>-YYYY.MM.DD`` indices; refresh them at the end so they are searchable."""
    metrics = logs_metrics(registry)
    written = failed = 0
    first_error: str | None = None
    indices: set[str] = set()

    def actions() -> Iterator[dict[str, Any]]:
        for doc in docs:
            index = index_for(doc, prefix)
            indices.add(index)
            yield {"_op_type": "create", "_index": index, "_source": dict(doc)}

    for ok, info in helpers.streaming_bulk(
        client, actions(), chunk_size=chunk_size, raise_on_error=False, raise_on_exception=True, max_retries=3,
    ):
        if ok:
            written += 1
            continue
        failed += 1
        if first_error is None:
            item = next(iter(info.values()), {}) if isinstance(info, Mapping) else {}
            err = item.get("error", {}) if isinstance(item, Mapping) else {}
            first_error = " ".join(f"{err.get('type', 'error')}: {err.get('reason', info)}".split())[:300]
    metrics.docs_written.labels(prefix).inc(written)
    metrics.docs_failed.labels(prefix).inc(failed)
    if refresh and indices:
        client.indices.refresh(index=f"{prefix}-*")
    return WriteResult(written, failed, first_error)


def write_fleet_logs(
    client: Elasticsearch,
    fleet: LogFleet,
    start: int,
    end: int,
    *,
    prefix: str = DEFAULT_PREFIX,
    registry: CollectorRegistry | None = None,
) -> WriteResult:
    """Install the template and bulk-write the fleet's ECS logs of ``[start, end)``."""
    ensure_template(client, prefix)
    return write_logs(client, fleet.logs(start, end), prefix=prefix, registry=registry)
