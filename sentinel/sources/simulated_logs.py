"""The simulated fleet's own logs as a log source: counts per group and a bounded message sample.

The in-process twin of :mod:`sentinel.sources.elasticsearch` for the embedded
default: a log watch on the simulated fleet gets the same two answers an
Elasticsearch node would give for the fleet's ECS records
(:mod:`sentinel.fleet.logs`), without a node:

* :meth:`SimulatedLogs.fetch` -- lines per group on the step grid (a real zero
  where a group logged nothing; groups seen before stay, as zeros);
* :meth:`SimulatedLogs.sample` -- at most ``max_messages`` messages of the
  range, in time order.  Unlike Elasticsearch's time-ordered cut, an
  over-full range is sampled **uniformly** (seeded by the range, so a replay
  samples the same lines): every step keeps a share of its lines, and the
  template tracker scales sampled counts by each group's total
  (:mod:`sentinel.logs.patterns`).  Only sampled lines are rendered into
  text, which is what keeps a simulated week of logs cheap.

Queries are the subset of Lucene ``query_string`` that log watches use on
ECS fields: ``*``, ``field:value``, ``field:(a OR b)``, joined with ``AND``;
fields ``log.level``, ``service.name``, ``labels.tool`` and ``event.dataset``
(also the only ``group_by`` fields).  Anything else is a
:class:`~sentinel.sources.simulated.SimulatedQueryError` naming what is supported.

Lines come from :mod:`sentinel.fleet.logs` in day-long blocks (one
generation per simulated day, kept in a small cache shared by every watch),
error lines and the other lines in separate blocks: a query on
``log.level:error`` (the embedded default's) never generates the info lines,
about 14 in 15 of the fleet's lines; a query matching both merges the two
blocks into the same time order as one generation.

>>> from sentinel.config import WatchConfig
>>> from sentinel.fleet import Fleet
>>> f = Fleet(agents=2)
>>> w = WatchConfig(name="e", every=300, logs={"index": "x", "query": "log.level:error",
...                                            "group_by": ["service.name"]})
>>> logs = SimulatedLogs(f)
>>> b = logs.fetch(w, f.start, f.start + 3600)
>>> b.n_series, b.n_steps, b.labels[0]
(2, 12, (('service_name', 'agent-00'),))
>>> s = logs.sample(w, f.start, f.start + 3600)
>>> len(s.records) == int(b.values.sum()) and {r.level for r in s.records} == {"error"}
True
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from sentinel.config import LogsQueryConfig, WatchConfig
from sentinel.fleet.logs import LINE_TEMPLATES, agent_lines, render_lines
from sentinel.fleet.model import Fleet
from sentinel.labels import clean_label_name
from sentinel.logs.records import LogRecord, Sample
from sentinel.series import Batch, Labels, labels_key
from sentinel.sources.base import SourceError, check_span, grid

BLOCK = 86400
"""Seconds of fleet logs generated together (one day)."""
_CACHE_BLOCKS = 3
"""Day blocks kept per part (error lines, other lines)."""


class SimulatedLogQueryError(SourceError, ValueError):
    """A log query or group-by field the simulated fleet cannot answer (one line)."""


_LEVELS = np.array([t.level for t in LINE_TEMPLATES], dtype=object)
_FIELDS: dict[str, np.ndarray] = {
    "log.level": _LEVELS,
    "labels.tool": np.array([t.tool or "" for t in LINE_TEMPLATES], dtype=object),
    "event.dataset": np.array([t.dataset for t in LINE_TEMPLATES], dtype=object),
}
FIELDS = ("log.level", "service.name", "labels.tool", "event.dataset")
_IS_ERROR = _LEVELS == "error"
_TERM = re.compile(r'^\s*([a-z][a-z.]*)\s*:\s*(?:\(([^()]*)\)|"([^"]*)"|([^\s()"]+))\s*$')


def parse_log_query(query: str) -> list[tuple[str, frozenset[str]]]:
    """``field:value AND field:(a OR b)`` -> [(field, allowed values)]; ``*`` -> [].

    >>> [(f, sorted(v)) for f, v in parse_log_query('log.level:(error OR warn) AND labels.tool:search')]
    [('log.level', ['error', 'warn']), ('labels.tool', ['search'])]
    """
    q = query.strip()
    if q in ("", "*"):
        return []
    terms = []
    for part in re.split(r"\s+AND\s+", q):
        m = _TERM.match(part)
        if not m or m.group(1) not in FIELDS:
            raise SimulatedLogQueryError(
                f"simulated log query {query!r}: use `*` or `field:value` / `field:(a OR b)` joined by AND, "
                f"on {', '.join(FIELDS)}")
        values = m.group(2) if m.group(2) is not None else (m.group(3) if m.group(3) is not None else m.group(4))
        terms.append((m.group(1), frozenset(v.strip().strip('"') for v in re.split(r"\s+OR\s+", values.strip()))))
    return terms


@dataclass(frozen=True)
class _Lines:
    """One block of lines, in time order: timestamp (ms), template number, agent index, line counter."""

    ts: np.ndarray
    tpl: np.ndarray
    agent: np.ndarray
    counter: np.ndarray


class SimulatedLogs:
    """Log counts and samples of a :class:`~sentinel.fleet.Fleet` (see the module doc)."""

    def __init__(self, fleet: Fleet, max_messages: int = 10_000) -> None:
        if max_messages <= 0:
            raise ValueError("max_messages must be positive")
        self.fleet = fleet
        self.max_messages = max_messages
        self._cache: OrderedDict[int, _Lines] = OrderedDict()
        self._lock = threading.Lock()
        self._known: dict[str, dict[Labels, None]] = {}
        self._agents = np.array(fleet.agents, dtype=object)

    # -- lines ------------------------------------------------------------------------

    def _block(self, index: int, errors: bool) -> _Lines:
        """Day ``index``'s error lines (``errors``) or its other lines, in time order."""
        key = (index, errors)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        f = self.fleet
        t = np.arange(index * BLOCK, (index + 1) * BLOCK, f.step, dtype=np.int64)
        incs = f.incidents(int(t[0]), int(t[-1]) + f.step)
        parts = [(*agent_lines(f, i, t, incs, errors), i) for i in range(f.n_agents)]
        ts = np.concatenate([p[0] for p in parts])
        order = np.argsort(ts, kind="stable")
        lines = _Lines(
            ts[order], np.concatenate([p[1] for p in parts])[order],
            np.concatenate([np.full(len(p[0]), p[3], dtype=np.int32) for p in parts])[order],
            np.concatenate([p[2] for p in parts])[order],
        )
        with self._lock:
            self._cache[key] = lines
            while len(self._cache) > 2 * _CACHE_BLOCKS:
                self._cache.popitem(last=False)
        return lines

    def _lines(self, q: LogsQueryConfig, start: int, end: int) -> _Lines:
        """Lines of ``[start, end)`` matching the watch's query, in time order."""
        terms = parse_log_query(q.query)
        for f in q.group_by:
            if f not in FIELDS:
                raise SimulatedLogQueryError(f"simulated logs cannot group by {f!r}; use {', '.join(FIELDS)}")
        tables = [(field, np.isin(self._domain(field), list(allowed))) for field, allowed in terms]
        matching = np.ones(len(LINE_TEMPLATES), dtype=bool)  # templates the query can match
        for field, table in tables:
            if field != "service.name":
                matching &= table
        kinds = [e for e in (True, False) if matching[_IS_ERROR if e else ~_IS_ERROR].any()]
        parts = []
        for index in range(start // BLOCK, -(-end // BLOCK)) if kinds else ():
            day = []
            for errors in kinds:
                b = self._block(index, errors)
                lo, hi = np.searchsorted(b.ts, [start * 1000, end * 1000])
                keep = np.ones(hi - lo, dtype=bool)
                for field, table in tables:  # a lookup table per field: template or agent -> matches
                    keep &= table[b.agent[lo:hi] if field == "service.name" else b.tpl[lo:hi]]
                sel = np.arange(lo, hi)[keep]
                day.append(_Lines(b.ts[sel], b.tpl[sel], b.agent[sel], b.counter[sel]))
            parts.append(day[0] if len(day) == 1 else _merge(day))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return _Lines(empty, empty, empty.astype(np.int32), empty)
        return _Lines(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("ts", "tpl", "agent", "counter")))

    def _domain(self, field: str) -> np.ndarray:
        """A field's value per template number (per agent index for ``service.name``)."""
        return self._agents if field == "service.name" else _FIELDS[field]

    def _values(self, field: str, tpl: np.ndarray, agent: np.ndarray) -> np.ndarray:
        return self._agents[agent] if field == "service.name" else _FIELDS[field][tpl]

    def _codes(self, field: str, lines: _Lines) -> tuple[np.ndarray, np.ndarray]:
        """(distinct values, code per line) of a group-by field, without touching strings per line."""
        domain = self._domain(field)
        values, code_of = np.unique(domain.astype(str), return_inverse=True)
        return values, code_of[lines.agent if field == "service.name" else lines.tpl]

    # -- the log source interface ----------------------------------------------------

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch:
        """Lines per group on the grid ``start, start+step, ... < end`` (groups seen before stay, as zeros)."""
        q = _logs(watch)
        step = watch.sample_step
        first, stop = grid(int(start), int(end), step)
        check_span(watch, first, stop)
        timestamps = np.arange(first, stop, step, dtype=np.int64)
        lines = self._lines(q, first, stop)
        cols = (lines.ts // 1000 - first) // step
        names = [clean_label_name(f) for f in q.group_by]
        key = np.zeros(len(lines.ts), dtype=np.int64)
        domains = []
        for f in q.group_by:  # mixed-radix group key from per-field codes
            values, code = self._codes(f, lines)
            key = key * len(values) + code
            domains.append(values)
        uniq, inverse = np.unique(key, return_inverse=True)
        found = []
        for k in uniq.tolist():
            parts = []
            for values in reversed(domains):
                k, c = divmod(k, len(values))
                parts.append(str(values[c]))
            found.append(labels_key(dict(zip(names, reversed(parts), strict=True))))
        counts = np.zeros((len(found), len(timestamps)))
        np.add.at(counts, (inverse.reshape(-1), cols), 1.0)
        cap = min(q.max_groups, watch.max_series or q.max_groups)
        known = self._known.setdefault(watch.name, {})
        row_of = {k: r for r, k in enumerate(found)}
        for k in found:
            if k not in known and len(known) < cap:
                known[k] = None
        keys_out = list(known)
        values = np.array([counts[row_of[k]] if k in row_of else np.zeros(len(timestamps)) for k in keys_out])
        return Batch(timestamps, values.reshape(len(keys_out), len(timestamps)), tuple(keys_out), step)

    def sample(self, watch: WatchConfig, start: int, end: int) -> Sample:
        """At most ``max_messages`` lines of ``[start, end)``, uniformly chosen, in time order, rendered."""
        q = _logs(watch)
        lines = self._lines(q, int(start), int(end))
        n = len(lines.ts)
        idx = np.arange(n)
        if n > self.max_messages:
            rng = np.random.default_rng([self.fleet.seed, int(start), int(end)])
            idx = np.sort(rng.choice(n, size=self.max_messages, replace=False))
        tpl, agent, counter = lines.tpl[idx], lines.agent[idx], lines.counter[idx]
        messages = render_lines(self.fleet, agent, tpl, counter)
        names = [clean_label_name(f) for f in q.group_by]
        groups = [self._values(f, tpl, agent) for f in q.group_by]
        key_of: dict[tuple[str, ...], Labels] = {}
        levels = _LEVELS[tpl].tolist()
        times = (lines.ts[idx] / 1000.0).tolist()
        records = []
        for r, values in enumerate(zip(*groups, strict=True) if groups else [()] * len(idx)):
            key = key_of.get(values)
            if key is None:
                key = key_of[values] = labels_key(dict(zip(names, values, strict=True)))
            records.append(LogRecord(times[r], levels[r], messages[r], key))
        return Sample(records, float(end), 0)

    def close(self) -> None:
        with self._lock:
            self._cache.clear()


def _merge(parts: list[_Lines]) -> _Lines:
    """Error lines and other lines of one day in the order one generation of both gives.

    That order is by timestamp, then agent, then error lines before the others,
    then generation order (each part already is in it), so the sample's
    uniform draw picks the same lines.
    """
    cat = [np.concatenate([getattr(p, k) for p in parts]) for k in ("ts", "tpl", "agent", "counter")]
    part = np.repeat(np.arange(len(parts)), [len(p.ts) for p in parts])
    order = np.lexsort((part, cat[2], cat[0]))  # stable: within a part, generation order is kept
    return _Lines(*(c[order] for c in cat))


def _logs(watch: WatchConfig) -> LogsQueryConfig:
    if watch.logs is None:
        raise SimulatedLogQueryError(f"watch {watch.name!r} is not a log watch (it has no `logs:` section)")
    return watch.logs
