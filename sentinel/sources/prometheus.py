"""Prometheus as a source: one ``query_range`` per watch, decoded straight onto the step grid.

What this module guarantees (DESIGN §3), and why:

- **Grid.** Samples land on the absolute grid of the watch's step
  (:func:`~sentinel.sources.base.grid`), so consecutive cycles and chunks
  join without overlap or drift.  Long ranges are split into requests of at
  most ``prometheus.max_points_per_query`` points per series (Prometheus
  refuses more than 11,000).
- **Missing is missing.** A grid point with no sample (a gap longer than the
  lookback delta, a stale marker after a target vanished; Prometheus' engine
  drops both), or a sample that is NaN or +-Inf, is NaN in the batch, never
  zero.  Non-finite samples are counted in ``sentinel_source_nonfinite_samples_total``.
  Huge finite values are data and pass through.
- **Identity.** A series is its full label set as Prometheus returns it:
  ``__name__`` is a label when the query keeps it (a bare selector) and absent
  when PromQL drops it (``rate()``, aggregations).
- **Label explosions.** At most ``watch.max_series`` (else
  ``prometheus.max_series_per_watch``) series per fetch.  Series already being
  watched keep their place; new ones fill free places in Prometheus' (label
  sorted) order; the rest are dropped with a one-line warning and
  ``sentinel_source_series_dropped_total``.  A series absent for a whole fetch
  frees its place.
- **Counter resets.** ``rate()`` / ``increase()`` handle resets inside PromQL;
  prefer them.  A watch whose query is a bare counter selector (``*_total``
  etc.) gets a monotonic repair, carried across fetches
  (:mod:`sentinel.sources.counters`).
- **Failures.** Connection errors, timeouts, 5xx and 429 are retried
  ``prometheus.retries`` times with exponential backoff; then, like a 4xx
  (bad PromQL) or a response that is not the Prometheus API, they raise
  :class:`~sentinel.sources.base.SourceError` with one line naming the watch
  and the cause.  Requests carry ``prometheus.timeout`` both as the client
  timeout and as Prometheus' own query timeout.  Credentials (bearer token,
  basic auth) go in headers and never into messages or logs; TLS is verified
  unless ``tls_verify`` is false or a CA bundle path.

The HTTP call goes through prometheus-api-client's ``custom_query_range``;
decoding flattens every sample of a response into two numpy conversions
(no per-point Python arithmetic).  ``last_timings`` holds the query/decode
split of the last fetch for benchmarks.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from prometheus_client import REGISTRY, CollectorRegistry
from urllib3.util.retry import Retry

from sentinel.config import PrometheusConfig, WatchConfig
from sentinel.series import Batch, Labels, format_labels
from sentinel.sources.base import SourceError, grid
from sentinel.sources.counters import is_raw_counter_query, repair_counter_resets
from sentinel.sources.metrics import source_metrics

log = logging.getLogger(__name__)

SOURCE = "prometheus"
_MAX_BACKOFF = 10.0
_STATUS = re.compile(r"HTTP Status Code (\d+) \((.*)\)\s*$", re.S)

Result = list[dict[str, Any]]


class PrometheusSource:
    """:class:`~sentinel.sources.base.Source` over a Prometheus HTTP API.

    ``sleep`` and ``backoff`` (first retry delay, doubled each time) exist so
    tests can run fault cases fast.  Different watches may be fetched from
    different threads; one watch must not be fetched concurrently with itself
    (the daemon runs one cycle per watch at a time).
    """

    def __init__(
        self,
        cfg: PrometheusConfig,
        *,
        registry: CollectorRegistry = REGISTRY,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cfg = cfg
        self._metrics = source_metrics(registry)
        self._backoff = backoff
        self._sleep = sleep
        parts = urlsplit(cfg.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"prometheus.url {cfg.url!r} must be an http(s) URL like http://127.0.0.1:9090")
        self._where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        session = requests.Session()
        session.verify = cfg.tls_verify
        headers = dict(cfg.headers)
        try:
            token, auth = cfg.token(), cfg.basic_auth()
        except OSError as exc:
            raise SourceError(f"prometheus: cannot read a credentials file ({exc.filename}: {exc.strerror})") from None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # retries are ours (counted, backed off); urllib3 must neither retry nor wrap read timeouts
        self._client = PrometheusConnect(
            url=cfg.url.rstrip("/"),
            headers=headers or None,
            auth=auth,
            session=session,
            retry=Retry(0, read=False),
            timeout=cfg.timeout,
        )
        self._admitted: dict[str, list[Labels]] = {}
        self._key_cache: dict[str, dict[tuple[tuple[str, str], ...], Labels]] = {}
        self._last_keys: dict[str, tuple[list[dict[str, str]], list[Labels]]] = {}
        self._counters: dict[str, dict[Labels, tuple[float, float]]] = {}
        self.last_timings: dict[str, float] = {"query": 0.0, "decode": 0.0}

    # -- public ---------------------------------------------------------------

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch:
        """The watch's series on the grid ``[start, end)`` (see the module docstring)."""
        if watch.query is None:
            raise SourceError(f"watch {watch.name!r}: not a PromQL watch (it has no `query`)")
        step = watch.sample_step
        first, stop = grid(int(start), int(end), step)
        timestamps = np.arange(first, stop, step, dtype=np.int64)
        query_s = 0.0
        parts: list[Result] = []
        chunk = self._cfg.max_points_per_query
        for c0 in range(0, len(timestamps), chunk):
            c1 = min(len(timestamps), c0 + chunk)
            t0 = time.perf_counter()
            parts.append(self._query(watch, int(timestamps[c0]), int(timestamps[c1 - 1]), step))
            query_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        batch = self._decode(watch, parts, timestamps, step)
        self.last_timings = {"query": query_s, "decode": time.perf_counter() - t0}
        self._metrics.series.labels(SOURCE, watch.name).set(batch.n_series)
        return batch

    def close(self) -> None:
        self._client.close()

    # -- HTTP -----------------------------------------------------------------

    def _query(self, watch: WatchConfig, qstart: int, qend: int, step: int) -> Result:
        """One ``query_range`` with retries; returns Prometheus' ``data.result``."""
        assert watch.query is not None
        attempts = self._cfg.retries + 1
        for attempt in range(attempts):
            t0 = time.perf_counter()
            outcome, transient, reason = "ok", False, ""
            try:
                result = self._client.custom_query_range(
                    watch.query,
                    start_time=datetime.fromtimestamp(qstart, UTC),
                    end_time=datetime.fromtimestamp(qend, UTC),
                    step=str(step),
                    params={"timeout": f"{self._cfg.timeout}s"},
                )
                if not isinstance(result, list):
                    raise TypeError("result is not a list")
            except PrometheusApiClientException as exc:
                status, detail = _http_error(str(exc))
                transient = status >= 500 or status == 429
                outcome = "http_5xx" if status >= 500 else "http_4xx"
                reason = f"Prometheus answered HTTP {status}: {detail}"
            except requests.exceptions.SSLError:
                outcome, reason = "connection", f"TLS verification failed for {self._where} (check tls_verify / CA)"
            except requests.exceptions.Timeout:
                outcome, transient = "timeout", True
                reason = f"no answer from {self._where} within {self._cfg.timeout}s"
            except requests.exceptions.ConnectionError:
                outcome, transient, reason = "connection", True, f"cannot connect to {self._where}"
            except (ValueError, KeyError, TypeError) as exc:
                outcome, reason = "bad_response", f"{self._where} did not answer like a Prometheus API ({exc})"
            finally:
                self._metrics.request_duration.labels(SOURCE, watch.name).observe(time.perf_counter() - t0)
            self._metrics.requests.labels(SOURCE, watch.name, outcome).inc()
            if outcome == "ok":
                return result
            if not transient or attempt == attempts - 1:
                self._metrics.errors.labels(SOURCE, watch.name, outcome).inc()
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                raise SourceError(f"watch {watch.name!r}: {reason}{tries}")
            delay = min(self._backoff * 2**attempt, _MAX_BACKOFF)
            log.warning("watch %r: %s; retrying in %.1fs", watch.name, reason, delay)
            self._metrics.retries.labels(SOURCE, watch.name).inc()
            self._sleep(delay)
        raise AssertionError("unreachable")

    # -- decoding -------------------------------------------------------------

    def _decode(self, watch: WatchConfig, parts: Sequence[Result], timestamps: np.ndarray, step: int) -> Batch:
        """Responses (one per chunk) -> one batch on ``timestamps``, series capped."""
        try:
            part_keys = [self._keys(watch.name, result) for result in parts]
            part_values = [[s["values"] for s in result] for result in parts]
        except (KeyError, AttributeError, TypeError) as exc:
            raise SourceError(f"watch {watch.name!r}: malformed series in Prometheus' answer ({exc})") from None
        if len(parts) == 1:
            keys = part_keys[0]
        else:
            order: dict[Labels, None] = {}
            for keys in part_keys:
                order.update(dict.fromkeys(keys))
            keys = list(order)
        kept = self._cap(watch, keys)
        row_of = None if kept is keys and len(parts) == 1 else {k: i for i, k in enumerate(kept)}
        values = np.full((len(kept), len(timestamps)), np.nan)
        nonfinite = 0
        first = int(timestamps[0]) if len(timestamps) else 0
        for keys, series_values in zip(part_keys, part_values, strict=True):
            if row_of is None:
                rows = np.arange(len(keys))
            else:
                rows = np.fromiter((row_of.get(k, -1) for k in keys), dtype=np.intp, count=len(keys))
            nonfinite += self._fill(watch, values, series_values, rows, first, step)
        if nonfinite:
            self._metrics.nonfinite_samples.labels(SOURCE, watch.name).inc(nonfinite)
        assert watch.query is not None
        if kept and is_raw_counter_query(watch.query):
            values = self._repair_counters(watch.name, kept, values)
        return Batch(timestamps, values, tuple(kept), step)

    def _keys(self, watch_name: str, result: Result) -> list[Labels]:
        """Canonical (sorted) label keys of a response's series.

        Steady-state cycles return the same series in the same order, so the
        whole list of label dicts is first compared with the last response's
        (a C-level comparison); otherwise each series goes through a per-watch
        cache, so only new series pay for sorting.
        """
        metrics = [s["metric"] for s in result]
        last = self._last_keys.get(watch_name)
        if last is not None and last[0] == metrics:
            return last[1]
        cache = self._key_cache.setdefault(watch_name, {})
        if len(cache) > 2 * self._cfg.max_series_per_watch + len(result):
            cache.clear()  # bounded under label churn
        keys = []
        for m in metrics:
            raw = tuple(m.items())
            key = cache.get(raw)
            if key is None:
                key = cache[raw] = tuple(sorted((str(k), str(v)) for k, v in raw))
            keys.append(key)
        self._last_keys[watch_name] = (metrics, keys)
        return keys

    @staticmethod
    def _fill(
        watch: WatchConfig, values: np.ndarray, series_values: list[Any], rows: np.ndarray, first: int, step: int
    ) -> int:
        """Scatter one response's samples into ``values`` (``rows``: target row or -1); returns non-finite count."""
        take = np.flatnonzero(rows >= 0)
        if not len(take):
            return 0
        picked = series_values if len(take) == len(rows) else [series_values[i] for i in take.tolist()]
        try:
            lengths = np.fromiter(map(len, picked), dtype=np.intp, count=len(picked))
            flat = list(chain.from_iterable(chain.from_iterable(picked)))
            if len(flat) != 2 * int(lengths.sum()):
                raise ValueError("samples are not [time, value] pairs")
            n = len(flat) // 2
            ts = np.fromiter(flat[0::2], dtype=np.float64, count=n)
            vs = np.fromiter(map(float, flat[1::2]), dtype=np.float64, count=n)
        except (TypeError, ValueError) as exc:
            raise SourceError(f"watch {watch.name!r}: malformed samples in Prometheus' answer ({exc})") from None
        pos = (ts - first) / step
        pos[~np.isfinite(pos) | (pos < 0) | (pos >= values.shape[1])] = -0.5  # off the grid
        col = np.rint(pos).astype(np.intp)
        on_grid = pos == col
        row = np.repeat(rows[take], lengths)
        finite = np.isfinite(vs)
        ok = on_grid & finite
        values[row[ok], col[ok]] = vs[ok]
        return int((on_grid & ~finite).sum())

    def _cap(self, watch: WatchConfig, keys: list[Labels]) -> list[Labels]:
        """Apply the per-watch series cap: known series first, then new ones in order."""
        cap = watch.max_series or self._cfg.max_series_per_watch
        if len(keys) <= cap:
            self._admitted[watch.name] = keys
            return keys
        known = set(self._admitted.get(watch.name, ()))
        room = cap - sum(1 for k in keys if k in known)
        kept: list[Labels] = []
        for k in keys:
            if k in known:
                kept.append(k)
            elif room > 0:
                kept.append(k)
                room -= 1
        dropped = len(keys) - len(kept)
        kept_set = set(kept)
        self._admitted[watch.name] = kept
        self._metrics.series_dropped.labels(SOURCE, watch.name).inc(dropped)
        log.warning(
            "watch %r: query returned %d series, over the cap of %d (watch.max_series or "
            "prometheus.max_series_per_watch); dropped %d new series, e.g. %s; aggregate the query "
            "(sum by (...)) or raise the cap",
            watch.name,
            len(keys),
            cap,
            dropped,
            format_labels(next(k for k in keys if k not in kept_set)),
        )
        return kept

    def _repair_counters(self, watch_name: str, keys: list[Labels], values: np.ndarray) -> np.ndarray:
        state = self._counters.setdefault(watch_name, {})
        carry = np.array([state.get(k, (np.nan, 0.0)) for k in keys], dtype=np.float64)
        repaired, last, offset, resets = repair_counter_resets(values, carry[:, 0], carry[:, 1])
        self._counters[watch_name] = {k: (float(a), float(b)) for k, a, b in zip(keys, last, offset, strict=True)}
        if resets:
            self._metrics.counter_resets.labels(SOURCE, watch_name).inc(resets)
        return repaired


def _http_error(message: str) -> tuple[int, str]:
    """Status and Prometheus' own one-line error from a PrometheusApiClientException message."""
    m = _STATUS.search(message)
    if not m:
        return 0, _one_line(message)
    status, body = int(m.group(1)), m.group(2)
    try:
        raw = ast.literal_eval(body)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    except (ValueError, SyntaxError):
        text = body
    try:
        doc = json.loads(text)
        if isinstance(doc, dict) and doc.get("error"):
            text = f"{doc.get('errorType', 'error')}: {doc['error']}"
    except ValueError:
        pass
    return status, _one_line(text)


def _one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace and truncate, so an error stays one readable line.

    >>> _one_line("a\\n  b", 10), _one_line("x" * 20, 5)
    ('a b', 'xxxxx…')
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
