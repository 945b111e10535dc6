"""A trend that changed part-way through the history (the leak after a deploy) is forecast by design: the
change-point member finds where the regime began, whatever the units and without the ETS members (whose
byte-scale optimiser quirk used to be the only thing that caught such a leak); on a garbage-collection
saw-tooth, the saw-tooth floor member does (``sawtooth.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter

from sentinel.fleet.model import Fleet
from sentinel.forecast import Forecaster
from sentinel.forecast import forecaster as forecaster_mod
from sentinel.forecast.changepoint import ChangepointLinear
from sentinel.forecast.members import candidates

STEP = 300
MIB = 2.0**20
GIB = 2.0**30


def _ar_noise(rng: np.random.Generator, n: int, sd: float) -> np.ndarray:
    return lfilter([1.0], [1.0, -0.6], rng.normal(0, sd, n))


def _without_ets(step: int, n_train: int, periods: tuple[int, ...]) -> list:
    return [m for m in candidates(step, n_train, periods) if "ets" not in m.name and "holt" not in m.name]


def _after_deploy(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A week of resident memory (bytes): flat at 700 MiB until a deploy two days before the end steps it
    up by 150 MiB and starts a leak that reaches 2 GiB exactly 48 h after the last sample."""
    rng = np.random.default_rng(seed)
    n, since, left = 7 * 288, 48 * 12, 48 * 12
    jump = 150 * MIB
    rate = (2 * GIB - 700 * MIB - jump) / (since + left)
    k = np.arange(n)
    y = 700 * MIB + np.where(k >= n - since, jump + rate * (k - (n - since)), 0.0) + _ar_noise(rng, n, 15 * MIB)
    return k * STEP, y


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("units", [1.0, 1 / GIB])
@pytest.mark.parametrize("ets", [True, False])
def test_a_leak_that_starts_after_a_deploy_gets_its_runway(
    seed: int, units: float, ets: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five quiet days, then two days of leak: the runway is that of the leak's own slope (48 h), in bytes
    or GiB, with or without the ETS members.  (The previous forecaster, without the change-point member,
    failed 4 of the 6 in bytes and all 6 in GiB at 10 %: ETS or a 6 h line won and were off by up to 21 %,
    or saw no crossing at all.)"""
    if not ets:
        monkeypatch.setattr(forecaster_mod, "candidates", _without_ets)
    t, y = _after_deploy(seed)
    f = Forecaster().fit(t, y * units, 72 * 3600)
    ttl = f.time_to_limit(2 * GIB * units, "up")
    assert ttl.seconds is not None and ttl.probability > 0.9
    # in bytes, the ETS members' optimiser quirk (initial trend never moved) can still win validation: 41.5 h
    # for seed 5; without them, or in GiB where the optimiser works, the change-point line is within 10 %
    assert ttl.seconds / 3600 == pytest.approx(48, rel=0.15 if ets and units == 1.0 else 0.1)


def test_the_break_is_found_where_the_regime_began() -> None:
    rng = np.random.default_rng(2)
    n, start = 2016, 1500
    y = 100 + np.where(np.arange(n) >= start, 20 + 0.1 * (np.arange(n) - start), 0) + _ar_noise(rng, n, 1.0)
    m = ChangepointLinear(72).fit(y[:1000])
    found = m.breaks(y, np.array([1400, n - 1]))
    assert found[0] == 0  # before the deploy: one regime
    assert abs(int(found[1]) - start) <= 20


@pytest.mark.parametrize("seed", range(6))
def test_stable_noise_and_a_saw_tooth_have_no_break(seed: int) -> None:
    """AR(1) noise and a garbage-collection saw-tooth with irregular teeth: one regime, a flat line."""
    rng = np.random.default_rng(seed)
    n = 576
    noise = 50 + _ar_noise(rng, n, 1.0)
    teeth = np.cumsum(rng.integers(24, 60, 20))
    phase = np.arange(n) - np.concatenate([[0], teeth])[np.searchsorted(teeth, np.arange(n), side="right")]
    saw = 600 * MIB + 1.5 * MIB * phase + _ar_noise(rng, n, 2 * MIB)
    for y in (noise, saw):
        m = ChangepointLinear(72).fit(y[:300])
        assert (m.breaks(y, np.arange(299, n, 12)) == 0).all()
        slope = np.diff(m.forecasts(y, np.array([n - 1]), 2)[0])[0]
        assert abs(slope) * 288 < 0.2 * np.ptp(y)  # less than a fifth of the swing per day


@settings(max_examples=40, deadline=None)
@given(st.integers(30, 400), st.floats(1e-3, 1e9), st.floats(-1e9, 1e9), st.booleans(), st.integers(0, 2**32 - 1))
def test_forecasts_are_finite_and_scale_equivariant(n: int, scale: float, shift: float, flat: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = np.zeros(n) if flat else np.cumsum(rng.normal(size=n))
    origins = np.arange(n // 2, n)
    base = ChangepointLinear(12).fit(y[: n // 2]).forecasts(y, origins, 5)
    moved = ChangepointLinear(12).fit(y[: n // 2] * scale + shift).forecasts(y * scale + shift, origins, 5)
    assert np.isfinite(base).all() and np.isfinite(moved).all()
    np.testing.assert_allclose(moved, base * scale + shift, rtol=1e-6, atol=1e-6 * (scale * np.ptp(y) + abs(shift)))


def test_a_forecast_uses_only_the_samples_up_to_its_origin() -> None:
    rng = np.random.default_rng(4)
    y = np.r_[np.full(300, 10.0), 10 + 0.2 * np.arange(200)] + _ar_noise(rng, 500, 0.5)
    m = ChangepointLinear(36, grid=1).fit(y[:250])
    origins = np.array([280, 350, 420])
    whole = m.forecasts(y, origins, 10)
    for i, o in enumerate(origins):
        np.testing.assert_allclose(m.forecasts(y[: o + 1], np.array([o]), 10)[0], whole[i], rtol=1e-9)


def _fleet_leak(seed: int, hours: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The memory of the agent with the first memory leak of ``seed``'s week, two days up to ``hours`` into it."""
    fleet = Fleet(agents=20, seed=seed, step=60)
    inc = next(i for i in fleet.incidents(fleet.start, fleet.start + 7 * 86400) if i.kind == "memory_leak")
    now = inc.start + hours * 3600
    name = "process_resident_memory_bytes"
    batch = fleet.signals(now - 2 * 86400, now, step=STEP, names=[name])[name]
    assert inc.exhaustion_time is not None
    return batch.timestamps, batch.values[fleet.agents.index(inc.agent)], inc.exhaustion_time - now


def test_the_simulated_fleets_memory_leak_is_caught_without_the_ets_members(monkeypatch: pytest.MonkeyPatch) -> None:
    """A simulator leak (seed 101, agent-14) ten hours in: a runway within the day, with no ETS member at all."""
    monkeypatch.setattr(forecaster_mod, "candidates", _without_ets)
    t, y, left = _fleet_leak(101, 10)
    ttl = Forecaster().fit(t, y, 48 * 3600).time_to_limit(2 * GIB, "up")
    assert ttl.seconds is not None and ttl.seconds <= 24 * 3600 and ttl.probability >= 0.5
    assert ttl.seconds >= 0.5 * left


def test_the_demos_saw_tooth_leak_is_caught_without_the_ets_members(monkeypatch: pytest.MonkeyPatch) -> None:
    """85 MiB/h on a saw-tooth that itself climbs ~65 MiB/h between collections (seed 7, agent-05).  The
    change-point split on raw samples is accepted only after 9 h and validation then prefers a level-following
    member; the saw-tooth floor member (``sawtooth.py``: a line through the post-collection troughs) catches it
    by 9 h with no ETS member, with a runway of the leak's own size.  (It used to be caught only by the ETS
    members' byte-scale optimiser quirk.)"""
    monkeypatch.setattr(forecaster_mod, "candidates", _without_ets)
    for hours in (7, 8, 9):
        t, y, left = _fleet_leak(7, hours)
        f = Forecaster().fit(t, y, 48 * 3600)
        ttl = f.time_to_limit(2 * GIB, "up")
        if ttl.seconds is not None and ttl.seconds <= 24 * 3600 and ttl.probability >= 0.5:
            assert f.method_.startswith("sawtooth_floor")
            assert 0.5 * left <= ttl.seconds <= 2 * left
            return
    pytest.fail("not caught within 9 h of the leak's start")
