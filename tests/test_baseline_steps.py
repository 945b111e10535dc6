"""Weekly steps of the local level (sentinel/detect/baseline_steps.py): a sharp weekly edge is learned, not alerted.

A clean 1-minute series with a daily cycle and a weekend 20-50 % lower from
Saturday 00:00 (the shapes benchmark's ``weekly`` family, fixed here) ran on
the local level, missed every Saturday 00:00 by the whole step (15-17 noise sd)
and never learned it.  These tests fail on that code.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.detect import baseline_steps as bs
from sentinel.detect.baseline import SeasonalBaseline
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard
from sentinel.series import Batch

STEP, DAY = 60, 86_400
START = 1_767_225_600  # 2026-01-01 00:00 UTC, a Thursday: days 2 and 3 of each week are the weekend


def _weekly(n: int, days: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Timestamps, values and noise sd of ``n`` clean series with a daily cycle and a weekend step down."""
    rng = np.random.default_rng(seed)
    ts = START + STEP * np.arange(days * DAY // STEP, dtype=np.int64)
    t = (ts - START).astype(float)
    level = rng.uniform(50, 500, n)[:, None]
    w = 2 * np.pi * t / DAY
    cycle = level * rng.uniform(0.1, 0.4, (n, 1)) * (np.sin(w + rng.uniform(0, 6, (n, 1))))
    weekend = ((t // DAY) % 7 >= 2) & ((t // DAY) % 7 < 4)
    sd = level * rng.uniform(0.01, 0.04, (n, 1))
    x = level + cycle - level * rng.uniform(0.2, 0.5, (n, 1)) * weekend + rng.normal(0, 1, (n, len(ts))) * sd
    return ts, x, sd[:, 0]


def _run(det: Guard, ts: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores and expected values of the whole run, a day per batch."""
    score, expected = np.empty_like(x), np.empty_like(x)
    for a in range(0, x.shape[1], DAY // STEP):
        b = a + DAY // STEP
        out = det.process(Batch.from_rows([{"s": str(i)} for i in range(len(x))], ts[a:b], x[:, a:b]))
        score[:, a:b], expected[:, a:b] = out.score, out.expected
    return score, expected


@pytest.fixture(scope="module")
def weekly_run() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ts, x, sd = _weekly(6, 17)
    score, expected = _run(Guard(Ensemble(step=STEP)), ts, x)
    return x, sd, score, expected


def test_the_second_weekend_is_expected(weekly_run: tuple) -> None:
    """From the second week the expected value follows Saturday's and Monday's edges (old code: 15-17 sd off)."""
    x, sd, score, expected = weekly_run
    for day in (9, 11, 16):  # Saturday, Monday, Saturday
        c = day * DAY // STEP
        miss = np.abs(x[:, c:c + 3] - expected[:, c:c + 3]) / sd[:, None]
        assert np.median(miss) < 2.0, (day, miss)
        assert (score[:, c + 1:c + 5] >= 0.99).mean() < 0.2, day  # no run of alarms after the edge


def test_the_first_weekend_is_news(weekly_run: tuple) -> None:
    """Nothing is known before a step was seen once: the first Saturday is still a surprise."""
    x, sd, score, expected = weekly_run
    c = 2 * DAY // STEP
    assert np.median(np.abs(x[:, c] - expected[:, c]) / sd) > 5.0
    assert (score[:, c] >= 0.99).mean() > 0.5


def test_a_series_without_a_week_is_unchanged() -> None:
    """Until a step is learned (a week), the baseline's state and outputs are those of no steps at all."""
    ts, x, _ = _weekly(3, 3)
    base = SeasonalBaseline(STEP)
    st = base.init_state(3)
    for j in range(x.shape[1]):
        base.learn(st, int(ts[j]), x[:, j], np.ones(3))
    assert (st["b.s_gain"] == np.float32(base.alpha_gain * base.clip)).all()  # no step was judged
    assert ((st["b.steps"] != bs.UNSEEN).sum(axis=1) > 24).all()  # changes were learned ...
    assert (st["b.s_unit"] > 0).all()


@settings(deadline=None)  # the first call compiles the kernels
@given(st.floats(-1e6, 1e6, allow_nan=False), st.floats(1e-3, 1e3))
def test_codes_round_trip_within_their_precision(v: float, unit: float) -> None:
    """A change is stored to 6 % (or 0.035 units near zero), saturating at 1,160 units."""
    q = int(bs.encode(v, unit))
    assert -127 <= q <= 127
    back = bs.decode(q, unit)
    cap = unit * np.expm1(127 / bs.MU)
    want = np.sign(v) * min(abs(v), cap)
    assert abs(back - want) <= 0.03 * abs(want) + 0.035 * unit


def test_a_smooth_change_is_no_step() -> None:
    """Changes that follow their neighbours (a cycle) give no step; one that stands out gives its size.

    The cycle here swings 11.5 units (changes of up to 3 units an hour); a
    step's neighbours are judged from one side only, to within the change of
    the changes (0.8 units).
    """
    prof = np.full((1, 168), bs.UNSEEN, dtype=np.int8)
    for h in range(168):
        bs.learn_change(prof, 0, 1.0, h, 3.0 * np.cos(2 * np.pi * h / 24), 1.0)
    smooth = max(abs(bs.step_into(prof, 0, 1.0, h)) for h in range(168))
    assert smooth < 0.3
    bs.learn_change(prof, 0, 1.0, 48, 3.0 * np.cos(2 * np.pi * 48 / 24) - 40.0, 1.0)
    assert bs.step_into(prof, 0, 1.0, 48) == pytest.approx(-40.0, rel=0.1)
    assert abs(bs.step_into(prof, 0, 1.0, 49)) < 1.0 and abs(bs.step_into(prof, 0, 1.0, 47)) < 1.0
