"""The drift check: has the de-seasonalised level moved, slowly, to where it has not been for days?

Why: a slow ramp (a latency creeping up over hours) or a daily cycle that
stops (a fleet that stopped following its traffic) holds no surprising
point.  The baseline's local level follows it within an hour, the guard
rebases it after a run of high scores, and the range member and the
novelty channel's ranges widen by each step's small increment, so one
episode gives a few isolated reports and never a run that outlasts the
alert policy's ``for`` (``benchmarks/shapes.py`` before this check: ramps of
2-12 noise sd over 6 h alerted on 0.00-0.01 of series, cycle loss on 0.00).
What is new is the *level*: its recent mean is beyond every level the series
held over the past days, and stays there.  That is a condition, as a
stuck run is, not a report: the detector says per point whether it holds
(:attr:`sentinel.detect.base.Scores.drift`) and the alert policy raises a
``drift`` alert once it has held a while (:mod:`sentinel.alerting.drift`).

Per series:

- ``r1``, a short EW mean of the value (``alpha_short``, about 30 minutes),
  each step's move clipped to ``clip`` half-bands of the baseline, so a
  routine spike of a few samples barely moves it;
- a daily profile of ``r1`` (24 hourly points, interpolated; one signed
  byte each in units of ``pu``, about 1 % of the profile's largest value,
  rounded with a dither that changes by the day, so a step smaller than the
  unit still counts on average): at the first value of each hour the point
  learns how far ``r1`` was from the long mean (a running mean over the
  first days, then ``alpha_profile`` per day).  The baseline's own daily profile cannot serve: its local level
  follows a smooth cycle within the hour, so its profile holds only the
  part the level misses.  ``m1 = r1 - profile`` is the short level with the
  day's cycle taken out, so a cycle that stops is a drift of ``m1``;
- ``m2``, a long EW mean of ``m1`` (``alpha_long``, about 6 hours): where
  the level has been lately, lagging a ramp by its slope times its memory;
- ``[lo, hi]``, the forgetting range (:func:`sentinel.detect.ranges.widened`,
  ``forget`` of its width per value: about 4 % a week) of ``m2`` from
  ``n_range`` values on (the first days' levels, before the profile has
  seen them, are not the series' own): the levels held over the past days
  (a weekend's lower level is in it a week later);
- ``s``, the mean distance ``|m1 - m2|`` (``alpha_s``, about a day; each
  distance capped at 3 ``s``, so a weekend's edge, hours of large distance
  twice a week, does not drag it far): how far the short level strays on
  its own (an AR(1) wander strays far, a smooth seasonal series barely);
- on a series with a weekly pattern, from day 9 on (every day of the week
  learned on a settled profile), a day-of-week offset taken out of the
  value before the short mean, and the range started again then, so a
  weekday drop no longer lands inside the weekend's level
  (:mod:`sentinel.detect.drift_week`; before day 9, and on a series
  without a weekly pattern, the numbers are the frame-less ones).

A drift holds where ``m1`` is beyond the range by more than ``k`` times
``s`` and more than ``tol`` of the range's width, after ``n_warm`` values
(the ensemble's: 8 days, so a weekly series' first weekend, lower than
anything before it, is learned, not paged: ``benchmarks/simulator.py``,
whose agents' task rates dip at weekends, raised 15 false alarms in one
week with 3 days);
the profile and ``s`` do not learn while it holds.  It ends when the level
returns, or when it has held long enough that the long mean, and with it
the range, has caught up (a new normal): after the ramp stops, about
``ln(gap / margin)`` long memories.  If it ends that way (the long mean
within half a margin of the bound it passed), the range takes the short
level in (the sign of ``s`` says a drift held): the long mean approaches a
held level slowly, and the short one's noise would otherwise cross the
margin again and again for hours (measured: a 3-sd ramp's alert fired
three more times in the 6 hours after it first resolved).  Taking it in
after every drift, however short, widened the ranges of clean series with
their brief excursions (``benchmarks/shapes.py``: ramps of 2 sd alerted
0.43 instead of 0.51, cycle loss 0.84 instead of 0.93); a half-margin
hysteresis instead doubled the clean ``spiky`` twins' false alerts.  A sudden lasting shift holds it too: a
level not seen for days, lasting, is worth a page whichever way it came
(the anomaly alert, whose baseline the guard re-anchors, resolves earlier).
The value is the signed excess of ``m1`` beyond the bound (0: none; NaN:
missing), in the value's units.

>>> import numpy as np
>>> p = Params(1 / 30, 1 / 360, 1 / 1440, 2e-6, 5.0, 0.2, 1.0, 0.5, 960, 1440, 60)  # the shipped, in values
>>> a = arrays(init_state(1))
>>> rng = np.random.default_rng(0)
>>> z = np.r_[rng.normal(0, 1, 3000), rng.normal(0, 1, 600) + np.linspace(0, 8, 600)]
>>> out = np.array([step(a, p, 0, 60 * n, v, 4.0, n, True) for n, v in enumerate(z)])
>>> bool((out[:3000] == 0).all()), bool((out[3000:] > 0).any())
(True, True)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from sentinel.detect import drift_week, ranges
from sentinel.detect.jit import kernel

HOURS = 24
DAY = 86_400
WEEK = 7 * DAY
KEYS = ("dr.r1", "dr.m2", "dr.lo", "dr.hi", "dr.s", "dr.pu", "dr.pf", "dr.d3", "dr.pw")
"""State arrays in ``state_`` (a checkpoint from before the check lacks them: they start fresh)."""


class Arrays(NamedTuple):
    """The check's state (views into ``state_``; module docstring)."""

    r1: np.ndarray
    m2: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    s: np.ndarray  # float32: a scale, precision enough; negative while a drift holds (its end is news)
    pu: np.ndarray  # float32: the profile's unit
    pf: np.ndarray  # int8 (series x 24): the profile in units of pu
    d3: np.ndarray  # float32: the week-long level less m2 (:mod:`sentinel.detect.drift_week`)
    pw: np.ndarray  # int8 (series x 7): the day-of-week offsets in units of pu (drift_week.UNKNOWN: not learned)


class Params(NamedTuple):
    """The check's constants (module docstring); the alphas per value."""

    alpha_short: float
    alpha_long: float
    alpha_s: float
    forget: float
    k: float
    tol: float
    clip: float  # half-bands
    alpha_profile: float  # per visit of a profile point (once a day)
    n_range: int  # values before the range learns (the profile has seen a day or two)
    n_warm: int  # values before the check judges (a week: a weekend has been seen)
    step: int  # seconds: the first value of an hour is the one less than a step past it
    on: bool = True  # off: the kernels do nothing, the condition is 0
    alpha_week: float = 0.0  # per visit of a day-of-week offset (an hour of its day); 0: no weekly frame
    alpha_ref: float = 0.0  # per value: the week-long level the offsets are learned against
    n_frame: int = 0  # values before the weekly offsets learn (the profile has seen two days)
    n_restart: int = 0  # values after which the frame counts and the range starts again (every day seen)
    gate: float = 0.0  # half-bands the week's offsets must span to count (fully from twice that; 0: any)
    restart_w: float = 0.0  # the restarted range's half-width, in spans of the week's offsets (the frame's error)


def init_state(n: int) -> dict[str, np.ndarray]:
    """State of ``n`` new series (or of series a checkpoint from before the check held): nothing learned."""
    st = {k: np.full(n, np.nan) for k in KEYS[:4]}
    st["dr.s"] = np.full(n, np.nan, dtype=np.float32)
    st["dr.pu"] = np.zeros(n, dtype=np.float32)
    st["dr.pf"] = np.zeros((n, HOURS), dtype=np.int8)
    st["dr.d3"] = np.full(n, np.nan, dtype=np.float32)
    st["dr.pw"] = np.full((n, drift_week.WEEKDAYS), drift_week.UNKNOWN, dtype=np.int8)
    return st


def arrays(st: dict[str, np.ndarray]) -> Arrays:
    """The kernels' view of the state."""
    return Arrays(*(st[k] for k in KEYS))


def empty() -> Arrays:
    """Zero-series arrays for a detector without the check (the kernels never index them)."""
    return arrays(init_state(0))


def clocks(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hour of the week (UTC, from a Thursday, the epoch's day) and the seconds into it of a batch's timestamps.

    Computed once per batch, as the baseline's seasonal slots are, instead of
    three integer divisions per value and series inside the kernels
    (:func:`clock`'s); the hour of the day is the hour of the week modulo 24.

    >>> clocks(np.array([0, 3599, 3600, 86_400 + 7_325, WEEK + 60]))
    (array([ 0,  0,  1, 26,  0]), array([   0, 3599,    0,  125,   60]))
    """
    sec = ts % WEEK
    hour = sec // 3600
    return hour, sec - hour * 3600


@kernel
def clock(t: int) -> tuple[int, int]:
    """The hour of the week (UTC) of time ``t`` and the seconds into it (the per-step path's :func:`clocks`)."""
    sec = t % WEEK
    h = sec // 3600
    return h, sec - h * 3600


@kernel
def profile_at(a: Arrays, i: int, h: int, into: int) -> float:
    """Series ``i``'s daily profile ``into`` seconds after hour ``h``: a Catmull-Rom spline through its hourly points.

    A straight line between hours would miss a smooth cycle by about 2 % of
    its amplitude at every peak; the spline, by far less.
    """
    f = into / 3600.0
    p0 = np.float64(a.pf[i, h - 1 if h > 0 else HOURS - 1])
    p1 = np.float64(a.pf[i, h])
    p2 = np.float64(a.pf[i, h + 1 if h < HOURS - 1 else 0])
    p3 = np.float64(a.pf[i, h + 2 if h < HOURS - 2 else h + 2 - HOURS])
    v = p1 + 0.5 * f * (p2 - p0 + f * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3 + f * (3.0 * (p1 - p2) + p3 - p0)))
    return v * np.float64(a.pu[i])


@kernel
def short_mean(a: Arrays, p: Params, i: int, x: float, half: float) -> float:
    """``r1`` after taking ``x`` (its move clipped to ``clip`` half-bands; the first value starts it)."""
    m = a.r1[i]
    if m != m:
        return x
    lim = p.clip * half
    step = x - m
    if lim == lim and lim > 0.0:
        step = min(max(step, -lim), lim)
    return m + p.alpha_short * step


@kernel
def excess(a: Arrays, p: Params, i: int, m1: float, n: float) -> float:
    """The signed excess of the short level ``m1`` beyond series ``i``'s range, where that is a drift (else 0)."""
    if n < p.n_warm:
        return 0.0
    lo, hi, s = a.lo[i], a.hi[i], np.float64(a.s[i])
    if lo != lo or s != s:  # nothing learned yet
        return 0.0
    margin = max(p.k * abs(s), p.tol * (hi - lo))
    if m1 > hi + margin:
        return m1 - hi
    if m1 < lo - margin:
        return m1 - lo
    return 0.0


@kernel
def learn_profile(a: Arrays, p: Params, i: int, h: int, n: float) -> None:
    """At the first value of hour ``h``: its point learns ``r1 - m2`` (rescaling the bytes if it outgrows them)."""
    r1, m2 = a.r1[i], a.m2[i]
    if r1 != r1 or m2 != m2:
        return
    u = np.float64(a.pu[i])
    old = np.float64(a.pf[i, h]) * u
    days = math.floor(n * p.step / DAY)
    v = old + max(p.alpha_profile, 1.0 / (days + 1.0)) * (r1 - m2 - old)
    b = drift_week.store(a, i, v, (days * drift_week.GOLDEN) % 1.0 - 0.5)  # a dither that changes by the day
    if a.pu[i] > 0.0:
        a.pf[i, h] = np.int8(b)


@kernel
def step(a: Arrays, p: Params, i: int, t: int, x: float, half: float, n: float, learn: bool) -> float:
    """The drift condition of value ``x`` of series ``i`` at ``t`` (signed excess, 0: none, NaN: no value).

    Judged on the state before ``x``; then, if ``learn``, ``x`` goes into the
    means, the range, the stray, the profile and the weekly frame (the last
    three only while no drift holds).  ``half`` is the baseline's half-band, ``n`` the count of
    values the baseline has learned before ``x``.  One function for both, so
    the short level and the profile are computed once per value.
    """
    h, into = clock(t)
    return step_at(a, p, i, h, into, x, half, n, learn)


@kernel
def step_at(a: Arrays, p: Params, i: int, hw: int, into: int, x: float, half: float, n: float, learn: bool) -> float:
    """:func:`step` at ``into`` seconds after hour ``hw`` of the week (a batch's :func:`clocks`, computed once)."""
    if x != x:
        return math.nan
    if not p.on:
        return 0.0
    d, h = hw // HOURS, hw % HOURS
    wk = drift_week.offset(a, p, i, d, half) if n >= p.n_restart else 0.0  # 0 until the switch (module doc)
    r1 = short_mean(a, p, i, x - wk, half)  # taken out of the value: a weekend's edge leaves no lag behind
    m1 = r1 - profile_at(a, i, h, into)
    cond = excess(a, p, i, m1, n)
    if not learn:
        return cond
    drifting = cond != 0.0
    week = drift_week.learning(a, p, i, n)
    if not drifting and into < p.step:  # the first value of an hour: its points learn (from r1 before x)
        learn_profile(a, p, i, h, n)
        prof = profile_at(a, i, h, into)
        if week:
            r1 = drift_week.learn(a, p, i, d, h, x, wk, r1, prof, half, n)
        m1 = r1 - prof
    a.r1[i] = r1
    m2_was = a.m2[i]
    m2 = m1 if m2_was != m2_was else m2_was + p.alpha_long * (m1 - m2_was)
    a.m2[i] = m2
    if week:
        drift_week.follow(a, i, m2_was, m2)
    if n >= p.n_range:  # not the first days' levels, before the profile has seen them
        a.lo[i], a.hi[i] = ranges.widened(a.lo[i], a.hi[i], m2, p.forget)
    if a.s[i] < 0.0 and not drifting:  # a drift just ended: if by the long mean catching up, a held level
        lo, hi = a.lo[i], a.hi[i]
        near = 0.5 * max(p.k * abs(np.float64(a.s[i])), p.tol * (hi - lo))
        if (m1 > hi and hi - m2 < near) or (m1 < lo and m2 - lo < near):
            a.lo[i], a.hi[i] = ranges.widened(lo, hi, m1, 0.0)
    s = abs(np.float64(a.s[i]))
    if not drifting:  # each distance capped at 3 s: a weekend's edge does not drag it far
        g = abs(m1 - m2)
        if s > 0.0:  # (NaN: none yet; 0: only the first value, where m2 is m1)
            g = min(g, 3.0 * s)
        s = g if s != s else s + max(p.alpha_s, 1.0 / (n + 1.0)) * (g - s)
    a.s[i] = np.float32(-s if drifting else s)  # the sign: a drift holds (no byte to spare for a flag)
    if week and n + 1.0 == p.n_restart:  # the last value before the frame counts
        drift_week.switch(a, p, i, d, h, into, half)
    return cond
