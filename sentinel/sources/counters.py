"""Counter-reset repair for raw counter series.

A counter only goes up, except when the process restarts and it starts again
from zero.  PromQL's ``rate()`` / ``increase()`` already handle that, so
watches should normally query those.  When a watch queries a raw counter
(``agent_tasks_total``), a restart would look like a huge drop; this module
makes the series monotonic the way Prometheus does: whenever a value is
below the previous one, the previous value is added to everything after it.

The repair is vectorised over series and carries its state (last raw value
and accumulated offset per series) from one fetch to the next, so a reset
that falls exactly between two cycles is repaired too.
"""

from __future__ import annotations

import re

import numpy as np

_RAW_COUNTER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*_(?:total|count|sum|bucket))\s*(\{[^{}]*\})?\s*$")


def is_raw_counter_query(query: str) -> bool:
    """True for a bare selector of a counter-named metric (``*_total``, ``*_count``, ``*_sum``, ``*_bucket``).

    Anything with a function or operator is left alone (``rate()`` handles resets itself).

    >>> is_raw_counter_query('agent_tasks_total{status="error"}')
    True
    >>> is_raw_counter_query("rate(agent_tasks_total[5m])"), is_raw_counter_query("agent_queue_depth")
    (False, False)
    """
    return _RAW_COUNTER.match(query) is not None


def repair_counter_resets(
    values: np.ndarray, last: np.ndarray | None = None, offset: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Monotonic repair of ``values`` (series x time, NaN = missing).

    ``last`` / ``offset`` are the per-series carry from the previous call (NaN /
    0 for new series).  Returns ``(repaired, last, offset, n_resets)``; feed the
    returned ``last`` and ``offset`` into the next call.  Missing points stay missing.

    >>> nan = float("nan")
    >>> out, last, off, n = repair_counter_resets(np.array([[5.0, 7.0, 2.0, 4.0, nan, 1.0]]))
    >>> out.tolist(), last.tolist(), off.tolist(), n
    ([[5.0, 7.0, 9.0, 11.0, nan, 12.0]], [1.0], [11.0], 2)
    >>> repair_counter_resets(np.array([[0.5, 3.0]]), last, off)[0].tolist()
    [[12.5, 15.0]]
    """
    n_series, n_steps = values.shape
    last = np.full(n_series, np.nan) if last is None else np.asarray(last, dtype=np.float64)
    offset = np.zeros(n_series) if offset is None else np.asarray(offset, dtype=np.float64)
    if n_steps == 0:
        return values.copy(), last.copy(), offset.copy(), 0
    finite = np.isfinite(values)
    # index of the last finite sample at or before t (-1: none yet in this block)
    upto = np.maximum.accumulate(np.where(finite, np.arange(n_steps), -1), axis=1)
    before = np.concatenate([np.full((n_series, 1), -1), upto[:, :-1]], axis=1)
    rows = np.arange(n_series)[:, None]
    prev = np.where(before >= 0, values[rows, np.maximum(before, 0)], last[:, None])
    reset = finite & (values < prev)
    cum = offset[:, None] + np.cumsum(np.where(reset, prev, 0.0), axis=1)
    repaired = np.where(finite, values + cum, np.nan)
    final = upto[:, -1]
    new_last = np.where(final >= 0, values[np.arange(n_series), np.maximum(final, 0)], last)
    return repaired, new_last, cum[:, -1].copy(), int(reset.sum())
