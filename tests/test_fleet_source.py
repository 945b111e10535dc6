"""SimulatedSource: the Source protocol over the fleet."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sentinel.config import WatchConfig
from sentinel.fleet import SIGNALS as FLEET_SIGNALS
from sentinel.fleet import Fleet
from sentinel.series import concat_time
from sentinel.sources.base import Source, SourceError
from sentinel.sources.simulated import SimulatedQueryError, SimulatedSource, parse_query

FLEET = Fleet(agents=6, seed=9)


def _watch(query: str, every: int = 60, **kw: object) -> WatchConfig:
    return WatchConfig(name="w", query=query, every=every, **kw)


def _source() -> SimulatedSource:
    return SimulatedSource(FLEET, registry=CollectorRegistry())


def test_is_a_source_and_matches_the_fleet() -> None:
    src = _source()
    assert isinstance(src, Source)
    s = FLEET.start + 3600
    got = src.fetch(_watch("agent_task_latency_p95"), s, s + 7200)
    want = FLEET.signals(s, s + 7200)["agent_task_latency_p95"]
    assert got.labels == want.labels
    assert np.array_equal(got.values, want.values, equal_nan=True)
    assert got.timestamps.tolist() == want.timestamps.tolist()


def test_label_matchers_select_series() -> None:
    src, s = _source(), FLEET.start
    b = src.fetch(_watch('agent_tool_error_ratio{tool="search", agent=~"agent-0[0-2]"}'), s, s + 600)
    assert [dict(lb)["agent"] for lb in b.labels] == ["agent-00", "agent-01", "agent-02"]
    assert {dict(lb)["tool"] for lb in b.labels} == {"search"}
    b = src.fetch(_watch('gen_ai_tokens_per_second{gen_ai_token_type!="input"}'), s, s + 600)
    assert b.n_series == 6
    b = src.fetch(_watch('agent_queue_depth{agent!~"agent-0[1-5]"}'), s, s + 600)
    assert b.n_series == 1


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2000), st.integers(1, 900), st.sampled_from([60, 300]))
def test_cycle_by_cycle_equals_one_fetch(offset: int, n: int, every: int) -> None:
    src, w = _source(), _watch("agent_log_error_rate", every=every)
    s = FLEET.start + offset * every
    one = src.fetch(w, s, s + n * every)
    cuts = sorted({s, s + (n // 3) * every, s + (2 * n // 3) * every, s + n * every})
    parts = [src.fetch(w, a, b) for a, b in itertools.pairwise(cuts) if b > a]
    joined = concat_time(parts)
    assert np.array_equal(one.values, joined.values, equal_nan=True)
    assert one.timestamps.tolist() == joined.timestamps.tolist()


def test_block_cache_stays_within_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import sentinel.sources.simulated as sim

    monkeypatch.setattr(sim, "CACHE_VALUES", 60_000)  # a 6-agent block is 28 080 values
    src, w = _source(), _watch("agent_task_rate")
    first = src.fetch(w, FLEET.start, FLEET.start + 600)
    for day in range(1, 4):
        src.fetch(w, FLEET.start + day * 86400, FLEET.start + day * 86400 + 600)
    assert len(src._cache) == 2  # 3 blocks exceed the budget; the two newest stay
    again = src.fetch(w, FLEET.start, FLEET.start + 600)  # regenerated after eviction: same values
    assert np.array_equal(first.values, again.values)


def test_unaligned_start_rounds_up_to_the_grid() -> None:
    b = _source().fetch(_watch("agent_task_rate", every=300), FLEET.start + 10, FLEET.start + 1200)
    assert b.timestamps.tolist() == [FLEET.start + 300 * k for k in (1, 2, 3)]


def test_max_series_caps_and_counts_the_drop() -> None:
    reg = CollectorRegistry()
    src = SimulatedSource(FLEET, registry=reg)
    b = src.fetch(_watch("agent_tool_error_ratio", max_series=4), FLEET.start, FLEET.start + 120)
    assert b.n_series == 4
    assert reg.get_sample_value("sentinel_source_series_dropped_total", {"source": "simulated", "watch": "w"}) == 14


def test_unknown_signal_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown simulated signal 'cpu'.*agent_task_rate"):
        _source().fetch(_watch("cpu"), FLEET.start, FLEET.start + 60)
    with pytest.raises(SourceError):  # the daemon's one failure type, too
        _source().fetch(_watch("cpu"), FLEET.start, FLEET.start + 60)


def test_matcher_values_keep_unicode_and_regex_escapes() -> None:
    assert parse_query('agent_task_rate{agent="é", tool=~"a\\.b", x="q\\"t"}')[1] == [
        ("agent", "=", "é"), ("tool", "=~", "a\\.b"), ("x", "=", 'q"t')]
    assert parse_query('agent_task_rate{agent="\\x"}')[1] == [("agent", "=", "\\x")]


@pytest.mark.parametrize("query", ["rate(x[5m])", 'agent_task_rate{agent="a"', 'agent_task_rate{agent=~"("}',
                                   "agent_task_rate{agent=a}"])
def test_bad_queries_are_value_errors(query: str) -> None:
    with pytest.raises(ValueError):
        parse_query(query)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_query_text_parses_or_fails_with_one_clear_error(query: str) -> None:
    try:
        name, matchers = parse_query(query)
    except SimulatedQueryError as err:
        assert "\n" not in str(err)
    else:
        assert name in FLEET_SIGNALS and all(op in ("=", "!=", "=~", "!~") for _, op, _ in matchers)


def test_empty_range_gives_an_empty_batch_with_the_series() -> None:
    b = _source().fetch(_watch("agent_task_rate"), FLEET.start, FLEET.start)
    assert b.n_steps == 0 and b.n_series == 6
