"""Elasticsearch source: log counts per group on the watch's grid, and a bounded sample of messages.

Two queries per log watch and cycle (DESIGN §3):

* :meth:`ElasticsearchSource.fetch` -- counts per interval and group: a
  ``date_histogram`` on the absolute step grid (``fixed_interval`` buckets are
  aligned to multiples of the step, exactly :func:`~sentinel.sources.base.grid`),
  nested under a paged ``composite`` aggregation over the ``group_by`` fields.
  An empty bucket is a real zero (no log line is an observation: nothing was
  logged), and a group seen before that logs nothing now comes back as zeros
  (a silent agent is news).  Documents without a group field are counted in
  the group without that label (an empty label value is an absent label, as
  in Prometheus: :func:`~sentinel.series.labels_key`).
* :meth:`ElasticsearchSource.sample` -- raw messages for template mining, paged
  with a point in time + ``search_after`` on ``(@timestamp, _shard_doc)``, at
  most ``max_messages_per_cycle``.  When a cycle has more, the sample stops at
  a timestamp and says so (``complete_until``), so template counts after it
  are missing, not zero.

The node's clock is checked like Prometheus' (``reason="clock_ahead"``,
:func:`~sentinel.sources.base.check_clock`): counting the future would read
zeros (a silent fleet) and move the cursor past logs not yet written.

Failures (node down, timeout, index missing, rejected query, mapping
conflicts reported as shard failures) raise
:class:`~sentinel.sources.base.SourceError` with one line naming the watch,
counted in ``sentinel_source_errors{source="elasticsearch"}``: every request
goes through :class:`~sentinel.sources.elasticsearch_requests.Requests`.
Label names are the field names with every character outside
``[a-zA-Z0-9_]`` replaced by ``_`` (``service.name`` -> ``service_name``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from elasticsearch import ApiError, Elasticsearch, TransportError
from prometheus_client import CollectorRegistry

from sentinel.config import ElasticsearchConfig, LogsQueryConfig, WatchConfig
from sentinel.errors import one_line
from sentinel.labels import clean_label_name
from sentinel.logs.metrics import logs_metrics
from sentinel.logs.records import LogRecord, Sample, field_value
from sentinel.series import Batch, Labels, labels_key
from sentinel.sources.base import SourceError, check_clock, check_span, grid
from sentinel.sources.elasticsearch_requests import SOURCE, Requests, connect
from sentinel.sources.metrics import source_metrics

log = logging.getLogger(__name__)

_PAGE = 1000  # hits per search_after page
_GROUP_PAGE = 200  # composite buckets per page (at most)
_MAX_BUCKETS = 50_000  # groups x steps per request, under Elasticsearch's default search.max_buckets (65,536)
_MAX_STEPS = 10_000  # steps per request; longer ranges are split in time


class ElasticsearchSource:
    """Log counts and message samples from Elasticsearch for log watches (see the module doc)."""

    def __init__(
        self,
        cfg: ElasticsearchConfig,
        *,
        registry: CollectorRegistry | None = None,
        client: Elasticsearch | None = None,
    ) -> None:
        self.cfg = cfg
        self._client = client or connect(cfg)
        reg_kw = {} if registry is None else {"registry": registry}
        self._metrics = source_metrics(**reg_kw)
        self._requests = Requests(cfg, self._client, self._metrics)
        self._logs_metrics = logs_metrics(registry)
        self._known: dict[str, dict[Labels, None]] = {}
        parts = urlsplit(cfg.url)  # for messages: no credentials, no path
        self._where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._server_now: float | None = None  # the node's clock at its last counts answer
        # see _note_now; on a field no index maps ("now" fails on a timestamp field mapped as `long`)
        self._now_agg = {"date_range": {"field": "sentinel_clock_probe", "ranges": [{"from": "now"}]}}

    # -- counts -------------------------------------------------------------------

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch:
        """Counts per group on the grid ``start, start+step, ... < end`` (see the module doc)."""
        q = _logs(watch)
        with self._malformed(watch, "counts"):
            return self._fetch(watch, q, start, end)

    def _fetch(self, watch: WatchConfig, q: LogsQueryConfig, start: int, end: int) -> Batch:
        step = watch.sample_step
        first, stop = grid(start, end, step)
        check_span(watch, first, stop)
        timestamps = np.arange(first, stop, step, dtype=np.int64)
        cap = min(q.max_groups, watch.max_series or q.max_groups)
        counts: dict[Labels, np.ndarray] = {}
        for c0 in range(first, stop, _MAX_STEPS * step):  # long ranges (backfills) in time chunks
            c1 = min(stop, c0 + _MAX_STEPS * step)
            hist = {
                "date_histogram": {
                    "field": self.cfg.timestamp_field,
                    "fixed_interval": f"{step}s",
                    "min_doc_count": 0,
                    "extended_bounds": {"min": c0 * 1000, "max": (c1 - step) * 1000},
                }
            }
            page = max(1, min(_GROUP_PAGE, cap, _MAX_BUCKETS // ((c1 - c0) // step)))
            for key, buckets in self._groups(watch, q, c0, c1, hist, cap, page):
                row = counts.get(key)
                if row is None:
                    if len(counts) >= cap:
                        continue
                    row = counts[key] = np.zeros(len(timestamps))
                for b in buckets:
                    i = (int(b["key"]) // 1000 - first) // step
                    if 0 <= i < len(row):
                        row[i] = float(b["doc_count"])
        known = self._known.setdefault(watch.name, {})
        for key in counts:
            known.setdefault(key, None)
        while len(known) > cap:  # forget the oldest groups first
            known.pop(next(iter(known)))
        keys = [k for k in known if k in counts] + [k for k in known if k not in counts]
        values = np.array([counts.get(k, np.zeros(len(timestamps))) for k in keys]).reshape(len(keys), len(timestamps))
        check_clock(self._metrics, SOURCE, watch.name, int(timestamps[-1]) if len(timestamps) else first, step,
                    self._server_now, self._where)
        self._metrics.series.labels(SOURCE, watch.name).set(len(keys))
        return Batch(timestamps, values, tuple(keys), step)

    def _groups(
        self, watch: WatchConfig, q: LogsQueryConfig, first: int, stop: int, hist: dict[str, Any], cap: int, page: int
    ) -> Iterator[tuple[Labels, list[dict[str, Any]]]]:
        """(group labels, histogram buckets) for every group, paging the composite aggregation.

        ``page`` groups per request keeps groups x steps under the node's ``search.max_buckets``.
        """
        query = self._query(q, first, stop)
        if not q.group_by:
            resp = self._requests.search(watch.name, q.index, "counts", query=query, size=0,
                                         aggs={"h": hist, "now": self._now_agg})
            self._note_now(resp)
            yield (), resp["aggregations"]["h"]["buckets"]
            return
        names = [clean_label_name(f) for f in q.group_by]
        sources = [{n: {"terms": {"field": f, "missing_bucket": True}}} for n, f in zip(names, q.group_by, strict=True)]
        after: dict[str, Any] | None = None
        seen = 0
        while True:
            comp: dict[str, Any] = {"size": page, "sources": sources}
            if after is not None:
                comp["after"] = after
            resp = self._requests.search(
                watch.name, q.index, "counts", query=query, size=0,
                aggs={"g": {"composite": comp, "aggs": {"h": hist}}, "now": self._now_agg},
            )
            self._note_now(resp)
            agg = resp["aggregations"]["g"]
            for b in agg["buckets"]:
                if seen >= cap:
                    self._metrics.series_dropped.labels(SOURCE, watch.name).inc()
                    log.warning("log watch %r: more than %d groups; extra groups dropped (raise logs.max_groups)",
                                watch.name, cap)
                    return
                seen += 1
                key = labels_key(b["key"])  # a missing field (None) is an absent label
                yield key, b["h"]["buckets"]
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return

    def _note_now(self, resp: dict[str, Any]) -> None:
        """The node's clock, from the ``date_range`` bucket that starts at its ``now``.

        Elasticsearch 8 sends no ``Date`` header (checked on 8.19.3), so the
        counts request asks the node for its now itself, at no extra request.
        The range is on a field no index maps: on the timestamp field itself,
        "now" fails when that field is mapped as ``long`` (epoch millis).
        """
        try:
            self._server_now = float(resp["aggregations"]["now"]["buckets"][0]["from"]) / 1000.0
        except (KeyError, IndexError, TypeError, ValueError):
            self._server_now = None  # an answer without it (a proxy, an odd node): no check

    # -- messages -----------------------------------------------------------------

    def sample(self, watch: WatchConfig, start: int, end: int) -> Sample:
        """Up to ``max_messages_per_cycle`` messages of ``[start, end)`` in time order (PIT + search_after)."""
        q = _logs(watch)
        with self._malformed(watch, "sample"):
            return self._sample(watch, q, start, end)

    def _sample(self, watch: WatchConfig, q: LogsQueryConfig, start: int, end: int) -> Sample:
        limit = self.cfg.max_messages_per_cycle
        ts_field, msg_field, lvl_field = self.cfg.timestamp_field, self.cfg.message_field, self.cfg.level_field
        fields = [ts_field, msg_field, lvl_field, *q.group_by]
        names = [clean_label_name(f) for f in q.group_by]
        pit = self._requests.call(watch.name, q.index, "sample", lambda: self._client.open_point_in_time(
            index=q.index, keep_alive="1m", allow_partial_search_results=False, ignore_unavailable=False
        ))["id"]
        records: list[LogRecord] = []
        skipped = 0
        complete_until = float(end)
        after: list[Any] | None = None
        try:
            while len(records) < limit:
                body: dict[str, Any] = {
                    "pit": {"id": pit, "keep_alive": "1m"},
                    "size": min(_PAGE, limit - len(records) + 1),
                    "query": self._query(q, start, end),
                    "sort": [{ts_field: {"order": "asc", "format": "epoch_millis"}}, {"_shard_doc": "asc"}],
                    "_source": fields,
                    "track_total_hits": False,
                }
                if after is not None:
                    body["search_after"] = after
                resp = self._requests.search(watch.name, q.index, "sample", **body)
                pit = resp.get("pit_id", pit)
                hits = resp["hits"]["hits"]
                for h in hits:
                    if len(records) >= limit:
                        complete_until = float(h["sort"][0]) / 1000.0
                        self._logs_metrics.sample_truncated.labels(watch.name).inc()
                        break
                    src = h.get("_source") or {}
                    msg = field_value(src, msg_field)
                    if msg is None or isinstance(msg, Mapping | list):
                        skipped += 1
                        continue
                    lvl = field_value(src, lvl_field)
                    labels = labels_key(
                        {n: _text(field_value(src, f)) for n, f in zip(names, q.group_by, strict=True)}
                    )
                    records.append(LogRecord(float(h["sort"][0]) / 1000.0, _text(lvl).lower(), str(msg), labels))
                if len(hits) < body["size"] or complete_until < end:
                    break
                after = hits[-1]["sort"]
        finally:
            try:
                self._client.close_point_in_time(id=pit)
            except (ApiError, TransportError) as exc:  # the PIT expires by itself within keep_alive
                log.debug("closing point in time failed: %s", exc)
        self._logs_metrics.messages_sampled.labels(watch.name).inc(len(records))
        return Sample(records, complete_until, skipped)

    # -- plumbing -----------------------------------------------------------------

    @contextmanager
    def _malformed(self, watch: WatchConfig, kind: str) -> Iterator[None]:
        """An answer not shaped like Elasticsearch's (a proxy, a stub, a broken node) is one SourceError line.

        Before, a missing ``aggregations`` or ``hits`` key, a non-JSON-object body or a non-numeric
        ``sort`` value escaped as a KeyError/TypeError/ValueError traceback.
        """
        try:
            yield
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            self._metrics.errors.labels(SOURCE, watch.name, "bad_response").inc()
            raise SourceError(f"watch {watch.name!r}: {self._where} did not answer the {kind} query like "
                              f"Elasticsearch ({type(exc).__name__}: {one_line(str(exc), 80)})") from None

    def _query(self, q: LogsQueryConfig, start: int, end: int) -> dict[str, Any]:
        rng = {"range": {self.cfg.timestamp_field: {"gte": start * 1000, "lt": end * 1000, "format": "epoch_millis"}}}
        filters: list[dict[str, Any]] = [rng]
        if q.query.strip() not in ("", "*"):
            filters.append({"query_string": {"query": q.query, "analyze_wildcard": True}})
        return {"bool": {"filter": filters}}

    def close(self) -> None:
        """Release the client's connections."""
        self._client.close()


def _logs(watch: WatchConfig) -> LogsQueryConfig:
    if watch.logs is None:
        raise ValueError(f"watch {watch.name!r} is not a log watch (it has no `logs:` section)")
    return watch.logs


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)
