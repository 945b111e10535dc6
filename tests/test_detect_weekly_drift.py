"""A lasting weekday drop raises the drift condition on a daily series, and (known limit) not on a weekly one.

Why: the shapes benchmark (``benchmarks/shapes.py``) alerts shifts, dips and
ramps on its ``weekly`` family far less often than on ``daily`` (shift down
3 sd: 0.07 against 0.60; dip 8 sd: 0.07 against 0.80), with the same report
rates.  The diagnosis (helper weekly11, session 11;
README *Incident shapes*, "Weekly series page less"): on both families the anomaly alert takes
few of these (the breach outside the band lasts 1-3 samples, under
``for``); the alerts on ``daily`` are the drift alert's.  The drift check
takes the day's cycle out of its level but not the week's: its range of
levels held spans the weekday and the weekend level (18 noise sd wide on
the benchmark's weekly series, 2.3 on daily), so a weekday drop lands
inside it, and the margin, 20 % of that width, asks a rise for 4.7 sd
where a daily series needs 1.9.  It is not the young model: with 15 or 22
days of history the range still spans both levels (14.9 / 17.3 sd).

The daily test guards what works; the weekly one is ``xfail(strict=True)``:
it passes once the drift check takes the weekly pattern out of its level
(the README's *Incident shapes* names the design), and must then lose its mark.
"""

from __future__ import annotations

import numpy as np
import pytest

from sentinel.config import DetectorConfig
from sentinel.detect.registry import build_detector
from sentinel.series import Batch

STEP = 60
DAY = 86_400 // STEP
START = 1_767_225_600  # a Thursday, as the shapes benchmark: days 2-3, 9-10 and 16-17 are weekends
N = 8  # series per twin
WARM = 15  # days: two weekends seen, the weekly steps learned; onset on the Friday after
HOLD = 15  # samples the condition must hold (the embedded default's `drift: 15m`)
WINDOW = 90  # samples after onset in which it must start holding


def _drifts(weekend: float, size: float = 5.0, seed: int = 3) -> tuple[int, int]:
    """Series (of ``N``) whose drift condition held ``HOLD`` samples in the window: ``(dropped, clean twin)``.

    Level 100, noise sd 1, a daily cycle of 10 sd, ``weekend`` sd lower on
    Saturday and Sunday (a step at midnight); the drop of ``size`` sd lasts.
    """
    rng = np.random.default_rng(seed)
    steps, warm = (WARM + 1) * DAY, WARM * DAY
    t = np.arange(steps) * STEP
    phase = rng.uniform(0, 2 * np.pi, N)[:, None]
    day = t // 86_400
    weekend_on = ((day % 7 == 2) | (day % 7 == 3))[None, :]
    clean = 100 + 10 * np.sin(2 * np.pi * t / 86_400 + phase) - weekend * weekend_on + rng.normal(0, 1, (N, steps))
    onset = rng.integers(warm, warm + DAY - 3 * WINDOW, N)
    after = np.arange(steps)[None, :] >= onset[:, None]
    values = np.concatenate([clean, clean - size * after])
    labels = tuple((("row", str(i)),) for i in range(2 * N))
    det = build_detector(DetectorConfig(kind="default"), step=STEP)
    drift = np.concatenate([det.process(Batch(START + t[a:a + DAY], np.ascontiguousarray(values[:, a:a + DAY]),
                                               labels, STEP)).drift for a in range(0, steps, DAY)], axis=1)
    held = np.ones_like(drift, dtype=bool)
    for k in range(HOLD):  # the condition held the HOLD samples up to here
        held[:, HOLD - 1:] &= drift[:, k:steps - HOLD + 1 + k] != 0
    held[:, :HOLD - 1] = False
    rel = np.arange(steps)[None, :] - onset[:, None]
    window = (rel >= 0) & (rel < WINDOW + HOLD)
    hit = (held & np.vstack([window, window])).any(axis=1)
    return int(hit[N:].sum()), int(hit[:N].sum())


def test_daily_series_drifts_on_a_lasting_weekday_drop() -> None:
    dropped, clean = _drifts(weekend=0.0)
    assert dropped >= 6 and clean == 0, (dropped, clean)


@pytest.mark.xfail(strict=True, reason="known limit: the drift range spans the weekend level (module doc)")
def test_weekly_series_drifts_on_a_lasting_weekday_drop() -> None:
    dropped, clean = _drifts(weekend=15.0)
    assert dropped >= 6 and clean == 0, (dropped, clean)
