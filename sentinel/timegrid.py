"""Sorted, distinct timestamps onto a regular grid: the one rule for CSV files and library calls.

Detectors and forecasters work on a regular grid (``grid[i] = first + i * step``).
Input from files and notebooks is not always regular, so every reader places
it with :func:`place`:

- the step is the (lower) median spacing (a few odd spacings do not set it; one
  1-second spacing among hourly samples no longer builds a 1-second grid);
- spacings that are all whole multiples of the step are gaps: missing steps;
- otherwise the input is irregular and its rows are scored as a sequence at the
  median step (what ``sentinel detect`` has always done, the NAB corpus
  included; snapping to the nearest step was tried: NAB's optimised scores
  fell); a forecast of it counts from the real last sample
  (:attr:`Placement.forecast_grid`), not from the sequence's virtual end;
- a grid more than ``20 x rows + 1000`` steps long is refused (mostly gaps:
  0, 60, 120, 1e11 would need gigabytes), with a one-line error.

>>> p = place(np.array([0, 60, 180]))
>>> p.grid.tolist(), p.cells.tolist(), p.step, p.irregular
([0, 60, 120, 180], [0, 1, 3], 60, False)
>>> p = place(np.array([0, 59, 121, 200]))
>>> p.grid.tolist(), p.step, p.irregular, p.forecast_grid.tolist()
([0, 62, 124, 186], 62, True, [14, 76, 138, 200])
>>> place(np.array([0, 1, 3600, 7200, 10800, 14400])).step
3600
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_SPARSITY = 20
"""A grid may have at most this many steps per sample (plus :data:`MAX_EXTRA_STEPS`)."""
MAX_EXTRA_STEPS = 1000


@dataclass(frozen=True)
class Placement:
    """Where each timestamp lands: ``grid[cells[i]]`` is the step of ``timestamps[i]``."""

    grid: np.ndarray  # int64, regular by ``step``
    cells: np.ndarray  # intp, one per input timestamp, strictly increasing
    step: int
    irregular: bool  # scored as a sequence at the median step (the grid times are approximate)
    last: int  # the real last timestamp

    @property
    def forecast_grid(self) -> np.ndarray:
        """The grid moved to end at the real last timestamp: where a forecast's future starts."""
        return self.grid + (self.last - int(self.grid[-1]))


def place(timestamps: np.ndarray, default_step: int = 60) -> Placement:
    """Place sorted, distinct int64 Unix seconds on a grid (see the module doc).

    Raises ValueError (one line) when the timestamps are not sorted and distinct,
    or when the gaps would make the grid too long.

    >>> place(np.array([0, 60, 120, 6 * 10**8]))
    Traceback (most recent call last):
    ...
    ValueError: gaps too large for a 60s step (the series would span 10000001 steps for 4 samples)
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    if ts.ndim != 1 or not len(ts):
        raise ValueError("need a 1-D array of at least one timestamp")
    diffs = np.diff(ts)
    if (diffs <= 0).any():
        raise ValueError(f"timestamps must be sorted and distinct (at {int(ts[1:][diffs <= 0][0])})")
    step = int(max(1, np.sort(diffs)[(len(diffs) - 1) // 2])) if len(diffs) else int(default_step)  # lower median
    if (diffs % step == 0).all():
        cells = (ts - ts[0]) // step
        span = int(cells[-1]) + 1
        if span > MAX_SPARSITY * len(ts) + MAX_EXTRA_STEPS:  # checked before the grid is built
            raise ValueError(f"gaps too large for a {step}s step (the series would span {span} steps "
                             f"for {len(ts)} samples)")
        return Placement(ts[0] + np.arange(span, dtype=np.int64) * step, cells.astype(np.intp), step, False,
                         int(ts[-1]))
    cells = np.arange(len(ts), dtype=np.intp)
    return Placement(ts[0] + cells.astype(np.int64) * step, cells, step, True, int(ts[-1]))
