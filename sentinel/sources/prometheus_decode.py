"""Prometheus ``query_range`` answers -> one Batch on the step grid, with the series cap.

Split from :mod:`sentinel.sources.prometheus` (which owns HTTP, retries and
errors) because this is where the per-cycle CPU goes: every sample of every
series passes through here, so the work is arranged as a handful of
C-level passes (list comparisons, ``chain``, ``numpy.fromiter``) instead of
per-point Python.  The decoder keeps small per-watch state: the series
admitted under the cap, a label-key cache, and counter-repair carries.

>>> from prometheus_client import CollectorRegistry
>>> from sentinel.config import WatchConfig
>>> dec = MatrixDecoder(default_cap=10, registry=CollectorRegistry())
>>> answer = [{"metric": {"job": "a"}, "values": [[60, "1.5"], [180, "NaN"]]}]
>>> b = dec.decode(WatchConfig(name="w", query="up", every=60), [answer], np.array([60, 120, 180]))
>>> b.labels, b.values.tolist()
(((('job', 'a'),),), [[1.5, nan, nan]])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry

from sentinel.config import WatchConfig
from sentinel.series import Batch, Labels, first_repeat, format_labels, labels_key
from sentinel.sources.base import SourceError
from sentinel.sources.counters import is_raw_counter_query, repair_counter_resets
from sentinel.sources.metrics import source_metrics

log = logging.getLogger("sentinel.sources.prometheus")

SOURCE = "prometheus"
Result = list[dict[str, Any]]
_METRIC, _VALUES = itemgetter("metric"), itemgetter("values")


class MatrixDecoder:
    """Decodes ``query_range`` results for many watches (state is kept per watch name).

    ``default_cap`` is the series cap for watches without ``max_series``.
    """

    def __init__(self, default_cap: int, registry: CollectorRegistry = REGISTRY) -> None:
        self.default_cap = default_cap
        self._metrics = source_metrics(registry)
        self._admitted: dict[str, list[Labels]] = {}
        self._key_cache: dict[str, dict[tuple[tuple[str, str], ...], Labels]] = {}
        self._last_keys: dict[str, tuple[list[dict[str, str]], list[Labels]]] = {}
        self._counters: dict[str, dict[Labels, tuple[float, float]]] = {}
        self._seen: dict[str, bool] = {}  # did the last answer have series?

    def decode(self, watch: WatchConfig, parts: Sequence[Result], timestamps: np.ndarray) -> Batch:
        """Responses (``data.result`` of each chunk, in time order) -> one batch on ``timestamps``.

        Raises :class:`SourceError` (one line) when the answer is not a Prometheus matrix.
        """
        step = watch.sample_step
        try:
            part_keys = [self._keys(watch.name, result) for result in parts]
            part_values = [list(map(_VALUES, result)) for result in parts]
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
            log.info("watch %r: %d NaN/Inf samples treated as missing", watch.name, nonfinite)
        if not kept and self._seen.get(watch.name):
            log.warning("watch %r: the query returned no series (it did last time)", watch.name)
        self._seen[watch.name] = bool(kept)
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
        metrics = list(map(_METRIC, result))
        last = self._last_keys.get(watch_name)
        if last is not None and last[0] == metrics:
            return last[1]
        cache = self._key_cache.setdefault(watch_name, {})
        if len(cache) > 2 * self.default_cap + len(result):
            cache.clear()  # bounded under label churn
        keys = []
        for m in metrics:
            raw = tuple(m.items())
            key = cache.get(raw)
            if key is None:
                key = cache[raw] = labels_key(raw)
            keys.append(key)
        if (dup := first_repeat(keys)) is not None:  # one model state for two series; Prometheus never sends this
            raise SourceError(f"watch {watch_name!r}: the answer has two series labelled {format_labels(dup)} "
                              "(a proxy that does not deduplicate?); they cannot be told apart")
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
        cap = watch.max_series or self.default_cap
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
