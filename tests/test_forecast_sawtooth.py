"""The saw-tooth floor member: a leak under garbage collection shows in the troughs, a healthy heap has none,
and series that are no saw-tooth are left to the other members."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter

from sentinel.forecast import Forecaster
from sentinel.forecast.sawtooth import SawtoothFloor

MIB = 2.0**20
DAY = 288  # 5-minute samples


def _heap(seed: int, n: int = 2 * DAY, leak_from: int | None = None, leak: float = 0.0) -> np.ndarray:
    """Resident memory (bytes): irregular collections every 1-8 h, a 60 MiB/h climb between them, a daily load
    swing of 80 MiB, 3 MiB noise; from ``leak_from`` on, ``leak`` bytes per sample that no collection frees."""
    rng = np.random.default_rng(seed)
    gaps = rng.integers(12, 96, n // 12 + 2)
    resets = np.cumsum(gaps) - rng.integers(0, 96)
    k = np.arange(n)
    last = resets[np.maximum(np.searchsorted(resets, k, side="right") - 1, 0)]
    age = np.where(k >= resets[0], k - last, k + 24)
    y = 500 * MIB + 5 * MIB * age + 40 * MIB * np.sin(2 * np.pi * k / DAY) + rng.normal(0, 3 * MIB, n)
    if leak_from is not None:
        y += np.where(k >= leak_from, leak * (k - leak_from), 0.0)
    return y


@pytest.mark.parametrize("seed", range(8))
def test_a_healthy_saw_tooth_has_no_trend(seed: int) -> None:
    y = _heap(seed)
    m = SawtoothFloor(36).fit(y[:DAY])
    origins = np.arange(DAY - 1, len(y), 6)
    fc = m.forecasts(y, origins, 2 * DAY)
    drift = (fc[:, -1] - fc[:, DAY]) / DAY * 12  # bytes per hour, far from the origin (the mean level)
    # the daily swing moves the floor by up to 10.5 MiB/h; a third of the teeth's climb and of the leak below
    assert np.abs(drift).max() < 20 * MIB


@pytest.mark.parametrize("seed", range(8))
def test_a_leak_shows_in_the_troughs(seed: int) -> None:
    """70 MiB/h from hour 36 on: twelve hours later the floor's line has the leak's rate."""
    leak = 70 * MIB / 12
    y = _heap(seed, leak_from=36 * 12, leak=leak)
    m = SawtoothFloor(36).fit(y[:DAY])
    fc = m.forecasts(y, np.array([len(y) - 1]), 2 * DAY)[0]
    rate = (fc[-1] - fc[DAY]) / DAY
    assert rate == pytest.approx(leak, rel=0.25)


@pytest.mark.parametrize("seed", range(4))
def test_a_disks_inverted_saw_tooth_is_read_the_other_way(seed: int) -> None:
    """Free space falls between cleanups and jumps back up at each: a fill lowers the post-cleanup peaks."""
    fill = 40 * MIB / 12
    y = 10_000 * MIB - _heap(seed, leak_from=30 * 12, leak=fill)
    m = SawtoothFloor(36).fit(y[:DAY])
    assert m.sign_ == -1.0
    fc = m.forecasts(y, np.array([len(y) - 1]), DAY)[0]
    assert (fc[-1] - fc[DAY // 2]) / (DAY // 2) == pytest.approx(-fill, rel=0.25)


@pytest.mark.parametrize("seed", range(6))
def test_noise_spikes_and_lines_are_no_saw_tooth(seed: int) -> None:
    """AR noise with single-sample spikes (both ways), and a noisy line: no resets, the member stands aside."""
    rng = np.random.default_rng(seed)
    n = DAY
    spikes = (rng.random(n) < 0.01) * rng.normal(0, 20, n)
    noise = 50 + lfilter([1.0], [1.0, -0.6], rng.normal(0, 1, n)) + spikes
    line = 10 + 0.05 * np.arange(n) + rng.normal(0, 1, n)
    for y in (noise, line):
        with pytest.raises(ValueError, match="no saw-tooth"):
            SawtoothFloor(36).fit(y)


def test_a_forecast_uses_only_the_samples_up_to_its_origin() -> None:
    y = _heap(3, leak_from=30 * 12, leak=6 * MIB)
    m = SawtoothFloor(36).fit(y[:DAY])
    origins = np.array([DAY + 10, 400, 500, len(y) - 2])
    whole = m.forecasts(y, origins, 30)
    for i, o in enumerate(origins):
        np.testing.assert_allclose(m.forecasts(y[: o + 1], np.array([o]), 30)[0], whole[i], rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1e-6, 1e3), st.floats(-1e9, 1e9), st.integers(40, 600))
def test_forecasts_are_finite_and_scale_equivariant(seed: int, scale: float, shift: float, n: int) -> None:
    """Any saw-tooth (random teeth, length, units): finite forecasts, the same in bytes or GiB."""
    y = _heap(seed, n=n, leak_from=n // 2, leak=float(np.random.default_rng(seed).uniform(0, 8)) * MIB)
    try:
        base = SawtoothFloor(36).fit(y[: n // 2])
    except ValueError:
        return  # too short to hold three collections
    origins = np.arange(n // 2, n)
    fc = base.forecasts(y, origins, 7)
    moved = SawtoothFloor(36).fit(y[: n // 2] * scale + shift).forecasts(y * scale + shift, origins, 7)
    assert np.isfinite(fc).all() and np.isfinite(moved).all()
    np.testing.assert_allclose(moved, fc * scale + shift, rtol=1e-6, atol=1e-6 * (scale * np.ptp(y) + abs(shift)))


def test_method_sawtooth_on_a_series_without_one_is_a_clear_error() -> None:
    t = np.arange(DAY) * 300
    with pytest.raises(ValueError, match="no forecaster could be fitted"):
        Forecaster("sawtooth").fit(t, np.linspace(0.0, 1.0, DAY), 6 * 3600)
