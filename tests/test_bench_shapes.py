"""The shapes benchmark's generator (benchmarks/_shapes.py) injects what it says, deterministically per seed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _shapes import DAY, FAMILIES, HOUR, RAMP, SHAPES, STEP, inject, make_base

STEPS = 3 * DAY // STEP
ONSET = np.array([2 * DAY // STEP, 2 * DAY // STEP + 100, 2 * DAY // STEP + 333, 2 * DAY // STEP + 700])


@pytest.fixture(scope="module")
def bases() -> dict[str, object]:
    return {f: make_base(f, n=4, steps=STEPS, seed=3) for f in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_deterministic_per_seed(family: str) -> None:
    a, b = make_base(family, 3, DAY // STEP, seed=5), make_base(family, 3, DAY // STEP, seed=5)
    c = make_base(family, 3, DAY // STEP, seed=6)
    assert np.array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    onset = np.array([100, 200, 300])
    assert np.array_equal(inject(a, "dip", 5, onset), inject(b, "dip", 5, onset))


@pytest.mark.parametrize("family", FAMILIES)
def test_noise_unit_is_the_residual_robust_sd(bases: dict, family: str) -> None:
    base = bases[family]
    resid = base.values - base.mean
    iqr = np.subtract(*np.percentile(resid, [75, 25], axis=1)) / 1.349  # the sd a normal with that IQR has
    assert np.all(base.sigma > 0)
    assert np.allclose(base.sigma, iqr, rtol=0.15)


@pytest.mark.parametrize("family", ["daily", "weekly", "ar1", "spiky"])
@pytest.mark.parametrize("size", [2.0, 8.0])
def test_shift_size_and_onset_in_noise_units(bases: dict, family: str, size: float) -> None:
    base = bases[family]
    for shape, sign in (("shift_up", 1), ("shift_down", -1)):
        diff = (inject(base, shape, size, ONSET) - base.values) / base.sigma[:, None]
        for i, t0 in enumerate(ONSET):
            assert np.all(diff[i, :t0] == 0)
            assert np.allclose(diff[i, t0:], sign * size)


def test_counts_stay_non_negative_integers(bases: dict) -> None:
    base = bases["counts"]
    for shape in ("shift_down", "dip", "variance"):
        x = inject(base, shape, 8.0, ONSET)
        assert x.min() >= 0 and np.array_equal(x, np.round(x))
    up = inject(base, "shift_up", 5.0, ONSET)
    realised = (up - base.values)[:, ONSET[-1]:].mean(axis=1) / base.sigma
    assert np.allclose(realised, 5.0, atol=0.15)  # rounding only


def test_spike_is_one_point(bases: dict) -> None:
    base = bases["daily"]
    diff = inject(base, "spike", 12.0, ONSET) - base.values
    assert np.array_equal(np.count_nonzero(diff, axis=1), np.ones(4))
    assert np.allclose(diff[np.arange(4), ONSET], 12 * base.sigma)


def test_variance_ratio_inside_only(bases: dict) -> None:
    base = bases["daily"]
    x = inject(base, "variance", 3.0, ONSET)
    dur = SHAPES["variance"].duration // STEP
    for i, t0 in enumerate(ONSET):
        inside = (x - base.mean)[i, t0:t0 + dur]
        before = (base.values - base.mean)[i, t0:t0 + dur]
        assert np.std(inside) / np.std(before) == pytest.approx(3.0)
        assert np.array_equal(x[i, :t0], base.values[i, :t0])
        assert np.array_equal(x[i, t0 + dur:], base.values[i, t0 + dur:])


def test_ramp_reaches_its_size_after_six_hours(bases: dict) -> None:
    base = bases["ar1"]
    diff = (inject(base, "ramp", 6.0, ONSET) - base.values) / base.sigma[:, None]
    t0, n = ONSET[0], RAMP // STEP
    assert diff[0, t0] == pytest.approx(0.0)
    assert diff[0, t0 + n // 2] == pytest.approx(3.0)
    assert np.allclose(diff[0, t0 + n:], 6.0)


def test_dip_recovers_and_flatline_dropout_cycle_loss(bases: dict) -> None:
    base = bases["weekly"]
    dip = (inject(base, "dip", 5.0, ONSET) - base.values) / base.sigma[:, None]
    half = SHAPES["dip"].duration // STEP
    assert dip[0].min() == pytest.approx(-5.0, abs=0.01) and dip[0, ONSET[0] + half:].max() == 0
    flat = inject(base, "flatline", float("nan"), ONSET)
    span = slice(ONSET[1], ONSET[1] + 2 * HOUR // STEP)
    assert np.all(flat[1, span] == base.values[1, ONSET[1] - 1]) and flat[1, span.stop] == base.values[1, span.stop]
    drop = inject(bases["daily"], "dropout", float("nan"), ONSET)
    assert np.all(drop[2, ONSET[2]:ONSET[2] + 30] == 0) and np.all(drop[2, :ONSET[2]] > 0)
    assert np.all(drop[2, ONSET[2] + 30:] > 0)
    lost = inject(base, "cycle_loss", float("nan"), ONSET)
    t0 = ONSET[3]
    assert np.array_equal(lost[3, :t0 + 1], base.values[3, :t0 + 1])  # no step at onset
    flat = lost[3, t0:] - (base.values - base.mean)[3, t0:]  # the mean left after the cycle froze
    assert np.ptp(flat - (base.mean - base.cycle)[3, t0:]) == pytest.approx(0.0, abs=1e-9)
    assert np.ptp(base.cycle[3]) > 10 * base.sigma[3]  # the cycle frozen was big


def test_bad_names_are_one_line_errors(bases: dict) -> None:
    with pytest.raises(ValueError, match="unknown shape"):
        inject(bases["daily"], "wobble", 1.0, ONSET)
    with pytest.raises(ValueError, match="unknown family"):
        make_base("hourly", 2, 10, seed=1)
