"""The embedded default source: watches read the simulated fleet in-process.

A watch's ``query`` names a signal of :mod:`sentinel.fleet.signals`,
optionally with PromQL-style label matchers (``=``, ``!=``, ``=~``, ``!~``,
regexes fully anchored as in PromQL)::

    agent_task_latency_p95
    agent_tool_error_ratio{tool="search"}
    gen_ai_tokens_per_second{gen_ai_token_type="output", agent=~"agent-0[0-4]"}

Log watches (``logs:``) read the fleet's own ECS logs through
:class:`~sentinel.sources.simulated_logs.SimulatedLogs`: per-group counts from
:meth:`SimulatedSource.fetch` and a bounded message sample from
:meth:`SimulatedSource.sample`, the same interface as the Elasticsearch source.

Signals are generated in blocks of :data:`BLOCK_STEPS` grid steps aligned to
the absolute grid and kept in a small LRU cache, so the daemon's one-cycle
fetches and several watches on the same fleet cost one generation per block.

>>> from sentinel.config import WatchConfig
>>> from sentinel.fleet import Fleet
>>> src = SimulatedSource(Fleet(agents=3))
>>> w = WatchConfig(name="w", query='agent_tool_error_ratio{tool="search"}', every=60)
>>> b = src.fetch(w, src.fleet.start, src.fleet.start + 600)
>>> b.n_series, b.n_steps, b.labels[0]
(3, 10, (('agent', 'agent-00'), ('tool', 'search')))
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry

from sentinel.config import WatchConfig
from sentinel.fleet import SIGNALS, Fleet
from sentinel.logs.records import Sample
from sentinel.series import Batch, concat_time
from sentinel.sources.base import SourceError, check_span, grid
from sentinel.sources.metrics import source_metrics
from sentinel.sources.simulated_logs import SimulatedLogs

T = TypeVar("T")
SOURCE = "simulated"
BLOCK_STEPS = 360
"""Grid steps per cached block (6 h at a 1-minute step)."""
CACHE_VALUES = 8_000_000
"""Cache budget in float64 values (64 MB); at least the two newest blocks are always kept."""


class SimulatedQueryError(SourceError, ValueError):
    """A query the simulated fleet cannot answer.

    Both a ValueError (for callers validating a config) and a SourceError (the
    daemon reports it for that watch and carries on).
    """


_QUERY = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$", re.S)
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}


def _unescape(value: str) -> str:
    r"""PromQL string escapes (``\\``, ``\"``, ``\n``, ``\t``); other backslashes are kept (regexes)."""
    return re.sub(r'\\(.)', lambda m: _ESCAPES.get(m.group(1), m.group(0)), value)


def parse_query(query: str) -> tuple[str, list[tuple[str, str, str]]]:
    """``name{label op "value", ...}`` -> (name, matchers); :class:`SimulatedQueryError` names the known signals.

    >>> parse_query('agent_tool_error_ratio{tool!="browser"}')
    ('agent_tool_error_ratio', [('tool', '!=', 'browser')])
    """
    m = _QUERY.match(query)
    if not m:
        raise SimulatedQueryError(f"simulated query {query!r} is not `signal` or `signal{{label=\"value\"}}`")
    name, body = m.group(1), (m.group(2) or "").strip()
    if name not in SIGNALS:
        raise SimulatedQueryError(f"unknown simulated signal {name!r}; known signals: {', '.join(SIGNALS)}")
    matchers: list[tuple[str, str, str]] = []
    pos = 0
    while pos < len(body):
        mm = _MATCHER.match(body, pos)
        if not mm or mm.end() == pos:
            raise SimulatedQueryError(f"bad label matcher in {query!r} near {body[pos:]!r}")
        label, op, value = mm.group(1), mm.group(2), _unescape(mm.group(3))
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as err:
                raise SimulatedQueryError(f"bad regex {value!r} in {query!r}: {err}") from None
        matchers.append((label, op, value))
        pos = mm.end()
    return name, matchers


def _matches(labels: dict[str, str], matchers: list[tuple[str, str, str]]) -> bool:
    for label, op, value in matchers:
        v = labels.get(label, "")
        ok = {
            "=": v == value,
            "!=": v != value,
            "=~": re.fullmatch(value, v) is not None,
            "!~": re.fullmatch(value, v) is None,
        }[op]
        if not ok:
            return False
    return True


def _values(block: dict[str, Batch]) -> int:
    return sum(b.values.size for b in block.values())


class SimulatedSource:
    """:class:`~sentinel.sources.base.Source` over a :class:`~sentinel.fleet.Fleet`."""

    def __init__(self, fleet: Fleet, registry: CollectorRegistry = REGISTRY, max_messages: int = 10_000) -> None:
        self.fleet = fleet
        self.logs = SimulatedLogs(fleet, max_messages=max_messages)
        """The fleet's logs for log watches (``max_messages``: sample bound per cycle)."""
        self._metrics = source_metrics(registry)
        self._cache: OrderedDict[tuple[int, int], dict[str, Batch]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = 0

    def _block(self, step: int, index: int) -> dict[str, Batch]:
        key = (step, index)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        span = step * BLOCK_STEPS
        block = self.fleet.signals(index * span, (index + 1) * span, step)
        with self._lock:
            if key in self._cache:  # another thread generated it meanwhile
                return self._cache[key]
            self._cache[key] = block
            self._size += _values(block)
            while len(self._cache) > 2 and self._size > CACHE_VALUES:
                self._size -= _values(self._cache.popitem(last=False)[1])
        return block

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch:
        """Series of ``watch.query`` on the absolute ``watch.sample_step`` grid in ``[start, end)``."""
        t0 = time.perf_counter()
        if watch.logs is not None:
            return self._timed(watch, t0, lambda: self.logs.fetch(watch, start, end))
        if watch.query is None:
            raise SimulatedQueryError(f"watch {watch.name!r} has neither a query nor a `logs:` section")
        try:
            name, matchers = parse_query(watch.query)
        except SimulatedQueryError:
            self._metrics.requests.labels(SOURCE, watch.name, "bad_query").inc()
            raise
        step = watch.sample_step
        first, stop = grid(int(start), int(end), step)
        check_span(watch, first, stop)
        labels = self.fleet.labels(name)
        rows = [i for i, lb in enumerate(labels) if _matches(dict(lb), matchers)]
        if watch.max_series is not None and len(rows) > watch.max_series:
            self._metrics.series_dropped.labels(SOURCE, watch.name).inc(len(rows) - watch.max_series)
            rows = rows[: watch.max_series]
        span = step * BLOCK_STEPS
        parts = []
        for index in range(first // span, -(-stop // span)):
            b = self._block(step, index)[name]
            lo, hi = max(first, index * span), min(stop, (index + 1) * span)
            parts.append(b.window((lo - index * span) // step, (hi - index * span) // step).select(rows))
        if parts:
            batch = concat_time(parts)
        else:
            batch = Batch(np.zeros(0, dtype=np.int64), np.zeros((len(rows), 0)), tuple(labels[i] for i in rows), step)
        self._metrics.requests.labels(SOURCE, watch.name, "ok").inc()
        self._metrics.request_duration.labels(SOURCE, watch.name).observe(time.perf_counter() - t0)
        self._metrics.series.labels(SOURCE, watch.name).set(batch.n_series)
        return batch

    def sample(self, watch: WatchConfig, start: int, end: int) -> Sample:
        """A log watch's bounded message sample of ``[start, end)`` (see :mod:`sentinel.sources.simulated_logs`)."""
        return self._timed(watch, time.perf_counter(), lambda: self.logs.sample(watch, start, end))

    def _timed(self, watch: WatchConfig, t0: float, call: Callable[[], T]) -> T:
        """Run a log-watch request with the shared request / latency metrics."""
        try:
            out = call()
        except SourceError:
            self._metrics.requests.labels(SOURCE, watch.name, "bad_query").inc()
            raise
        self._metrics.requests.labels(SOURCE, watch.name, "ok").inc()
        self._metrics.request_duration.labels(SOURCE, watch.name).observe(time.perf_counter() - t0)
        if isinstance(out, Batch):
            self._metrics.series.labels(SOURCE, watch.name).set(out.n_series)
        return out

    def close(self) -> None:
        """Drop the caches (the fleet itself holds no resources)."""
        with self._lock:
            self._cache.clear()
            self._size = 0
        self.logs.close()
