"""The novelty channel's ceiling check: has the peak of the last day ever been this low?

A day that misses its usual high (NAB's art_daily_nojump: the daily plateau
does not come; nyc_taxi's holidays; a disk-write series that goes flat)
holds no unusual value, no unusual EW mean and no unusual short sequence:
point by point it looks like the quiet part of any day, and the inner
model's seasonal profile follows it.  At the scale of the daily period it
is plain: the maximum of the last day's values is below every such maximum
the series has shown.  This check looks at that scale, in ``blocks``
blocks of ``m`` values (``m * blocks * step`` about one day, ``m`` at
least 1): the ring ``cb`` keeps each of the last ``blocks`` blocks' maximum
(float32: only compared), ``cm`` the maximum of the block being filled.
When a value completes a block, the maximum over the ring is the last
day's peak; below the lowest such peak ``clo`` by more than ``tol`` of the
*value's* range (the novelty channel's), it is novel (after ``n_warm``
values' worth of peaks, at least one; NaN compares false: no range yet).
The tolerance is a fraction of what the series spans, not of how much its
daily peak varies: on a very regular series the peaks span almost nothing,
and a tolerance in their own width made every slightly lower peak news
(measured: about one report a day on a clean synthetic daily plateau).  The
peaks' range ``[clo, chi]`` widens at once and forgets ``forget`` of its
width per value, ``m`` times that per block
(:func:`sentinel.detect.ranges.widened`).  Blocks count values, not
seconds: missing values stretch the window by as many steps (a series
that reports is the one judged).

Only downward, and only the peak: the day's floor rising, measured the
same way on NAB (``benchmarks/results/nab.md``), cost more than it found;
the day's spread shrinking found about as much as the peak, at twice the
state.  A window of half a day or of two days gave less than one day (half
a day need not hold the peak; two days hide one missing peak).  Checked only at block ends: a report comes at most ``m``
values after the day's peak is missed, which the day-long window dwarfs.

The kernels take the arrays, the series index and the constants; ``kc``
(the values learned, shared with :mod:`sentinel.detect.rise`) places the
value in its block (``pos``, ``blk``: ``kc`` divided by ``m``, which the
caller keeps); :mod:`sentinel.detect.novelty` calls them from the
novelty channel's own.
"""

from __future__ import annotations

import numpy as np

from sentinel.detect import ranges
from sentinel.detect.jit import kernel

DAY = 86400


def block_values(step: int, blocks: int) -> int:
    """Values per block so that ``blocks`` blocks span about a day at sampling ``step`` seconds (at least 1).

    >>> block_values(300, 12), block_values(3600, 12), block_values(86400, 12)
    (24, 2, 1)
    """
    return max(1, round(DAY / (blocks * step)))


@kernel
def peak(cb: np.ndarray, cm: np.ndarray, i: int, x: float, m: int, pos: int, blk: int) -> float:
    """The maximum of the last day of series ``i`` if ``x`` completes a block and the ring is full, else NaN.

    ``pos`` and ``blk`` place ``x``: ``kc % m`` and ``kc // m`` (the
    caller's: a batch counts them along instead of dividing per value).
    """
    blocks = cb.shape[1]
    if pos != m - 1 or blk + 1 < blocks:
        return np.nan
    p = x if cm[i] != cm[i] else max(cm[i], x)
    slot = blk % blocks  # where this block goes: the oldest block's slot
    for j in range(blocks):
        if j != slot:
            p = max(p, np.float64(cb[i, j]))
    return p


@kernel
def fallen(cb: np.ndarray, cm: np.ndarray, clo: np.ndarray, kc: np.ndarray, i: int, x: float, m: int, tol: float,
           width: float, n_warm: int, pos: int, blk: int) -> bool:
    """Is the last day's peak of series ``i``, complete with ``x``, below the lowest by ``tol`` of ``width``?"""
    if kc[i] < (max(1, n_warm // m) + cb.shape[1] - 1) * m:  # too few peaks learned before this one
        return False
    return peak(cb, cm, i, x, m, pos, blk) < clo[i] - tol * width


@kernel
def learn(cb: np.ndarray, cm: np.ndarray, clo: np.ndarray, chi: np.ndarray, i: int, x: float, m: int,
          forget: float, pos: int, blk: int) -> None:
    """Fold ``x`` into the block being filled; at a block's end, learn the day's peak and keep the block's maximum."""
    bm = x if cm[i] != cm[i] else max(cm[i], x)
    if pos != m - 1:
        cm[i] = bm
        return
    p = peak(cb, cm, i, x, m, pos, blk)
    if p == p:
        clo[i], chi[i] = ranges.widened(clo[i], chi[i], p, forget, m)  # once per block: m values' forgetting
    cb[i, blk % cb.shape[1]] = bm
    cm[i] = np.nan
