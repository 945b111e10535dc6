"""A lasting 3-sd level shift is reported on a flat series, and (known weakness) not on a strong smooth cycle.

Why: the shapes benchmark (``benchmarks/shapes.py``) shows 3-sd shifts on its
``daily`` family reported 0.17 of the time, against 0.97 on ``ar1``.  The
diagnosis (helper shift9, session 9, ``/work/team/README-shift9.md``): with
white noise of the same size, a flat series has its 3-sd shift reported
within the hour about 9 times in 10; add a smooth daily cycle of 20 noise sd
and it is reported about once in 4 (1-minute samples; 5-minute samples: once
in 20).  The seasonal profiles learn a cycle much larger than the noise only
over weeks: the level they sit on follows the day (at 1-minute samples it
passes 98 % of the daily swing), so the profiles see little of their own
error; what they learn is clipped at 4 residual scales of the model in use;
and the weekly profile takes what the daily one leaves.  The series then runs
on its local level, whose change member compares short memories of the raw
value with a long one that lags the cycle: the member's norm is 40-50 times
that on the flat series, and a 3-sd shift is no longer news.

The flat test guards what works; the seasonal one is ``xfail(strict=True)``:
it passes once the profiles learn a strong cycle, and then must lose its mark.
"""

from __future__ import annotations

import numpy as np
import pytest

from sentinel.config import DetectorConfig
from sentinel.detect.registry import build_detector
from sentinel.series import Batch

STEP = 60
DAY = 86_400 // STEP
START = 1_767_225_600  # a Thursday, as the shapes benchmark
N = 8  # series per twin
WINDOW = 60  # samples (an hour) after onset in which a report counts


def _reports(amp: float, size: float = 3.0, seed: int = 5) -> tuple[int, int]:
    """Series (of ``N``) with a report in the hour after onset: ``(shifted, clean twin)``."""
    rng = np.random.default_rng(seed)
    steps, warm = 9 * DAY, 8 * DAY
    t = np.arange(steps) * STEP
    phase = rng.uniform(0, 2 * np.pi, N)[:, None]
    clean = 100 + amp * np.sin(2 * np.pi * t / 86_400 + phase) + rng.normal(0, 1, (N, steps))
    onset = rng.integers(warm, warm + DAY - WINDOW, N)
    after = np.arange(steps)[None, :] >= onset[:, None]
    values = np.concatenate([clean, clean + size * after])
    labels = tuple((("row", str(i)),) for i in range(2 * N))
    det = build_detector(DetectorConfig(kind="default"), step=STEP)
    scores = np.concatenate([det.process(Batch(START + t[a:a + DAY], np.ascontiguousarray(values[:, a:a + DAY]),
                                                labels, STEP)).score for a in range(0, steps, DAY)], axis=1)
    rel = np.arange(steps)[None, :] - onset[:, None]
    window = (rel >= 0) & (rel < WINDOW)
    hit = ((scores >= 0.99) & np.vstack([window, window])).any(axis=1)
    return int(hit[N:].sum()), int(hit[:N].sum())


def test_flat_series_reports_a_3sd_shift_within_the_hour() -> None:
    shifted, clean = _reports(amp=0.0)
    assert shifted >= 6 and clean <= 2, (shifted, clean)


@pytest.mark.xfail(strict=True, reason="known weakness: a strong smooth cycle hides a 3-sd shift (module doc)")
def test_smooth_daily_cycle_reports_a_3sd_shift_within_the_hour() -> None:
    shifted, clean = _reports(amp=20.0)
    assert shifted >= 6 and clean <= 2, (shifted, clean)
