"""The /metrics exporter: the latest scores, bands and forecasts of every watched series.

A custom prometheus_client collector over the latest :class:`~sentinel.watch.CycleResult`
of each watch.  Every series gets ``watch`` plus its own labels, so a
dashboard can put ``sentinel_anomaly_score`` next to the watch's own query.

Label rules (documented in the README's /metrics contract):

- ``__name__`` is dropped, as Prometheus drops it from rule results;
- a series label that clashes with one sentinel adds (``watch``, ``bound``,
  ``horizon``) is renamed ``exported_<name>`` (as Prometheus does on scrape
  with ``honor_labels: false``), repeatedly if that name is taken too;
- characters outside ``[a-zA-Z0-9_]`` become ``_``, a leading digit gets a
  ``_`` prefix, and other names starting with ``__`` (reserved) get the
  ``exported_`` prefix.

>>> export_labels((("__name__", "up"), ("watch", "x"), ("k8s.pod", "p")), "w")
{'exported_watch': 'x', 'k8s_pod': 'p', 'watch': 'w'}

A series whose newest finite sample is more than ``stale_steps`` steps older
than the watch's newest sample is no longer exported (it vanished; its
alerts resolve through the policy's ``absent_for``).

Rendering: the collector writes its own exposition text
(:meth:`ResultCollector.render`) instead of being a prometheus_client
collector.  It holds one sample per series per value, so at 10k series a
scrape is 40k+ samples, and prometheus_client formats each one in Python
(about 9 µs each, 0.47 s per scrape measured at 10k series); here each
row's label text is built once, when the series first appears, and a
scrape is one f-string per sample.  :func:`exposition` joins it to the
self-monitoring registry's text (Prometheus or OpenMetrics format).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from sentinel.labels import clean_label_name
from sentinel.publish import metrics as m
from sentinel.series import Labels
from sentinel.series_index import SeriesIndex
from sentinel.watch import CycleResult, latest_scores

_RESERVED = ("watch", "bound", "horizon")
_HELP = {
    m.ANOMALY_SCORE: "Latest anomaly score in [0, 1] (1 - tail probability under the learned normal).",
    m.EXPECTED_VALUE: "Expected value (bound=mid) and band (bound=lower|upper) at the latest sample.",
    m.FORECAST_VALUE: "Forecast of the watched value at a horizon from the latest sample.",
    m.TIME_TO_LIMIT: "Forecast seconds until the watch's limit is crossed.",
}


def export_labels(labels: Labels, watch: str, reserved: Sequence[str] = _RESERVED) -> dict[str, str]:
    """The label set a series is exported with (see the module docstring for the rules)."""
    out: dict[str, str] = {}
    for name, value in labels:
        if name == "__name__":
            continue
        name = clean_label_name(name)
        while name in reserved or name in out:
            name = "exported_" + name
        out[name] = value
    out["watch"] = watch
    return out


@dataclass
class _Table:
    """Latest values per series of one watch (rows from a SeriesIndex)."""

    index: SeriesIndex = field(default_factory=SeriesIndex)
    labels: list[dict[str, str]] = field(default_factory=list)
    texts: dict[tuple[str, str] | None, list[str]] = field(default_factory=dict)  # rendered, per extra label
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    step: int = 60
    newest: int = np.iinfo(np.int64).min

    def rows(self, watch: str, keys: Sequence[Labels]) -> np.ndarray:
        rows = self.index.rows(keys)
        for key in self.index.keys[len(self.labels):]:
            self.labels.append(export_labels(key, watch))
        n = len(self.index)
        for name, col in self.cols.items():
            if len(col) < n:
                fill = np.iinfo(np.int64).min if col.dtype == np.int64 else np.nan
                self.cols[name] = np.concatenate([col, np.full(n - len(col), fill, dtype=col.dtype)])
        return rows

    def text(self, extra: tuple[str, str] | None) -> list[str]:
        """Each row's label text (sorted, escaped) with ``extra`` added; built once per row."""
        done = self.texts.setdefault(extra, [])
        for labels in self.labels[len(done):]:
            full = {**labels, extra[0]: extra[1]} if extra else labels
            done.append(",".join(f'{k}="{_escape(v)}"' for k, v in sorted(full.items())))
        return done

    def forget(self, keys: Sequence[Labels]) -> None:
        """Drop the rows of series the watch forgot (:mod:`sentinel.retention`): their label sets go too."""
        keep = self.index.forget(keys)
        if keep is None:
            return
        kept = np.flatnonzero(keep).tolist()
        self.labels = [self.labels[r] for r in kept]
        self.texts = {extra: [done[r] for r in kept if r < len(done)] for extra, done in self.texts.items()}
        self.cols = {name: col[keep] for name, col in self.cols.items()}

    def col(self, name: str, dtype: type = np.float64) -> np.ndarray:
        if name not in self.cols:
            fill = np.iinfo(np.int64).min if dtype is np.int64 else np.nan
            self.cols[name] = np.full(len(self.index), fill, dtype=dtype)
        return self.cols[name]


class ResultCollector:
    """Exports the latest results of every watch (:func:`exposition` renders it with a registry).

    ``update(result)`` after each cycle (it also drops the rows of the series
    the cycle forgot); ``update_forecast(...)`` when a watch forecasts;
    ``forget(watch)`` when a watch is removed.  Thread-safe: cycles
    of different watches update it while Prometheus scrapes.
    """

    def __init__(self, stale_steps: int = 5) -> None:
        self.stale_steps = stale_steps
        self._lock = threading.Lock()
        self._tables: dict[str, _Table] = {}

    def update(self, result: CycleResult) -> None:
        """Take the newest finite score, value and band of every series in ``result``."""
        if result.forgotten:
            with self._lock:
                if (table := self._tables.get(result.watch)) is not None:
                    table.forget([k for keys in result.forgotten.values() for k in keys])
        if result.forecast is not None:
            self.update_forecast(**result.forecast.exporter_args())  # type: ignore[arg-type]
        batch = result.batch
        if batch.n_series == 0 or batch.n_steps == 0:
            return
        latest = latest_scores(result)
        has = ~np.isnan(batch.values)
        last_idx = batch.n_steps - 1 - np.argmax(has[:, ::-1], axis=1)
        seen_at = np.where(has.any(axis=1), batch.timestamps[last_idx], np.iinfo(np.int64).min)
        ok = seen_at != np.iinfo(np.int64).min
        with self._lock:
            t = self._tables.setdefault(result.watch, _Table())
            rows = t.rows(result.watch, batch.labels)
            t.step = batch.step
            t.newest = max(t.newest, batch.end)
            for name in ("score", "expected", "lower", "upper"):
                t.col(name)[rows[ok]] = latest[name][ok]
            t.col("seen", np.int64)[rows[ok]] = seen_at[ok]

    def update_forecast(
        self,
        watch: str,
        labels: Sequence[Labels],
        at: int,
        horizons: Mapping[str, np.ndarray] | None = None,
        time_to_limit: np.ndarray | None = None,
    ) -> None:
        """Forecasts made at ``at`` for ``labels``: ``horizons`` maps a horizon
        name (``"1h"``) to one value per series; ``time_to_limit`` holds seconds
        per series (NaN = the limit is not reached within the horizon)."""
        with self._lock:
            t = self._tables.setdefault(watch, _Table())
            rows = t.rows(watch, labels)
            t.newest = max(t.newest, int(at))
            t.col("seen", np.int64)[rows] = np.maximum(t.col("seen", np.int64)[rows], int(at))
            for name, values in (horizons or {}).items():
                t.col(f"h:{name}")[rows] = np.asarray(values, dtype=np.float64)
            if time_to_limit is not None:
                t.col("ttl")[rows] = np.asarray(time_to_limit, dtype=np.float64)

    def forget(self, watch: str) -> None:
        with self._lock:
            self._tables.pop(watch, None)

    def series(self, watch: str) -> int:
        """Series of ``watch`` currently exported."""
        with self._lock:
            t = self._tables.get(watch)
            return 0 if t is None else int(self._fresh(t).sum())

    def _fresh(self, t: _Table) -> np.ndarray:
        return t.col("seen", np.int64) >= t.newest - self.stale_steps * t.step

    def render(self) -> bytes:
        """The result families in the Prometheus text format (also valid inside OpenMetrics)."""
        lines: dict[str, list[str]] = {name: [] for name in _HELP}
        with self._lock:
            for t in self._tables.values():
                fresh = self._fresh(t)
                for col_name, col in t.cols.items():
                    family = _family(col_name)
                    if family is None:
                        continue
                    name, extra = family
                    rows = np.flatnonzero(fresh & ~np.isnan(col))
                    text, values = t.text(extra), _values(col[rows])
                    lines[name].extend(f"{name}{{{text[r]}}} {v}\n" for r, v in zip(rows.tolist(), values, strict=True))
        out: list[str] = []
        for name, body in lines.items():
            out.append(f"# HELP {name} {_HELP[name]}\n# TYPE {name} gauge\n")
            out.extend(body)
        return "".join(out).encode()


def exposition(registry: CollectorRegistry, results: ResultCollector, accept: str | None) -> tuple[bytes, str]:
    """The /metrics body and content type: ``registry`` (self-monitoring) plus the results.

    >>> body, kind = exposition(CollectorRegistry(), ResultCollector(), None)
    >>> kind.startswith("text/plain"), body.splitlines()[1]
    (True, b'# TYPE sentinel_anomaly_score gauge')
    """
    encoder, content_type = choose_encoder(accept)
    body, eof = encoder(registry), b"# EOF\n"
    if body.endswith(eof):  # OpenMetrics: every family before the end marker
        return body[: -len(eof)] + results.render() + eof, content_type
    return body + results.render(), content_type


def _family(col: str) -> tuple[str, tuple[str, str] | None] | None:
    """(metric name, extra label) a table column is exported as; None for bookkeeping columns."""
    if col == "score":
        return m.ANOMALY_SCORE, None
    if col in ("expected", "lower", "upper"):
        return m.EXPECTED_VALUE, ("bound", "mid" if col == "expected" else col)
    if col.startswith("h:"):
        return m.FORECAST_VALUE, ("horizon", col[2:])
    if col == "ttl":
        return m.TIME_TO_LIMIT, None
    return None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _values(col: np.ndarray) -> list[str]:
    """Finite floats as Python writes them (Prometheus reads that), infinities as ``+Inf`` / ``-Inf``."""
    if np.isinf(col).any():
        return [repr(v) if abs(v) != float("inf") else ("+Inf" if v > 0 else "-Inf") for v in col.tolist()]
    return [repr(v) for v in col.tolist()]
