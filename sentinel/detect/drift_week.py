"""The drift check's weekly frame: a day-of-week offset taken out of its level, once each day has been learned.

Why: the drift check (:mod:`sentinel.detect.drift`) takes the day's cycle
out of its level, not the week's, so on a weekly series its range of levels
held spans the weekday and the weekend level.  A weekday drop lands inside
it, and its margin, a fifth of that width, asks a rise for several noise sd
more than on a daily series (docs/detector.md *Incident shapes*, "Weekly series page
less": the weekly family's shift, dip and ramp alerts were a fraction of the
daily family's).

Per series, one signed byte per day of the week, in the profile's unit
``pu`` (:data:`UNKNOWN`: that day not learned yet), and ``d3``, a week-long
level kept as its distance from the check's long mean ``m2``:

- from ``n_frame`` values on (the daily profile has seen two days), at the
  first value of each hour the day's offset learns how far the value, less
  the daily profile's shape, is from the week-long level (a running mean
  over the day's first visits, then ``alpha_week`` per visit); the value,
  not the short mean, which lags a weekend's edge by hours; clipped to a
  half-band of the short mean, so a spike barely moves it (with a day's
  first visit unclipped, spike noise opened the gate on a clean ``spiky``
  series of the shapes benchmark, which then alerted at the switch).  The
  profile's shape, not the profile: its mean moves while it forms, and
  that move is no day's;
- the offset used is the day's less the mean of the seven, so a level that
  moves on every day alike stays the level's; it counts only where the
  seven span more than ``gate`` half-bands (fully from twice that): a
  series without a weekly pattern learns a day-to-day noise that would
  only add steps at midnight;
- the frame only *learns* until ``n_restart`` values (every day seen once
  with a profile two days old).  Then, if all seven days are known and the
  gate is open, the short and long means move into the frame and the range
  of levels starts again at the long mean +- ``restart_w`` of the week's
  pattern (the levels it held were learned without the frame, and the
  offsets carry an error: restarted as a point, 2 of 40 clean weekly twins
  alerted at the first edge after it, their Friday-Saturday gap 1-1.5
  noise sd short; +-0.05-0.1 gave none, +-0.2 lost most of the gain);
  otherwise the frame is dropped for good and
  the check stays as it was.  So up to the switch, and for ever on a series
  without a weekly pattern, the check's numbers are the frame-less ones.

Measured (``benchmarks/shapes.py --families weekly daily --warmup-days
15``, session 12): weekly alerts on shifts up / down of 3 sd 0.10 / 0.07
-> 0.33 / 0.60, dips of 8 sd 0.20 -> 0.57, ramps to 5 sd 0.38 -> 0.90,
cycle loss 0.78 -> 1.00; the clean twins and ``daily`` unchanged.  A
restart at day 7, before each day was learned on a settled profile, gave
0.23-0.35 false alerts per series-week (session 11).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sentinel.detect.jit import kernel

if TYPE_CHECKING:
    from sentinel.detect.drift import Arrays, Params

WEEKDAYS = 7
UNKNOWN = -128
"""A day-of-week offset not learned yet (learned ones are clipped to +-127); all seven: no frame."""
GOLDEN = 0.6180339887498949
"""The dither of the bytes' rounding steps by this per visit (a low-discrepancy sequence)."""


@kernel
def learning(a: Arrays, p: Params, i: int, n: float) -> bool:
    """Whether series ``i``'s frame learns at its ``n``-th value (from ``n_frame`` on, unless dropped at the switch)."""
    return p.alpha_week > 0.0 and n >= p.n_frame and (n < p.n_restart or a.pw[i, 0] != UNKNOWN)


@kernel
def span(a: Arrays, i: int) -> float:
    """The span of series ``i``'s learned offsets (values; 0: none)."""
    lo, hi = 127.0, -127.0
    for k in range(WEEKDAYS):
        if a.pw[i, k] != UNKNOWN:
            v = np.float64(a.pw[i, k])
            lo, hi = min(lo, v), max(hi, v)
    return max(hi - lo, 0.0) * np.float64(a.pu[i])


@kernel
def weight(a: Arrays, p: Params, i: int, half: float) -> float:
    """How much the frame counts (0-1): the span of the learned offsets over ``gate`` half-bands, less one."""
    if p.gate <= 0.0:
        return 1.0
    if not (half == half and half > 0.0):
        return 0.0
    return min(max(span(a, i) / (p.gate * half) - 1.0, 0.0), 1.0)


@kernel
def offset(a: Arrays, p: Params, i: int, d: int, half: float) -> float:
    """Series ``i``'s offset of day ``d`` less the mean of its learned offsets, gated (0: ``d`` not learned)."""
    if p.alpha_week <= 0.0 or a.pw[i, d] == UNKNOWN:
        return 0.0
    tot, cnt = 0.0, 0
    for k in range(WEEKDAYS):
        if a.pw[i, k] != UNKNOWN:
            tot += np.float64(a.pw[i, k])
            cnt += 1
    return weight(a, p, i, half) * (np.float64(a.pw[i, d]) - tot / cnt) * np.float64(a.pu[i])


@kernel
def profile_mean(a: Arrays, i: int) -> float:
    """The mean of series ``i``'s daily profile (its level is the long means', not the profile's)."""
    tot = 0.0
    for k in range(a.pf.shape[1]):
        tot += np.float64(a.pf[i, k])
    return tot / a.pf.shape[1] * np.float64(a.pu[i])


@kernel
def store(a: Arrays, i: int, v: float, dither: float) -> int:
    """``v`` (values) as a byte in series ``i``'s unit, coarsening the unit of every profile and week byte first if
    it outgrows them (rounded with ``dither``, so the byte's rounding does not stick)."""
    u = np.float64(a.pu[i])
    if abs(v) > 127.0 * u:
        nu = abs(v) / 100.0
        for k in range(a.pf.shape[1]):
            a.pf[i, k] = np.int8(round(np.float64(a.pf[i, k]) * u / nu))
        for k in range(WEEKDAYS):
            if a.pw[i, k] != UNKNOWN:
                a.pw[i, k] = np.int8(round(np.float64(a.pw[i, k]) * u / nu))
        a.pu[i] = np.float32(nu)
        u = np.float64(a.pu[i])
    return int(max(-127.0, min(127.0, math.floor(v / u + 0.5 + dither)))) if u > 0.0 else 0


@kernel
def learn(a: Arrays, p: Params, i: int, d: int, h: int, x: float, wk: float, r1: float, prof: float, half: float,
          n: float) -> float:
    """At the first value ``x`` of hour ``h`` of day ``d``: the day's offset and the week's level learn; the short
    mean ``r1`` (in the frame once it counts: ``wk`` the offset ``x`` was judged with) follows the offset's move.

    ``prof`` is the daily profile at ``x`` (just learned).
    """
    xr = x - wk
    lim = p.clip * half
    if lim == lim and lim > 0.0 and r1 == r1:  # a spike barely moves it
        xr = min(max(xr, r1 - lim), r1 + lim)
    pm = profile_mean(a, i)
    u = xr + wk - prof + pm
    m2, d3 = a.m2[i], np.float64(a.d3[i])
    if u == u and m2 == m2 and d3 == d3:
        k = math.floor((n - p.n_frame) * p.step / (WEEKDAYS * 86_400)) * 24 + h  # this day's visits so far
        known = a.pw[i, d] != UNKNOWN
        old = np.float64(a.pw[i, d]) * np.float64(a.pu[i]) if known else 0.0
        rate = max(p.alpha_week, 1.0 / (k + 1.0)) if known else 1.0
        b = store(a, i, old + rate * (u - (m2 + d3) - old), (k * GOLDEN) % 1.0 - 0.5)
        a.pw[i, d] = np.int8(b)
    m3 = m2 + np.float64(a.d3[i])
    if m3 == m3:  # the week's level learns hourly, in the same terms
        a.d3[i] = np.float32(m3 + p.alpha_ref * 3600 / p.step * (r1 - prof + pm - m3) - m2)
    if n >= p.n_restart:
        r1 -= offset(a, p, i, d, half) - wk
    return r1


@kernel
def follow(a: Arrays, i: int, m2_was: float, m2: float) -> None:
    """The week's level stays where it was while the long mean moves from ``m2_was`` to ``m2`` (started if not)."""
    d3 = np.float64(a.d3[i])
    if d3 != d3 or m2_was != m2_was:
        d3 = m2_was - m2 + profile_mean(a, i) if m2_was == m2_was else 0.0
    else:
        d3 = d3 + m2_was - m2
    a.d3[i] = np.float32(d3)


@kernel
def switch(a: Arrays, p: Params, i: int, d: int, h: int, into: int, half: float) -> None:
    """After the last value before the frame counts (``into`` s after hour ``h`` of day ``d``): move into it and
    restart the range from the long mean, or drop it for good (a day not learned, or no weekly pattern).

    The long mean (memory ``step / alpha_long``) holds this day's values
    and, decaying, the day before's: it moves by their offsets so weighted.
    """
    known = True
    for k in range(WEEKDAYS):
        known = known and a.pw[i, k] != UNKNOWN
    if not known or weight(a, p, i, half) <= 0.0:
        for k in range(WEEKDAYS):
            a.pw[i, k] = UNKNOWN
        a.d3[i] = np.float32(math.nan)
        return
    now = offset(a, p, i, d, half)
    f = math.exp(-(h * 3600 + into) * p.alpha_long / p.step)
    shift = now * (1.0 - f) + offset(a, p, i, d - 1 if d > 0 else WEEKDAYS - 1, half) * f
    a.r1[i] = a.r1[i] - now
    m2 = a.m2[i] - shift
    a.m2[i] = m2
    a.d3[i] = np.float32(np.float64(a.d3[i]) + shift)
    if a.lo[i] == a.lo[i]:  # the range starts again from the long mean, give or take the frame's own error
        e = p.restart_w * weight(a, p, i, half) * span(a, i)
        a.lo[i], a.hi[i] = m2 - e, m2 + e
