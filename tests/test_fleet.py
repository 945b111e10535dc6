"""The simulated fleet: determinism, chunk independence, ground truth, schedule."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.fleet import KINDS, SIGNALS, Fleet
from sentinel.fleet.baseline import MEMORY_LIMIT
from sentinel.fleet.incidents import GAP, WEEK
from sentinel.fleet.signals import agent_series

DAY = 86400
FLEET = Fleet(agents=8, seed=3)


def _equal(a: dict, b: dict) -> bool:
    return all(np.array_equal(a[n].values, b[n].values, equal_nan=True) for n in SIGNALS)


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    s, e = FLEET.start, FLEET.start + 6 * 3600
    assert _equal(FLEET.signals(s, e), Fleet(agents=8, seed=3).signals(s, e))
    other = Fleet(agents=8, seed=4).signals(s, e)
    assert not np.array_equal(FLEET.signals(s, e)["agent_task_rate"].values, other["agent_task_rate"].values)
    assert FLEET.incidents(s, s + WEEK) == Fleet(agents=8, seed=3).incidents(s, s + WEEK)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 3 * DAY // 60), st.integers(1, 600), st.integers(1, 600))
def test_chunk_independent(offset: int, n1: int, n2: int) -> None:
    a = FLEET.start + offset * 60
    b, c = a + n1 * 60, a + (n1 + n2) * 60
    whole, left, right = FLEET.signals(a, c), FLEET.signals(a, b), FLEET.signals(b, c)
    for n in SIGNALS:
        joined = np.hstack([left[n].values, right[n].values])
        assert np.array_equal(whole[n].values, joined, equal_nan=True), n
        assert whole[n].labels == left[n].labels == right[n].labels
    assert whole["agent_task_rate"].timestamps.tolist() == list(range(a, c, 60))


def test_coarser_grid_samples_the_same_cells() -> None:
    s = FLEET.start + 3 * 3600
    fine = FLEET.signals(s, s + 6 * 3600)
    coarse = FLEET.signals(s, s + 6 * 3600, step=300)
    for n in SIGNALS:
        assert np.array_equal(coarse[n].values, fine[n].values[:, ::5], equal_nan=True)
        assert coarse[n].step == 300


def test_seasonality_weekday_afternoon_busier_than_night_and_weekend() -> None:
    f = Fleet(agents=6, seed=1, incident_rate=0)
    rate = f.signals(f.start, f.start + WEEK, step=3600)["agent_task_rate"].values
    hours = np.arange(rate.shape[1])
    weekday_afternoon = rate[:, (hours < 120) & (hours % 24 >= 13) & (hours % 24 <= 16)].mean()
    weekday_night = rate[:, (hours < 120) & (hours % 24 >= 2) & (hours % 24 <= 4)].mean()
    weekend_afternoon = rate[:, (hours >= 120) & (hours % 24 >= 13) & (hours % 24 <= 16)].mean()
    assert weekday_afternoon > 2.5 * weekday_night
    assert weekday_afternoon > 1.4 * weekend_afternoon


def test_memory_sawtooth_and_disk_cleanup_happen_without_incidents() -> None:
    f = Fleet(agents=4, seed=2, incident_rate=0)
    sig = f.signals(f.start, f.start + 3 * DAY)
    mem = sig["process_resident_memory_bytes"].values
    drops = (np.diff(mem, axis=1) < -50 * 2**20).sum(axis=1)
    assert (drops >= 6).all()  # several GCs / restarts a day
    assert (mem < 0.9 * MEMORY_LIMIT).all()
    disk = sig["node_filesystem_avail_bytes"].values
    rises = (np.diff(disk, axis=1) > 2**30).sum(axis=1)
    assert (rises >= 2).all() and (rises <= 4).all()  # one cleanup a day
    assert (disk > 0).all()


def _one_of_each(f: Fleet) -> list:
    base = f.start + DAY
    plans = [
        ("latency_regression", 0, 3600, {}),
        ("tool_error_burst", 1, 1800, {"tool": "browser"}),
        ("runaway_loop", 2, 2400, {}),
        ("traffic_surge", 4, 3600, {}),
        ("memory_leak", 5, 10 * 3600, {"runway": 12 * 3600}),
        ("disk_fill", 6, 10 * 3600, {"runway": 8 * 3600}),
        ("silent_agent", 8, 3600, {}),
        ("new_error_pattern", 9, 3600, {"template": "N03"}),
    ]
    return [f.make_incident(kind, f.agents[a], base + 1800 * a, dur, **kw) for kind, a, dur, kw in plans]


def test_incidents_change_exactly_the_series_they_name_when_they_say() -> None:
    f = Fleet(agents=12, seed=5)
    incidents = _one_of_each(f)
    hit = f.with_incidents(incidents)
    clean = f.with_incidents([])
    s, e = f.start + DAY - 3600, f.start + 2 * DAY
    got, ref = hit.signals(s, e), clean.signals(s, e)
    ts = got["agent_task_rate"].timestamps
    for n in SIGNALS:
        for row, lb in enumerate(got[n].labels):
            g, r = got[n].values[row], ref[n].values[row]
            owner = [i for i in incidents if i.affects(n, lb)]
            if not owner:
                assert np.array_equal(g, r, equal_nan=True), (n, lb)
                continue
            (inc,) = owner
            inside = (ts >= inc.start) & (ts < inc.end)
            assert np.array_equal(g[~inside], r[~inside], equal_nan=True), (n, lb, "changed outside")
            assert not np.array_equal(g[inside], r[inside], equal_nan=True), (n, lb, "unchanged inside")
            if inc.kind == "silent_agent":
                assert np.isnan(g[inside]).all()
            elif n != "agent_log_error_rate":
                ratio = np.nanmean(g[inside]) / np.nanmean(r[inside])
                assert (ratio > 1.0) == (inc.direction == "up"), (n, lb, ratio)


def test_incident_magnitudes_are_realistic() -> None:
    f = Fleet(agents=12, seed=5)
    incidents = {i.kind: i for i in _one_of_each(f)}
    hit, clean = f.with_incidents(list(incidents.values())), f.with_incidents([])
    s, e = f.start + DAY, f.start + 2 * DAY
    got, ref = hit.signals(s, e), clean.signals(s, e)
    ts = got["agent_task_rate"].timestamps

    def ratio(kind: str, name: str, **labels: str) -> float:
        inc = incidents[kind]
        want = {"agent": inc.agent, **labels}
        row = next(r for r, lb in enumerate(got[name].labels) if want.items() <= dict(lb).items())
        mid = (ts >= inc.start + 600) & (ts < inc.end - 600)
        return float(np.mean(got[name].values[row, mid] / ref[name].values[row, mid]))

    assert 1.8 <= ratio("latency_regression", "gen_ai_latency_p95") <= 3.0
    assert 3.9 <= ratio("tool_error_burst", "agent_tool_error_ratio", tool="browser") <= 10.0
    assert 5.0 <= ratio("runaway_loop", "gen_ai_tokens_per_second", gen_ai_token_type="output") <= 10.0
    assert 2.0 <= ratio("traffic_surge", "agent_task_rate") <= 4.0

    leak = incidents["memory_leak"]
    assert leak.exhaustion_time is not None and leak.end <= leak.exhaustion_time
    fill = incidents["disk_fill"]
    assert fill.exhaustion_time is not None and fill.start < fill.exhaustion_time < fill.end
    disk = hit.signals(fill.exhaustion_time - 60, fill.exhaustion_time + 60)["node_filesystem_avail_bytes"]
    row = next(r for r, lb in enumerate(disk.labels) if ("agent", fill.agent) in lb)
    assert disk.values[row, 0] > 0 and disk.values[row, 1] == 0


def test_memory_leak_reaches_the_limit_at_its_exhaustion_time() -> None:
    f = Fleet(agents=4, seed=5)
    inc = f.make_incident("memory_leak", "agent-01", f.start + DAY, 20 * 3600, runway=10 * 3600)
    assert inc.exhaustion_time is not None and inc.end == inc.exhaustion_time  # OOM ends it
    mem = f.with_incidents([inc]).signals(inc.start, inc.end + 60)["process_resident_memory_bytes"].values[1]
    assert (mem[:-1] < MEMORY_LIMIT).all() and mem[-2] > 0.97 * MEMORY_LIMIT  # the next minute would cross it
    assert mem[-1] < 0.9 * MEMORY_LIMIT  # OOM-killed at exhaustion_time: the leak is gone


def test_weekly_schedule_covers_every_kind_without_overlap() -> None:
    f = Fleet(agents=20, seed=11)
    for w in range(3):
        week = f.incidents(f.start + w * WEEK, f.start + (w + 1) * WEEK)
        assert {i.kind for i in week} == set(KINDS)
        for inc in week:
            assert f.start + w * WEEK <= inc.start < inc.end <= f.start + (w + 1) * WEEK
            assert inc.agent not in f.clean_agents
            assert inc.start % f.step == 0 and inc.end % f.step == 0
        for a in {i.agent for i in week}:
            spans = sorted((i.start, i.end) for i in week if i.agent == a)
            assert all(s2 >= e1 + GAP for (_, e1), (s2, _) in itertools.pairwise(spans))
    assert f.clean_agents == ["agent-03", "agent-07", "agent-11", "agent-15", "agent-19"]
    assert f.incidents(f.start - WEEK, f.start) == []  # history before start is clean for warm-up


def test_incident_rate_scales_the_count_and_zero_disables() -> None:
    busy = Fleet(agents=30, seed=1, incident_rate=4.0)
    assert len(busy.incidents(busy.start, busy.start + 4 * WEEK)) > 4 * 20
    quiet = Fleet(agents=30, seed=1, incident_rate=0.0)
    assert quiet.incidents(quiet.start, quiet.start + 4 * WEEK) == []


def test_affecting_and_truth_mask_point_at_the_incident() -> None:
    f = Fleet(agents=4, seed=5)
    inc = f.make_incident("tool_error_burst", "agent-02", f.start + 3600, 1200, tool="search")
    g = f.with_incidents([inc])
    labels = {"agent": "agent-02", "tool": "search"}
    assert g.affecting("agent_tool_error_ratio", labels, inc.start + 60) == inc
    assert g.affecting("agent_tool_error_ratio", {**labels, "__name__": "x"}, inc.start) == inc
    assert g.affecting("agent_tool_error_ratio", labels, inc.end) is None
    assert g.affecting("agent_tool_error_ratio", {"agent": "agent-02", "tool": "browser"}, inc.start) is None
    assert g.affecting("agent_tool_error_ratio", {"agent": "agent-01", "tool": "search"}, inc.start) is None
    batch = g.signals(f.start, f.start + 2 * 3600)["agent_tool_error_ratio"]
    mask = g.truth("agent_tool_error_ratio", batch)
    assert mask.sum() == 20 and mask.any(axis=1).nonzero()[0].tolist() == [6]


def test_silent_agent_lists_every_series_of_the_agent() -> None:
    f = Fleet(agents=4)
    inc = f.make_incident("silent_agent", "agent-01", f.start, 600)
    assert set(inc.signals) == set(agent_series("agent-01")) and len(inc.signals) == 13


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"agents": 0}, "agents"), ({"step": 0}, "step"), ({"incident_rate": -1.0}, "incident_rate"),
     ({"seed": -1}, "seed"), ({"agents": 2.5}, "agents")],
)
def test_bad_fleet_arguments_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fleet(**kwargs)


def test_bad_requests_name_the_problem() -> None:
    with pytest.raises(ValueError, match="known: agent_task_rate"):
        FLEET.signals(FLEET.start, FLEET.start + 60, names=["cpu"])
    with pytest.raises(ValueError, match="unknown incident kind"):
        FLEET.make_incident("fire", "agent-00", FLEET.start, 60)
    with pytest.raises(ValueError, match="unknown agent"):
        FLEET.make_incident("disk_fill", "agent-99", FLEET.start, 60)
    inc = FLEET.make_incident("runaway_loop", "agent-00", FLEET.start, 600)
    with pytest.raises(ValueError, match="overlap"):
        FLEET.with_incidents([inc, FLEET.make_incident("silent_agent", "agent-00", FLEET.start + 300, 600)])
    assert FLEET.signals(FLEET.start, FLEET.start)["agent_task_rate"].n_steps == 0


def test_a_week_of_fifty_agents_takes_seconds() -> None:
    f = Fleet(agents=50)
    t0 = time.perf_counter()
    sig = f.signals(f.start, f.start + WEEK)
    elapsed = time.perf_counter() - t0
    assert sig["agent_task_rate"].values.shape == (50, 7 * 1440)
    assert elapsed < 30, f"a simulated week of 50 agents took {elapsed:.1f}s"
