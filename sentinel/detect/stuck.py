"""The novelty channel's stuck check: has the series ever repeated one value this long?

A stuck metric (a frozen exporter, a hung agent re-reporting its last
gauge) holds no unusual value: it sits where the series last was, near the
expected value, and the inner model's band narrows around it.  Point by
point it is the calmest stretch the series has had; the value range, the
EW mean, the rise and ceiling checks see nothing (``benchmarks/shapes.py``:
a 2 h flatline was reported while it lasted on 0.03 of series, and caught
only when it unstuck).  What is new is the *run*: the same value, exactly,
many times in a row, longer than the series has ever repeated one.

Per series: the last value ``sv``, the length ``sr`` of its current run of
exactly equal values (1: it has not repeated), the longest run ``sm`` the
series has completed, as a forgetting range ``[1, sm]`` of run lengths
(:func:`sentinel.detect.ranges.widened`, forgetting ``forget`` of its width
per value, applied once per run for the run's values), and the count ``sc``
of values learned.  A run of at least ``k_min`` values and longer than
``factor`` times ``sm`` is stuck, reported once, at the value that makes
it so: a report per value would be thinned by the refractory envelope to
one every few dozen values anyway, and each would raise the bar for the
report of the value unsticking (measured on ``benchmarks/shapes.py``:
fewer flatlines alerted when they unstuck).  It counts once the series
has shown ``n_warm`` values before the run began: a series constant from its first value has
no other behaviour to compare with, and a checkpoint from before the
check (which starts fresh) does not report the first ``k_min`` repeats of
a series that routinely repeats (a count at 0, a quantised gauge) before
it has learned that.  Such series learn their runs and stay quiet; a
continuous gauge never repeats, so ``sm`` stays 1 and ``k_min`` decides.

A run at a bound of the range the series has shown (``sb``: its value
within ``nov_tol`` of the range's width of the floor or the ceiling, as
the run begins) is rest, not a fault: an empty queue, an error ratio at 0,
a saturated gauge stay there as long as the lull lasts, which no run
before bounds (``benchmarks/simulator.py``: a queue at 0 for 280 minutes
of a Sunday night, after weekday runs of at most 82, raised the only two
false alarms of the ``stuck`` alert before this rule).  A frozen exporter
repeats wherever the value was, mostly inside the range; a run at a new
low or high, beyond the tolerance, is no rest either (a count dropped to 0
and held there).  The bounds are the novelty channel's forgetting range.

One report is news, not an alert (an alert needs its breach to last the
policy's ``for``).  So the check also says, for every value, whether the
run is :func:`over` its limit: true from the value that crosses it until the
value changes.  The detector returns that as :attr:`sentinel.detect.base.Scores.stuck`
and the alert policy raises a ``stuck`` alert while it holds
(:mod:`sentinel.alerting.policy`): stuck is a condition, as ``absent`` is.

Missing values (NaN, and infinities, which the novelty channel does not
learn) neither extend nor end a run: a value stuck on both sides of a
scrape gap is still stuck.  The count ``sc`` is the check's own, not the
novelty ranges' ``nv``, so an older checkpoint's fresh check waits for its
own ``n_warm`` values.  Only the length of a run is judged, not its value
nor how long it lasted in seconds (runs count values, as the ceiling
check's blocks do).

The kernels take the arrays, the series index and the constants;
:mod:`sentinel.detect.novelty` calls them from the novelty channel's own
(:func:`~sentinel.detect.novelty.look`, :func:`~sentinel.detect.novelty.learn`).

>>> import numpy as np
>>> sv, sr, sm, sc, sb = np.full(1, np.nan), np.zeros(1, np.int64), np.ones(1), np.zeros(1, np.int64), np.zeros(1)
>>> for x in [1.0, 2.0, 2.0, 2.0, 3.0] + [2.5] * 5:  # a run of 3, then 2.5 five times, inside the range 1 .. 3
...     learn(sv, sr, sm, sc, sb, 0, x, 0.0, 1.0, 3.0, 0.05)
>>> int(sr[0]), float(sm[0]), int(sc[0]), float(sb[0])
(5, 3.0, 10, 0.0)
>>> [bool(stuck(sv, sr, sm, sc, sb, 0, 2.5, k, f, 2)) for k, f in ((6, 1.5), (5, 1.5), (6, 2.0))]
[True, False, False]
>>> bool(over(sv, sr, sm, sc, sb, 0, 2.5, 5, 1.5, 2)), bool(over(sv, sr, sm, sc, sb, 0, 2.0, 5, 1.5, 2))
(True, False)
>>> learn(sv, sr, sm, sc, sb, 0, 1.0, 0.0, 1.0, 3.0, 0.05)  # a run at the range's floor rests: never stuck
>>> float(sb[0])
1.0
"""

from __future__ import annotations

import numpy as np

from sentinel.detect import ranges
from sentinel.detect.jit import kernel


@kernel
def over(sv: np.ndarray, sr: np.ndarray, sm: np.ndarray, sc: np.ndarray, sb: np.ndarray, i: int, x: float,
         k_min: int, factor: float, n_warm: int) -> bool:
    """Is ``x`` in a run of one value past series ``i``'s limit: ``k_min`` values and over ``factor`` times its longest?

    Only after ``n_warm`` values learned before the run began (NaN ``x``
    compares unequal: no run), and not for a run resting at a bound of the
    series' range (``sb``).  True for every value of the run from the one
    that crosses the limit: the condition the alert policy's ``stuck`` alert
    holds while it lasts (:attr:`sentinel.detect.base.Scores.stuck`).
    """
    if x != sv[i] or sb[i] > 0.0:
        return False
    run = sr[i] + 1
    return sc[i] + 1 - run >= n_warm and run >= k_min and run > factor * sm[i]


@kernel
def stuck(sv: np.ndarray, sr: np.ndarray, sm: np.ndarray, sc: np.ndarray, sb: np.ndarray, i: int, x: float,
          k_min: int, factor: float, n_warm: int) -> bool:
    """Does ``x`` make series ``i``'s run of one value :func:`over` its limit just now (one run, one report)?"""
    if not over(sv, sr, sm, sc, sb, i, x, k_min, factor, n_warm):
        return False
    before = sr[i]  # the run without x: under the limit, or x is not the value that crossed it
    return not (before >= k_min and before > factor * sm[i])


@kernel
def learn(sv: np.ndarray, sr: np.ndarray, sm: np.ndarray, sc: np.ndarray, sb: np.ndarray, i: int, x: float,
          forget: float, lo: float, hi: float, tol: float) -> None:
    """Extend series ``i``'s run with ``x``, or end it (learned into the longest, forgetting) and start one; count.

    A run starts resting (``sb`` 1) when its value is at a bound of the
    range ``[lo, hi]`` the series had shown before it, within ``tol`` of
    its width outside (where the range check finds nothing new).  The
    caller passes finite values only (a missing value is no part of a run).
    """
    if x == sv[i]:
        sr[i] += 1
    else:
        if sr[i] > 0:  # the run's values' forgetting at once, then the run itself
            sm[i] = ranges.widened(1.0, sm[i], np.float64(sr[i]), forget, sr[i])[1]
        sv[i] = x
        sr[i] = 1
        margin = tol * (hi - lo)  # NaN (no range yet): not resting
        sb[i] = 1.0 if (lo - margin <= x <= lo) or (hi <= x <= hi + margin) else 0.0
    sc[i] += 1
