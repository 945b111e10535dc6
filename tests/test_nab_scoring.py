"""Our NAB scorer on tiny hand-made cases (benchmarks/nab_scoring.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from nab_scoring import MAX_TP, PROFILES, FileTruth, best_threshold, normalise, sigma

STD = PROFILES["standard"]


def det(n: int, *rows: int) -> np.ndarray:
    d = np.zeros(n, dtype=bool)
    d[list(rows)] = True
    return d


def test_sigmoid_shape() -> None:
    assert sigma(-1.0) == pytest.approx(MAX_TP)
    assert sigma(0.0) == pytest.approx(0.0)
    assert sigma(3.5) == -1.0
    assert sigma(2.9) < sigma(0.5) < 0


def test_probation_is_min_of_15_percent_and_750() -> None:
    assert FileTruth.build(1000, []).probation == 150
    assert FileTruth.build(10000, []).probation == 750


def test_perfect_scores_100_and_null_scores_0() -> None:
    files = [FileTruth.build(200, [(100, 119)]), FileTruth.build(400, [(100, 139), (300, 339)])]
    perfect = [det(200, 100), det(400, 100, 300)]
    null = [det(200), det(400)]
    for prof in PROFILES.values():
        s_null = sum(f.null(prof) for f in files)
        s_perf = sum(f.perfect(prof) for f in files)
        raw_p = sum(f.score(d, prof) for f, d in zip(files, perfect, strict=True))
        raw_n = sum(f.score(d, prof) for f, d in zip(files, null, strict=True))
        assert normalise(raw_p, s_null, s_perf) == pytest.approx(100.0)
        assert normalise(raw_n, s_null, s_perf) == pytest.approx(0.0)


def test_detection_at_window_start_earns_tp_weight_and_later_less() -> None:
    f = FileTruth.build(200, [(100, 119)])
    assert f.score(det(200, 100), STD) == pytest.approx(1.0)
    mid = f.score(det(200, 110), STD)
    end = f.score(det(200, 119), STD)
    assert 0 < end < mid < 1.0
    # only the earliest detection in a window counts
    assert f.score(det(200, 100, 105, 110), STD) == pytest.approx(1.0)


def test_missed_window_costs_fn_weight_per_profile() -> None:
    f = FileTruth.build(200, [(100, 119)])
    assert f.score(det(200), PROFILES["standard"]) == -1.0
    assert f.score(det(200), PROFILES["reward_low_FN_rate"]) == -2.0


def test_false_positives_cost_by_distance_after_the_previous_window() -> None:
    f = FileTruth.build(400, [(100, 119)])
    base = f.score(det(400, 100), STD)
    just_after = f.score(det(400, 100, 121), STD) - base
    far = f.score(det(400, 100, 300), STD) - base
    assert -0.11 < just_after < 0 and far == pytest.approx(-0.11)
    # before the first window: full cost; each consecutive detection costs
    assert f.score(det(400, 70, 71, 100), STD) - base == pytest.approx(-0.22)
    assert f.score(det(400, 70, 100), PROFILES["reward_low_FP_rate"]) - base == pytest.approx(-0.22)


def test_detections_in_probation_are_ignored() -> None:
    f = FileTruth.build(200, [(100, 119)])
    assert f.score(det(200, 5, 100), STD) == pytest.approx(1.0)


def test_threshold_sweep_finds_the_best_single_threshold() -> None:
    f = FileTruth.build(300, [(100, 119), (200, 219)])
    s = np.zeros(300)
    s[[105, 205]] = 0.8  # two hits
    s[[150, 160, 250]] = 0.9  # three false alarms above them
    s[[60]] = 0.95
    thr, score = best_threshold([f], [s], STD)
    assert thr == pytest.approx(0.8)
    expected = normalise(f.score(s >= 0.8, STD), f.null(STD), f.perfect(STD))
    assert score == pytest.approx(expected)
    # a brute-force sweep agrees
    brute = max(normalise(f.score(s >= t, STD), f.null(STD), f.perfect(STD)) for t in np.unique(s))
    assert score == pytest.approx(max(brute, 0.0))
