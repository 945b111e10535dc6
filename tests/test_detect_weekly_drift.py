"""A lasting weekday drop raises the drift condition on a daily series and, with the weekly frame, on a weekly one.

Why: the shapes benchmark (``benchmarks/shapes.py``) alerted shifts, dips and
ramps on its ``weekly`` family far less often than on ``daily`` (shift down
3 sd: 0.07 against 0.60; dip 8 sd: 0.07 against 0.80), with the same report
rates.  The diagnosis (helper weekly11, session 11; docs/detector.md *Incident
shapes*, "Weekly series page less"): the alerts on ``daily`` are the drift
alert's, and the drift check took the day's cycle out of its level but not
the week's, so its range of levels held spanned the weekday and the weekend
level and a weekday drop landed inside it.  The weekly frame
(:mod:`sentinel.detect.drift_week`, session 12) learns a day-of-week offset
and, from day 9 (every day seen once with a settled daily profile), takes
it out of the level and restarts the range; until then, and for ever on a
series without a weekly pattern, the check's numbers are the frame-less ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sentinel.config import DetectorConfig
from sentinel.detect import drift_week, persist
from sentinel.detect.base import OnlineDetector
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.registry import build_detector
from sentinel.series import Batch

STEP = 60
DAY = 86_400 // STEP
START = 1_767_225_600  # a Thursday, as the shapes benchmark: days 2-3, 9-10 and 16-17 are weekends
N = 8  # series per twin
WARM = 15  # days: two weekends seen, the weekly steps learned; onset on the Friday after
HOLD = 15  # samples the condition must hold (the embedded default's `drift: 15m`)
WINDOW = 90  # samples after onset in which it must start holding


def _clean(weekend: float, days: int, rng: np.random.Generator, n: int = N) -> np.ndarray:
    """Level 100, noise sd 1, a daily cycle of 10 sd, ``weekend`` sd lower on Saturday and Sunday (a midnight step)."""
    t = np.arange(days * DAY) * STEP
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    day = t // 86_400
    weekend_on = ((day % 7 == 2) | (day % 7 == 3))[None, :]
    return 100 + 10 * np.sin(2 * np.pi * t / 86_400 + phase) - weekend * weekend_on + rng.normal(0, 1, (n, t.size))


def _run(det: OnlineDetector, values: np.ndarray, start: int = 0) -> np.ndarray:
    """The drift condition of ``values`` (from column ``start``), fed a day at a time as the benchmark does."""
    labels = tuple((("row", str(i)),) for i in range(len(values)))
    t = START + (start + np.arange(values.shape[1])) * STEP
    out = [det.process(Batch(t[a:a + DAY], np.ascontiguousarray(values[:, a:a + DAY]), labels, STEP)).drift
           for a in range(0, values.shape[1], DAY)]
    return np.concatenate(out, axis=1)


def _held(drift: np.ndarray) -> np.ndarray:
    """Where the condition has held the ``HOLD`` samples up to here."""
    steps = drift.shape[1]
    held = np.ones_like(drift, dtype=bool)
    for k in range(HOLD):
        held[:, HOLD - 1:] &= drift[:, k:steps - HOLD + 1 + k] != 0
    held[:, :HOLD - 1] = False
    return held


def _default() -> OnlineDetector:
    return build_detector(DetectorConfig(kind="default"), step=STEP)


def _drifts(weekend: float, size: float = 5.0, seed: int = 3) -> tuple[int, int]:
    """Series (of ``N``) whose drift condition held ``HOLD`` samples in the window: ``(dropped, clean twin)``.

    :func:`_clean` series; the drop of ``size`` sd lasts.
    """
    rng = np.random.default_rng(seed)
    steps, warm = (WARM + 1) * DAY, WARM * DAY
    clean = _clean(weekend, WARM + 1, rng)
    onset = rng.integers(warm, warm + DAY - 3 * WINDOW, N)
    after = np.arange(steps)[None, :] >= onset[:, None]
    held = _held(_run(_default(), np.concatenate([clean, clean - size * after])))
    rel = np.arange(steps)[None, :] - onset[:, None]
    window = (rel >= 0) & (rel < WINDOW + HOLD)
    hit = (held & np.vstack([window, window])).any(axis=1)
    return int(hit[N:].sum()), int(hit[:N].sum())


def test_daily_series_drifts_on_a_lasting_weekday_drop() -> None:
    dropped, clean = _drifts(weekend=0.0)
    assert dropped >= 6 and clean == 0, (dropped, clean)


def test_weekly_series_drifts_on_a_lasting_weekday_drop() -> None:
    dropped, clean = _drifts(weekend=15.0)
    assert dropped >= 6 and clean == 0, (dropped, clean)


def test_a_clean_weekly_series_never_drifts_across_the_switch() -> None:
    """The frame switches on at day 9 (a Saturday midnight here, the first edge); then Monday's edge comes."""
    det = _default()
    held = _held(_run(det, _clean(15.0, 12, np.random.default_rng(11))))
    assert not held.any(), np.argwhere(held)[:5] / DAY
    assert (det.state_["dr.pw"] != drift_week.UNKNOWN).all()  # the frame is on, so the test can fail


def test_a_series_without_a_weekly_pattern_gets_the_frame_off_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _clean(0.0, 12, np.random.default_rng(12))
    values[:, 9 * DAY + 120:] -= 5.0  # and a drop after the switch, so the condition holds somewhere
    det = _default()
    labels = tuple((("row", str(i)),) for i in range(N))
    batch = Batch(START + np.arange(values.shape[1]) * STEP, values, labels, STEP)
    framed = det.process(batch)
    assert (det.state_["dr.pw"] == drift_week.UNKNOWN).all()  # dropped at the switch (the gate)
    frameless = Ensemble._drift_params
    monkeypatch.setattr(Ensemble, "_drift_params", lambda self: frameless(self)._replace(alpha_week=0.0))
    plain = _default().process(batch)
    assert plain.drift is not None and framed.drift is not None and (plain.drift != 0).any()
    np.testing.assert_array_equal(framed.drift, plain.drift)
    np.testing.assert_array_equal(framed.score, plain.score)


def test_a_checkpoint_while_the_frame_learns_resumes_it(tmp_path: Path) -> None:
    """Saved on day 5 (the offsets half learned, counts as an older version's int64), resumed: the same numbers."""
    values = _clean(15.0, 11, np.random.default_rng(13), n=3)
    whole_det = _default()
    whole = _run(whole_det, values)
    det = _default()
    _run(det, values[:, :5 * DAY])
    assert ((det.state_["dr.pw"] != drift_week.UNKNOWN).sum(axis=1) == 3).all()  # Sat, Sun, Mon learned
    det.state_["cal.count"] = det.state_["cal.count"].astype(np.int64)  # as a checkpoint before int32 counts
    persist.save(det, tmp_path / "det")
    again = persist.load(tmp_path / "det")
    rest = _run(again, values[:, 5 * DAY:], 5 * DAY)
    assert again.state_["cal.count"].dtype == np.int32
    np.testing.assert_array_equal(rest, whole[:, 5 * DAY:])
    for k in ("dr.pw", "dr.d3", "dr.m2", "cal.count"):
        np.testing.assert_array_equal(again.state_[k], whole_det.state_[k])
