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
- **Its clock, not ours.** A grid point more than one step past the time in
  Prometheus' ``Date`` header is the future: the fetch fails
  (``reason="clock_ahead"``, :func:`~sentinel.sources.base.check_clock`,
  shared with Elasticsearch) and the cycle after this host's clock is right
  again catches up from the cursor.
- **Failures.** Connection errors, timeouts, 5xx and 429 are retried
  ``prometheus.retries`` times with exponential backoff; then, like a 4xx
  (bad PromQL) or a response that is not the Prometheus API, they raise
  :class:`~sentinel.sources.base.SourceError` with one line naming the watch
  and the cause.  Requests carry ``prometheus.timeout`` both as the client
  timeout and as Prometheus' own query timeout.  Credentials (bearer token,
  basic auth) go in headers and never into messages or logs; TLS is verified
  unless ``tls_verify`` is false or a CA bundle path.

The HTTP call goes through prometheus-api-client's ``custom_query_range``;
:meth:`PrometheusSource.targets` asks ``up`` whether vanished series' targets were removed
(:mod:`sentinel.sources.targets`); decoding (:mod:`sentinel.sources.prometheus_decode`) flattens every sample of
a response into two numpy conversions (no per-point Python arithmetic).  ``last_timings`` holds the query/decode
split of the last fetch for benchmarks.
"""

from __future__ import annotations

import ast
import email.utils
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from prometheus_client import REGISTRY, CollectorRegistry
from urllib3.util.retry import Retry

from sentinel.config import PrometheusConfig, WatchConfig
from sentinel.errors import one_line
from sentinel.series import Batch, Labels
from sentinel.sources import targets
from sentinel.sources.base import SourceError, check_clock, check_span, grid
from sentinel.sources.metrics import source_metrics
from sentinel.sources.prometheus_decode import SOURCE, MatrixDecoder, Result

log = logging.getLogger(__name__)

_MAX_BACKOFF = 10.0
_STATUS = re.compile(r"HTTP Status Code (\d+) \((.*)\)\s*$", re.S)

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
        self._server_now: float | None = None  # Prometheus' clock at its last answer (its Date header)
        session.hooks["response"].append(self._note_date)
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
        self._decoder = MatrixDecoder(cfg.max_series_per_watch, registry)
        self.last_timings: dict[str, float] = {"query": 0.0, "decode": 0.0}

    # -- public ---------------------------------------------------------------

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch:
        """The watch's series on the grid ``[start, end)`` (see the module docstring)."""
        if watch.query is None:
            raise SourceError(f"watch {watch.name!r}: not a PromQL watch (it has no `query`)")
        step = watch.sample_step
        first, stop = grid(int(start), int(end), step)
        check_span(watch, first, stop)
        timestamps = np.arange(first, stop, step, dtype=np.int64)
        query_s = 0.0
        parts: list[Result] = []
        chunk = self._cfg.max_points_per_query
        for c0 in range(0, len(timestamps), chunk):
            c1 = min(len(timestamps), c0 + chunk)
            t0 = time.perf_counter()
            parts.append(self._request(watch, self._range_call(watch, int(timestamps[c0]), int(timestamps[c1 - 1]),
                                                               step)))
            query_s += time.perf_counter() - t0
        check_clock(self._metrics, SOURCE, watch.name, int(timestamps[-1]) if len(timestamps) else first, step,
                    self._server_now, self._where)
        t0 = time.perf_counter()
        batch = self._decoder.decode(watch, parts, timestamps)
        self.last_timings = {"query": query_s, "decode": time.perf_counter() - t0}
        self._metrics.series.labels(SOURCE, watch.name).set(batch.n_series)
        return batch

    def targets(self, watch: WatchConfig, series: Sequence[Labels], at: int, window: int) -> np.ndarray:
        """Per series, whether its scrape target is live, removed or unknown at ``at``: one ``up`` query
        (:mod:`sentinel.sources.targets`, ``window`` its look-back).  Counted in
        ``sentinel_source_target_lookups_total``; a failure raises :class:`SourceError`."""
        keys = [targets.target_of(s, watch.target_labels) for s in series]
        asked = {k for k in keys if k is not None}
        if not asked:
            return np.full(len(keys), targets.UNKNOWN, dtype=np.int8)
        up_names = tuple(watch.target_labels.values())
        promql = targets.query(asked, up_names, window)
        params = {"time": str(int(at)), "timeout": f"{self._cfg.timeout}s"}
        try:
            answer = self._request(watch, lambda: self._client.custom_query(promql, params=params), errors=False)
            out = targets.status(keys, answer, up_names)
        except (SourceError, TypeError) as exc:
            self._metrics.target_lookups.labels(SOURCE, watch.name, "failed").inc()
            why = one_line(str(exc), 200).removeprefix(f"watch {watch.name!r}: ")
            raise SourceError(f"watch {watch.name!r}: the `up` lookup of vanished series' targets failed: "
                              f"{why}") from None
        self._metrics.target_lookups.labels(SOURCE, watch.name, "ok").inc()
        return out

    def close(self) -> None:
        self._client.close()

    # -- HTTP -----------------------------------------------------------------

    def _note_date(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        date = response.headers.get("Date")
        parsed = email.utils.parsedate_tz(date) if date else None
        self._server_now = float(email.utils.mktime_tz(parsed)) if parsed else None

    def _range_call(self, watch: WatchConfig, qstart: int, qend: int, step: int) -> Callable[[], Any]:
        assert watch.query is not None
        query = watch.query
        return lambda: self._client.custom_query_range(
            query,
            start_time=datetime.fromtimestamp(qstart, UTC),
            end_time=datetime.fromtimestamp(qend, UTC),
            step=str(step),
            params={"timeout": f"{self._cfg.timeout}s"},
        )

    def _request(self, watch: WatchConfig, call: Callable[[], Any], errors: bool = True) -> Result:
        """One request with retries; returns Prometheus' ``data.result`` (a failed fetch counts in ``errors``)."""
        attempts = self._cfg.retries + 1
        for attempt in range(attempts):
            t0 = time.perf_counter()
            outcome, transient, reason = "ok", False, ""
            try:
                result = call()
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
            except (requests.exceptions.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
                detail = one_line(str(exc), 120)
                outcome, reason = "bad_response", f"{self._where} did not answer like a Prometheus API ({detail})"
            except requests.exceptions.RequestException as exc:  # e.g. the connection dropped mid-answer
                outcome, transient = "connection", True
                reason = f"request to {self._where} failed ({type(exc).__name__})"
            finally:
                self._metrics.request_duration.labels(SOURCE, watch.name).observe(time.perf_counter() - t0)
            self._metrics.requests.labels(SOURCE, watch.name, outcome).inc()
            if outcome == "ok":
                return result
            if not transient or attempt == attempts - 1:
                if errors:
                    self._metrics.errors.labels(SOURCE, watch.name, outcome).inc()
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                raise SourceError(f"watch {watch.name!r}: {reason}{tries}")
            delay = min(self._backoff * 2**attempt, _MAX_BACKOFF)
            log.warning("watch %r: %s; retrying in %.1fs", watch.name, reason, delay)
            self._metrics.retries.labels(SOURCE, watch.name).inc()
            self._sleep(delay)
        raise AssertionError("unreachable")


def _http_error(message: str) -> tuple[int, str]:
    """Status and Prometheus' own one-line error from a PrometheusApiClientException message."""
    m = _STATUS.search(message)
    if not m:
        return 0, one_line(message)
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
    return status, one_line(text)
