"""The novelty channel's rise check: has the floor of the last few values ever been this high?

A level shift up on a spiky series is the case it is for (NAB's
exchange-4 cpc and cpm files, Twitter_volume_AMZN): the new values all lie
within the range the spikes have shown, and the EW mean, pulled up by every
spike, has been as high before, so the novelty channel's ranges see nothing
new; the point-by-point surprise is small once the inner model re-learns the
level.  What is new is the *floor*: the minimum of the last ``k`` values has
never been this high.  It is the value's novelty at a coarser scale, and the
minimum makes it robust to the spikes that hide the shift.

Per series: the last ``k - 1`` values (a ring ``kb`` indexed by the count
``kc`` of values learned), and the range ``[klo, khi]`` of the minima of
``k`` values, which widens at once and forgets ``forget`` of its width per
value at each end (:func:`sentinel.detect.ranges.widened`).  A minimum above
``khi`` by more than ``tol`` of the width is a rise (after ``n_warm``
minima learned; NaN compares false: no range yet).  Only upward: the
maximum of the last values falling below its range, measured the same way,
found nothing on NAB the other channels miss (``benchmarks/results/nab.md``).

The kernels take the arrays, the series index and the constants;
:mod:`sentinel.detect.novelty` calls them from the novelty channel's own
(:func:`~sentinel.detect.novelty.look`, :func:`~sentinel.detect.novelty.learn`).
"""

from __future__ import annotations

import numpy as np

from sentinel.detect import ranges
from sentinel.detect.jit import kernel


@kernel
def recent_min(kb: np.ndarray, kc: np.ndarray, i: int, k: int, x: float) -> float:
    """The minimum of ``x`` and the last ``k - 1`` values of series ``i`` (NaN until it has kept that many)."""
    if kc[i] < k - 1:
        return np.nan
    m = x
    for j in range(k - 1):
        m = min(m, kb[i, j])
    return m


@kernel
def risen(kb: np.ndarray, klo: np.ndarray, khi: np.ndarray, kc: np.ndarray, i: int, x: float, k: int, tol: float,
          n_warm: int) -> bool:
    """Is the minimum of the last ``k`` values of series ``i`` (``x`` the latest) above its range by ``tol``?"""
    if kc[i] - (k - 1) < n_warm:
        return False
    lo, hi = klo[i], khi[i]
    return recent_min(kb, kc, i, k, x) > hi + tol * (hi - lo)


@kernel
def learn(kb: np.ndarray, klo: np.ndarray, khi: np.ndarray, kc: np.ndarray, i: int, x: float, k: int,
          forget: float, slot: int) -> None:
    """Widen the range of the minima of series ``i`` to the one ``x`` completes; keep ``x``; forget.

    ``slot`` is ``kc[i] % (k - 1)``, the ring's oldest value (the caller's:
    a batch counts it along instead of dividing per value).  The caller
    counts ``x`` into ``kc`` afterwards (the count is shared with
    :mod:`sentinel.detect.ceiling`).
    """
    m = recent_min(kb, kc, i, k, x)
    if m == m:
        klo[i], khi[i] = ranges.widened(klo[i], khi[i], m, forget)
    kb[i, slot] = x
