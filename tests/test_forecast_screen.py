"""The screen never drops a series that really runs out within the horizon.

Uses the capacity benchmark's own case generator (linear, accelerating,
seasonal-with-trend, step-then-linear fills with known exhaustion times) at
its lead times: a screened-out series would be a missed capacity alert in
the daemon, which benchmarks/time_to_limit.py (forecaster only) cannot see.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from _capacity_cases import CROSSING, HISTORY, STABLE, STEP, make_case

from sentinel.forecast.screen import screen

HORIZON = 48 * 3600


@pytest.mark.parametrize("shape", CROSSING)
def test_screen_keeps_every_crossing_case(shape: str) -> None:
    rng = np.random.default_rng(99)
    hist = HISTORY // STEP
    for _ in range(12):
        case = make_case(shape, rng)
        for i in case.evals:
            t, y = case.t[i + 1 - hist : i + 1], case.y[i + 1 - hist : i + 1]
            if case.truth is not None and case.truth - t[-1] <= HORIZON:
                at_risk, _ = screen(t, y[None, :], case.limit, case.direction, HORIZON)
                assert at_risk[0], f"{shape}: screened out {(case.truth - t[-1]) / 3600:.1f} h before exhaustion"


def test_screen_drops_most_stable_series() -> None:
    rng = np.random.default_rng(5)
    hist = HISTORY // STEP
    kept = total = 0
    for shape in STABLE:
        for _ in range(12):
            case = make_case(shape, rng)
            i = case.evals[0]
            at_risk, _ = screen(case.t[i + 1 - hist : i + 1], case.y[None, i + 1 - hist : i + 1], case.limit,
                                case.direction, HORIZON)
            kept += int(at_risk[0])
            total += 1
    assert kept <= total // 2, f"{kept} of {total} stable series went on to the full forecaster"
