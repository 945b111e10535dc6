"""Stable row numbers for series identities: how every stateful stage finds a series' row in its arrays.

Detectors, policies, the exporter and retention keep per-series state in
numpy arrays; a :class:`SeriesIndex` maps each label set to its row, adds
new series at the end and compacts when series are forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # sentinel.series builds on this module (append_window)
    from sentinel.series import Labels


class SeriesIndex:
    """Stable row numbers for series identities, growing as new series appear.

    Model state arrays are indexed by these rows, so a series keeps its state
    when it vanishes from one query result and comes back in the next.

    >>> idx = SeriesIndex()
    >>> idx.rows([(("agent", "a"),), (("agent", "b"),)]).tolist()
    [0, 1]
    >>> idx.rows([(("agent", "b"),), (("agent", "c"),)]).tolist()
    [1, 2]
    >>> len(idx)
    3
    """

    def __init__(self, keys: Iterable[Labels] = ()) -> None:
        self._rows: dict[Labels, int] = {}
        self.keys: list[Labels] = []
        self._last: tuple[tuple[Labels, ...], np.ndarray] | None = None
        for k in keys:
            self._add(k)

    def _add(self, key: Labels) -> int:
        row = self._rows[key] = len(self.keys)
        self.keys.append(key)
        return row

    def rows(self, keys: Iterable[Labels]) -> np.ndarray:
        """Row numbers of ``keys``, adding unseen ones at the end.

        A steady watch asks for the same series in the same order every
        cycle (often the very same label objects), so the last answer is
        kept: comparing two sequences of identical objects is a C-level
        pointer walk, where the lookups cost a dict probe per series.
        """
        if isinstance(keys, tuple | list):
            keys = tuple(keys)
            if self._last is not None and self._last[0] == keys:
                return self._last[1].copy()
        get = self._rows.get
        rows = np.fromiter(
            (r if (r := get(k)) is not None else self._add(k) for k in keys), dtype=np.intp
        )
        if isinstance(keys, tuple):
            self._last = (keys, rows.copy())
        return rows

    def find(self, keys: Sequence[Labels]) -> np.ndarray:
        """Row numbers of ``keys``, -1 for unknown ones (nothing is added).

        >>> SeriesIndex([(("a", "1"),)]).find([(("a", "2"),), (("a", "1"),)]).tolist()
        [-1, 0]
        """
        keys = tuple(keys)
        if self._last is not None and self._last[0] == keys:
            return self._last[1].copy()
        get = self._rows.get
        return np.fromiter((get(k, -1) for k in keys), dtype=np.intp, count=len(keys))

    def forget(self, keys: Iterable[Labels]) -> np.ndarray | None:
        """Drop ``keys`` in place; the mask of old rows kept (None when none of them was known).

        The series that remain keep their order, so a state array indexed by
        the old rows is compacted with ``array[mask]`` and stays aligned;
        a forgotten series that comes back gets a new row at the end.

        >>> idx = SeriesIndex([(("a", "1"),), (("a", "2"),), (("a", "3"),)])
        >>> idx.forget([(("a", "2"),), (("a", "9"),)]).tolist()
        [True, False, True]
        >>> idx.rows([(("a", "3"),), (("a", "2"),)]).tolist()
        [1, 2]
        """
        drop = [r for k in keys if (r := self._rows.get(k)) is not None]
        if not drop:
            return None
        keep = np.ones(len(self.keys), dtype=bool)
        keep[drop] = False
        self.keys = [k for k, kept in zip(self.keys, keep.tolist(), strict=True) if kept]
        self._rows = {k: r for r, k in enumerate(self.keys)}
        self._last = None
        return keep

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key: object) -> bool:
        return key in self._rows


def compact(state: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    """Per-series state arrays without the rows :meth:`SeriesIndex.forget` dropped (``keep``: its mask).

    An array grown lazily may be shorter than the index (series seen but not yet given state).

    >>> compact({"x": np.array([1.0, 2.0, 3.0])}, np.array([True, False, True, True]))["x"].tolist()
    [1.0, 3.0]
    """
    return {k: v[keep[: len(v)]] for k, v in state.items()}
