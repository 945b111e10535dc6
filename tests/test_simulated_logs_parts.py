"""The simulated log source generates only the lines a query can match, and renders a sample in one pass.

Error lines and the other lines come from separate day blocks
(:mod:`sentinel.sources.simulated_logs`); these tests pin that this is only a
speed-up: a complete sample is exactly the fleet's own records for the query,
in the same order (so an over-full sample's seeded draw picks the same lines),
whichever parts the query needs; and rendering several agents' lines in one
call gives every line the text it always had.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from sentinel.config import WatchConfig
from sentinel.fleet import Fleet
from sentinel.fleet.logfields import make_field
from sentinel.fleet.logs import agent_lines, render_lines, render_messages
from sentinel.sources.simulated_logs import SimulatedLogs

FLEET = Fleet(agents=3, seed=11)
DAY = 86400


def _watch(query: str) -> WatchConfig:
    return WatchConfig.model_validate({"name": "w", "every": 60, "logs": {
        "index": "agent-logs-*", "query": query, "group_by": ["service.name", "labels.tool"]}})


def _matches(rec: dict[str, str], query: str) -> bool:
    if query == "*":
        return True
    terms = [t.split(":", 1) for t in query.split(" AND ")]
    return all(rec.get(f, "") in v.strip("()").split(" OR ") for f, v in terms)


@pytest.mark.parametrize("query", [
    "log.level:error",
    "*",
    "log.level:(error OR warn)",
    "labels.tool:search",
    "service.name:agent-01 AND log.level:info",
])
def test_a_complete_sample_is_the_fleets_records_in_their_order(query: str) -> None:
    start, end = FLEET.start + DAY - 1800, FLEET.start + DAY + 1800  # across a day block's edge
    want = [r for r in FLEET.logs(start, end) if _matches(r, query)]
    got = SimulatedLogs(FLEET, max_messages=10**6).sample(_watch(query), start, end).records
    assert want, "the query should match some lines"
    assert [(r.message, r.level, dict(r.labels)["service_name"]) for r in got] == \
        [(r["message"], r["log.level"], r["service.name"]) for r in want]
    stamps = np.array([r["@timestamp"][:-1] for r in want], dtype="datetime64[ms]").astype(np.int64) / 1000.0
    assert [r.timestamp for r in got] == stamps.tolist()


def test_a_query_no_template_matches_has_no_lines() -> None:
    logs = SimulatedLogs(FLEET)
    w = _watch("log.level:fatal")
    assert logs.sample(w, FLEET.start, FLEET.start + 3600).records == []
    assert logs.fetch(w, FLEET.start, FLEET.start + 3600).n_series == 0
    assert not logs._cache  # nothing was generated


def test_an_error_query_generates_only_error_blocks() -> None:
    logs = SimulatedLogs(FLEET)
    logs.fetch(_watch("log.level:error"), FLEET.start, FLEET.start + 2 * DAY)
    assert sorted(logs._cache) == [(0 + FLEET.start // DAY, True), (1 + FLEET.start // DAY, True)]


def test_agent_lines_parts_are_the_whole_split_by_level() -> None:
    t = np.arange(FLEET.start, FLEET.start + 7200, FLEET.step, dtype=np.int64)
    incs = FLEET.incidents(int(t[0]), int(t[-1]) + FLEET.step)
    for i in range(FLEET.n_agents):
        both = agent_lines(FLEET, i, t, incs)
        parts = [agent_lines(FLEET, i, t, incs, errors) for errors in (True, False)]
        for whole, split in zip(both, zip(*parts, strict=True), strict=True):
            assert np.array_equal(whole, np.concatenate(split))
        assert (parts[0][2] & 1).all() and not (parts[1][2] & 1).any()  # the counter's last bit marks errors


def _half_hour_of_lines() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(FLEET.start + 36000, FLEET.start + 36000 + 1800, FLEET.step, dtype=np.int64)
    incs = FLEET.incidents(int(t[0]), int(t[-1]) + FLEET.step)
    parts = [(*agent_lines(FLEET, i, t, incs), i) for i in range(FLEET.n_agents)]
    agents = np.concatenate([np.full(len(p[0]), p[3]) for p in parts])
    return agents, np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def test_rendered_text_is_pinned() -> None:
    """The text of 2,996 lines (29 templates) as the release before batched rendering wrote it."""
    agents, numbers, counter = _half_hour_of_lines()
    text = [m for i in range(FLEET.n_agents) for m in
            render_messages(FLEET, i, numbers[agents == i], counter[agents == i]).tolist()]
    assert len(text) == 2996
    assert hashlib.sha256("\n".join(text).encode()).hexdigest() == \
        "2e874e47385dcabe1e0d4882ea6d8b39f77741730815335b81282a72296bec19"


def test_rendering_agents_together_gives_each_line_its_own_text() -> None:
    agents, numbers, counter = _half_hour_of_lines()
    shuffle = np.random.default_rng(3).permutation(len(agents))  # agents interleaved, as a sample has them
    together = render_lines(FLEET, agents[shuffle], numbers[shuffle], counter[shuffle])
    alone = np.empty(len(agents), dtype=object)
    for i in range(FLEET.n_agents):
        rows = np.flatnonzero(agents[shuffle] == i)
        alone[rows] = render_messages(FLEET, i, numbers[shuffle][rows], counter[shuffle][rows])
    assert together.tolist() == alone.tolist()


@pytest.mark.parametrize("name", ["task_id", "uuid", "ms", "tokens", "secs", "n", "mb", "pct", "bytes", "port",
                                  "ip", "path", "email", "url", "code", "model"])
def test_a_field_with_per_line_keys_equals_one_call_per_key(name: str) -> None:
    counter = np.arange(40, dtype=np.int64) * 7919
    keys = np.repeat(np.array([12345, 2**63 + 99], dtype=np.uint64), 20)
    models = np.repeat(np.array(["gpt-4o", "llama-3.1-70b"], dtype=object), 20)
    per_key = make_field(name, 12345, counter[:20], "gpt-4o") \
        + make_field(name, 2**63 + 99, counter[20:], "llama-3.1-70b")
    assert make_field(name, keys, counter, models) == per_key
