"""The fleet's ECS logs: fields, determinism, consistency with the signals, incidents, writers."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentinel.cli.app import app
from sentinel.fleet import Fleet
from sentinel.fleet.logs import write_ndjson, write_plain
from sentinel.fleet.templates import NEW_ERROR_TEMPLATES, TEMPLATES

FLEET = Fleet(agents=4, seed=13)
NOON = FLEET.start + 12 * 3600
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_records_carry_the_ecs_fields() -> None:
    recs = list(FLEET.labelled_logs(NOON, NOON + 1800))
    assert len(recs) > 500
    ids = {t.id for t in (*TEMPLATES, *NEW_ERROR_TEMPLATES)}
    stamps = [r["@timestamp"] for _, r in recs]
    assert stamps == sorted(stamps)
    for tid, r in recs:
        assert tid in ids
        assert ISO.match(r["@timestamp"])
        assert r["log.level"] in ("info", "warn", "error")
        assert r["service.name"] in FLEET.agents
        assert r["event.dataset"].startswith("agent.")
        assert re.fullmatch(r"[0-9a-f]{32}", r["trace.id"])
        assert ("labels.tool" in r) == (r["event.dataset"] == "agent.tool" and tid.startswith("T"))
        assert "{" not in r["message"]
    assert len({tid for tid, _ in recs}) >= 25  # a realistic mix of templates


def test_variable_parts_vary_within_a_template() -> None:
    msgs = [r["message"] for tid, r in FLEET.labelled_logs(NOON, NOON + 3600) if tid == "T26"]
    assert len(set(msgs)) > 0.9 * len(msgs) > 5
    assert all(re.fullmatch(r"tool search failed: upstream 10\.\d+\.\d+\.\d+ returned HTTP \d{3}", m) for m in msgs)


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 7200), st.integers(1, 2400))
def test_logs_are_deterministic_and_split_independent(a: int, b: int) -> None:
    s, m, e = NOON + a, NOON + a + b, NOON + a + b + 600
    whole = list(FLEET.logs(s, e))
    assert whole == list(FLEET.logs(s, m)) + list(FLEET.logs(m, e))
    assert whole == list(Fleet(agents=4, seed=13).logs(s, e))


def test_error_lines_match_the_log_error_rate_signal() -> None:
    s = NOON
    sig = FLEET.signals(s, s + 3600)["agent_log_error_rate"]
    got = np.zeros_like(sig.values)
    for r in FLEET.logs(s, s + 3600):
        if r["log.level"] == "error":
            t = int(np.datetime64(r["@timestamp"][:-1], "ms").astype(np.int64) // 1000)
            got[FLEET.agents.index(r["service.name"]), (t - s) // 60] += 1
    assert np.array_equal(np.nan_to_num(sig.values) * 60, got)


def test_volume_follows_the_daily_cycle() -> None:
    night = sum(1 for _ in FLEET.logs(FLEET.start + 3 * 3600, FLEET.start + 4 * 3600))
    day = sum(1 for _ in FLEET.logs(FLEET.start + 14 * 3600, FLEET.start + 15 * 3600))
    assert day > 2.5 * night


def test_incidents_show_in_the_logs() -> None:
    burst = FLEET.make_incident("tool_error_burst", "agent-01", NOON, 1800, 8.0, tool="browser")
    new = FLEET.make_incident("new_error_pattern", "agent-02", NOON, 1800, 0.2, template="N05")
    quiet = FLEET.make_incident("silent_agent", "agent-00", NOON, 1800)
    f = FLEET.with_incidents([burst, new, quiet])

    def count(s: int, e: int) -> Counter:
        return Counter((r["service.name"], tid) for tid, r in f.labelled_logs(s, e))

    before, during = count(NOON - 1800, NOON), count(NOON, NOON + 1800)
    assert during[("agent-01", "T29")] > 4 * max(1, before[("agent-01", "T29")])
    assert during[("agent-02", "N05")] > 100 and before[("agent-02", "N05")] == 0
    assert sum(n for (a, _), n in during.items() if a == "agent-00") == 0
    assert sum(n for (a, _), n in before.items() if a == "agent-00") > 100
    # the new template never appears without its incident (six busy hours of the clean fleet)
    clean_day = {tid for tid, _ in FLEET.with_incidents([]).labelled_logs(NOON - 4 * 3600, NOON + 2 * 3600)}
    assert not clean_day & {t.id for t in NEW_ERROR_TEMPLATES}


def test_writers_emit_one_truth_line_per_log_line(tmp_path: Path) -> None:
    n = write_ndjson(FLEET, tmp_path / "a.ndjson", NOON, NOON + 900, truth=tmp_path / "a.truth")
    lines = (tmp_path / "a.ndjson").read_text().splitlines()
    truth = (tmp_path / "a.truth").read_text().splitlines()
    assert n == len(lines) == len(truth) > 100
    assert json.loads(lines[0])["@timestamp"].endswith("Z")
    m = write_plain(FLEET, tmp_path / "b.log", NOON, NOON + 900)
    plain = (tmp_path / "b.log").read_text().splitlines()
    assert m == n
    assert re.fullmatch(r"\S+Z (INFO|WARN|ERROR) \[agent-\d\d\] .+", plain[0])


def test_cli_writes_logs_truth_and_incidents(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, [
        "simulate", "--logs", str(tmp_path / "l.txt"), "--log-format", "plain", "--truth", str(tmp_path / "t.txt"),
        "--incidents", str(tmp_path / "i.json"), "--days", "0.05", "--agents", "3", "--start", "2026-01-07T10:00:00Z",
    ])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "l.txt").read_text().splitlines()) == len((tmp_path / "t.txt").read_text().splitlines())
    assert isinstance(json.loads((tmp_path / "i.json").read_text()), list)
    bad = CliRunner().invoke(app, ["simulate", "--truth", str(tmp_path / "t.txt")])
    assert bad.exit_code == 2 and "--truth needs --logs" in bad.output


def test_log_generation_is_reasonably_fast() -> None:
    f = Fleet(agents=20)
    t0 = time.process_time()
    n = sum(1 for _ in f.logs(f.start + 10 * 3600, f.start + 11 * 3600))
    rate = n / (time.process_time() - t0)
    assert n > 30_000 and rate > 20_000, f"{n} lines at {rate:.0f} lines per CPU second"
