"""Series identity and aligned batches: the one data shape between stages.

A series is identified by its full label set.  A :class:`Batch` holds many
series sampled on one shared, regular time grid: ``values[s, t]`` is series
``s`` at ``timestamps[t]``; NaN means *missing* (never zero).  Every stage
after the sources speaks batches, so detectors can work on whole numpy
arrays instead of one Python object per point.

>>> b = Batch.from_rows([{"agent": "a1"}, {"agent": "a2"}],
...                     timestamps=[0, 60, 120],
...                     values=[[1.0, 2.0, 3.0], [5.0, float("nan"), 7.0]])
>>> b.n_series, b.n_steps, b.step
(2, 3, 60)
>>> b.labels[1]
(('agent', 'a2'),)
>>> b.select([1]).values.tolist()
[[5.0, nan, 7.0]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sentinel.series_index import SeriesIndex

Labels = tuple[tuple[str, str], ...]
"""A series identity: its labels as sorted ``(name, value)`` pairs (hashable)."""
MAX_UNIX_SECONDS = 10**11
"""Timestamps and steps beyond this (about 3,000 years either side of 1970) are not Unix seconds."""


def labels_key(labels: Mapping[str, str] | Labels) -> Labels:
    """The canonical, hashable identity of a label set.

    A None or empty value is an absent label, as in Prometheus, from every source (never ``"None"``).

    >>> labels_key({"b": "2", "a": "1"}), labels_key({"agent": None, "zone": "", "a": 0})
    ((('a', '1'), ('b', '2')), (('a', '0'),))
    """
    items = labels.items() if isinstance(labels, Mapping) else labels
    return tuple(sorted((str(k), str(v)) for k, v in items if v is not None and v != ""))


def labels_dict(key: Labels) -> dict[str, str]:
    """Labels back as a plain dict (for JSON, Alertmanager, exporters)."""
    return dict(key)


def format_labels(key: Labels) -> str:
    """PromQL-style rendering for logs and tables.

    >>> format_labels((("agent", "a1"), ("status", "error")))
    '{agent="a1", status="error"}'
    """
    return "{" + ", ".join(f'{k}="{v}"' for k, v in key) + "}"


def first_repeat(keys: Sequence[Labels]) -> Labels | None:
    """The first label set that occurs twice in ``keys`` (None if all differ).

    Detectors keep one state per label set, so two series with one label
    set would silently overwrite each other's learning: the edges refuse them.

    >>> first_repeat([(("a", "1"),), (("a", "2"),), (("a", "1"),)])
    (('a', '1'),)
    """
    if len(set(keys)) == len(keys):
        return None
    seen: set[Labels] = set()
    return next(k for k in keys if k in seen or seen.add(k))  # type: ignore[func-returns-value]


def _whole_seconds(step: object) -> bool:
    """Whether ``step`` is a whole number of seconds in 1..:data:`MAX_UNIX_SECONDS` (not a bool)."""
    try:
        return not isinstance(step, bool) and float(step).is_integer() and 0 < float(step) <= MAX_UNIX_SECONDS  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Batch:
    """Series x time values on a shared regular grid.

    ``timestamps`` are int64 Unix seconds, strictly increasing, evenly spaced
    by ``step`` (a single-step batch carries its step explicitly).
    """

    timestamps: np.ndarray
    values: np.ndarray
    labels: tuple[Labels, ...]
    step: int

    def __post_init__(self) -> None:
        if self.values.ndim != 2:
            raise ValueError(f"values must be 2-D (series x time), got {self.values.ndim}-D")
        if self.values.shape != (len(self.labels), len(self.timestamps)):
            raise ValueError(
                f"values shape {self.values.shape} does not match "
                f"{len(self.labels)} series x {len(self.timestamps)} timestamps"
            )
        if self.step <= 0:
            raise ValueError(f"step must be positive, got {self.step}")

    @classmethod
    def from_rows(
        cls,
        labels: Iterable[Mapping[str, str] | Labels],
        timestamps: Sequence[int] | np.ndarray,
        values: Sequence[Sequence[float]] | np.ndarray,
        step: int | None = None,
    ) -> Batch:
        """Build a batch, validating the grid and the series (the public entry point).

        Fractional or NaN timestamps are refused rather than truncated, and
        so are two series with one label set: a detector keeps one state per
        label set, so the second's data would silently replace the first's.

        >>> Batch.from_rows([{"a": "1"}, {"a": "1"}], [0, 60], [[1, 2], [3, 4]])
        Traceback (most recent call last):
        ...
        ValueError: series {a="1"} appears twice: each series needs its own label set
        """
        raw = np.asarray(timestamps)
        if raw.dtype.kind == "f" and not (np.isfinite(raw) & (raw == np.floor(raw))).all():
            raise ValueError("timestamps must be whole Unix seconds (got fractional, NaN or infinite ones)")
        try:  # beyond the bound, int64 wraps (1e20 became -2**63) and grid arithmetic overflows
            far = raw.size and not (np.abs(raw.astype(np.float64)) <= MAX_UNIX_SECONDS).all()
        except (TypeError, ValueError):
            far = False  # not numbers: the int64 conversion below says so
        if far:
            raise ValueError(f"timestamps must be Unix seconds within ±{MAX_UNIX_SECONDS:.0e} (about 3,000 years of "
                             "1970): milliseconds or nanoseconds?")
        ts = np.asarray(raw, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64)
        if vals.ndim == 1:
            vals = vals[None, :]
        if ts.ndim != 1:
            raise ValueError("timestamps must be 1-D")
        diffs = np.diff(ts)
        if len(diffs) and (diffs <= 0).any():
            raise ValueError("timestamps must be strictly increasing")
        if step is None:
            if not len(diffs):
                raise ValueError("a single-step batch needs an explicit step")
            step = int(diffs[0])
        elif not _whole_seconds(step):  # 60.5 was truncated to 60, True read as 1, 1e30 overflowed later
            raise ValueError(f"step must be a whole number of seconds in 1..{MAX_UNIX_SECONDS:.0e}, got {step!r}")
        if len(diffs) and (diffs != step).any():
            raise ValueError(f"timestamps are not on a regular {step}s grid")
        vals = np.where(np.isfinite(vals), vals, np.nan)
        keys = tuple(labels_key(lb) for lb in labels)
        if (dup := first_repeat(keys)) is not None:
            raise ValueError(f"series {format_labels(dup)} appears twice: each series needs its own label set")
        return cls(ts, vals, keys, int(step))

    @property
    def n_series(self) -> int:
        return self.values.shape[0]

    @property
    def n_steps(self) -> int:
        return self.values.shape[1]

    @property
    def end(self) -> int:
        """Timestamp of the last step (or -1 for an empty batch)."""
        return int(self.timestamps[-1]) if len(self.timestamps) else -1

    def select(self, rows: Sequence[int] | np.ndarray) -> Batch:
        """A batch of the given series rows."""
        rows = np.asarray(rows, dtype=np.intp)
        return Batch(self.timestamps, self.values[rows], tuple(self.labels[i] for i in rows), self.step)

    def window(self, start: int, stop: int | None = None) -> Batch:
        """A batch of time columns ``[start:stop]`` (column indices)."""
        return Batch(self.timestamps[start:stop], self.values[:, start:stop], self.labels, self.step)

    def with_label(self, name: str, value: str) -> Batch:
        """Every series with one more label (e.g. ``watch``)."""
        labels = tuple(labels_key((*[kv for kv in lb if kv[0] != name], (name, value))) for lb in self.labels)
        return Batch(self.timestamps, self.values, labels, self.step)


def last_observed(values: np.ndarray) -> np.ndarray:
    """Per row of ``values`` (series x time), the column of its last non-NaN value; -1 when it has none.

    >>> last_observed(np.array([[1.0, np.nan], [np.nan, np.nan], [np.nan, 2.0]])).tolist()
    [0, -1, 1]
    """
    has = ~np.isnan(values)
    if not values.shape[1]:
        return np.full(values.shape[0], -1, dtype=np.intp)
    return np.where(has.any(axis=1), values.shape[1] - 1 - np.argmax(has[:, ::-1], axis=1), -1)


def concat_time(batches: Sequence[Batch]) -> Batch:
    """Join consecutive batches of the same series along time."""
    first = batches[0]
    return Batch(
        np.concatenate([b.timestamps for b in batches]),
        np.concatenate([b.values for b in batches], axis=1),
        first.labels,
        first.step,
    )


def append_window(history: Batch | None, new: Batch, keep: int) -> Batch:
    """``history`` extended by ``new`` (series aligned by labels, gaps as NaN), trimmed to the last ``keep`` seconds.

    Used by stages that need a rolling window (forecasts); new series get NaN
    history, vanished ones keep theirs until it ages out.

    >>> a = Batch.from_rows([{"s": "x"}], [0, 60], [[1.0, 2.0]])
    >>> b = Batch.from_rows([{"s": "y"}, {"s": "x"}], [180], [[7.0], [4.0]], step=60)
    >>> w = append_window(a, b, keep=180)
    >>> w.timestamps.tolist(), w.values.tolist()
    ([60, 120, 180], [[2.0, nan, 4.0], [nan, nan, 7.0]])
    """
    if history is None or not history.n_steps:
        merged = new
    elif not new.n_steps:
        merged = history
    else:
        idx = SeriesIndex(history.labels)
        rows = idx.rows(new.labels)
        ts = np.arange(history.timestamps[0], new.end + 1, new.step, dtype=np.int64)
        vals = np.full((len(idx), len(ts)), np.nan)
        vals[: history.n_series, (history.timestamps - ts[0]) // new.step] = history.values
        vals[rows[:, None], ((new.timestamps - ts[0]) // new.step)[None, :]] = new.values
        merged = Batch(ts, vals, tuple(idx.keys), new.step)
    first = int(np.searchsorted(merged.timestamps, merged.end - keep, side="right"))
    return merged.window(first)
