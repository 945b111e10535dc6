"""Template mining without a server: masking, privacy, the miner's cap and state, `logs parse`."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sentinel.logs.masking import mask
from sentinel.logs.miner import OVERFLOW_ID, LogMiner
from sentinel.logs.parse import MAX_LINE_BYTES, ParseError, parse_file
from sentinel.logs.patterns import TemplateTracker
from sentinel.logs.records import LogRecord, Sample
from sentinel.logs.state_file import StateError
from sentinel.series import labels_key

# -- masking --------------------------------------------------------------------------

SECRETS = {
    "email": "jane.doe+ops@corp.example.com",
    "ipv4": "203.0.113.77",
    "ipv6": "2001:db8:85a3::8a2e:370:7334",
    "token": "ghp_Zx81kLm2Qp9Rt7Vw3Yz5Ab6Cd8Ef0Gh2Ij4",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "password": "hunter2hunter2",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("took 12ms then 1.5s then 3 min", "took <DURATION> then <DURATION> then <DURATION>"),
        ("GET https://x.example.org/a/b?c=1 ok", "GET <URL> ok"),
        ("open /var/lib/agent/state.db failed", "open <PATH> failed"),
        ("mac 00:1A:2b:3C:4d:5E up", "mac <MAC> up"),
        ("addr 0x7ffd5f3a ptr deadbeef12", "addr <*> ptr <*>"),
        ("key AKIAIOSFODNN7EXAMPLEwJalrXUtnFEMIK7MDENGbPxRfiCY in use", "key <*> in use"),
        (
            "PacketResponder 1 for block blk_-1608999687919862906 terminating",
            "PacketResponder <*> for block <*> terminating",
        ),
        ('user said "hello there 42" and left', "user said <STR> and left"),
        ("session 123e4567-e89b-12d3-a456-426614174000 closed", "session <UUID> closed"),
        ("listening on [::1]:8080 and 10.1.2.3:9200", "listening on [<IP>]<*> and <IP>"),
    ],
)
def test_mask_shapes(line: str, expected: str) -> None:
    assert mask(line) == expected


def test_mask_removes_every_kind_of_personal_data() -> None:
    line = (
        f"login {SECRETS['email']} from {SECRETS['ipv4']} / {SECRETS['ipv6']} token={SECRETS['token']} "
        f"Authorization: Bearer {SECRETS['bearer']} password={SECRETS['password']} session {SECRETS['uuid']}"
    )
    masked = mask(line)
    for name, value in SECRETS.items():
        assert value not in masked, name
    assert masked.startswith("login <EMAIL> from <IP> / <IP> token=<SECRET>")


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10)


@given(
    user=_word, domain=_word,
    ip=st.tuples(*[st.integers(0, 255)] * 4),
    prefix=st.text(max_size=30), suffix=st.text(max_size=30),
)
@settings(max_examples=200, deadline=None)
def test_mask_never_leaks_emails_or_ips_in_arbitrary_text(
    user: str, domain: str, ip: tuple[int, ...], prefix: str, suffix: str
) -> None:
    email = f"{user}@{domain}.com"
    addr = ".".join(map(str, ip))
    masked = mask(f"{prefix} {email} {addr} {suffix}")
    assert email not in masked
    assert addr not in masked


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_mask_is_total_and_idempotent(text: str) -> None:
    once = mask(text)
    assert isinstance(once, str)
    assert mask(once) == once


# -- miner -------------------------------------------------------------------------------


def _miner(**kw: object) -> LogMiner:
    return LogMiner(registry=CollectorRegistry(), **kw)  # type: ignore[arg-type]


def test_miner_groups_variable_lines_and_separates_different_ones() -> None:
    m = _miner()
    a = [m.add(f"user {u} logged in from 10.0.0.{i} after {i}ms").template_id for i, u in enumerate("abcdef")]
    b = m.add("disk /dev/sda1 is 93% full").template_id
    assert len(set(a)) == 1
    assert b != a[0]
    assert m.template(a[0]) == "user <*> logged in from <IP> after <DURATION>"


def test_miner_state_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "w.drain3.json"
    m1 = _miner(state_path=path)
    first = m1.add("cache miss for key 17").template_id
    second = m1.add("worker 3 crashed: out of memory").template_id
    m1.meta["alerted"] = [second]
    m1.save()
    m2 = _miner(state_path=path)
    assert m2.templates() == m1.templates()
    assert m2.meta["alerted"] == [second]
    assert m2.add("cache miss for key 99") == type(m2.add("x"))(first, False)
    third = m2.add("something entirely different happened here").template_id
    assert third not in (first, second)


def test_miner_state_file_contains_no_raw_message(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    m = _miner(state_path=path)
    line = f"auth for {SECRETS['email']} from {SECRETS['ipv4']} with token={SECRETS['token']}"
    m.add(line)
    m.save()
    import base64
    import json
    import zlib

    doc = json.loads(path.read_text())
    state = zlib.decompress(base64.b64decode(base64.b64decode(doc["drain"]))).decode()
    for value in (SECRETS["email"], SECRETS["ipv4"], SECRETS["token"]):
        assert value not in state
        assert value not in path.read_text()
    assert "<EMAIL>" in state


def test_corrupt_state_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text("{not json")
    with pytest.raises(StateError, match="unreadable miner state"):
        _miner(state_path=path)


def test_template_cap_counts_overflow_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    reg = CollectorRegistry()
    m = LogMiner(watch="w", max_templates=3, registry=reg)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    ids = [m.add(f"{w} {w} {w} happened").template_id for w in words]
    assert len(m) == 3
    assert ids[3:] == [OVERFLOW_ID] * 3
    assert m.add("alpha alpha alpha happened").template_id == ids[0]  # known lines still match
    assert reg.get_sample_value("sentinel_log_template_overflow_lines_total", {"watch": "w"}) == 3
    assert "reached its cap of 3 templates" in caplog.text


# -- templates -> series, new patterns -----------------------------------------------------


def _records(lines: list[tuple[int, str, str]]) -> list[LogRecord]:
    return [LogRecord(float(t), lvl, msg, labels_key({"service_name": "a1"})) for t, lvl, msg in lines]


def test_tracker_counts_per_template_and_reports_new_error_pattern_masked() -> None:
    tr = TemplateTracker(_miner(), watch="w")
    base = [(t, "info", f"task {t} done in {t % 7}ms") for t in range(0, 600, 20)]
    base += [(t, "error", f"task {t} failed: timeout") for t in range(0, 600, 120)]
    first = tr.update(Sample(_records(base), 600.0, 0), 0, 600, 60)
    assert first.new_patterns == []  # warm-up: learn what exists
    assert first.templates.values.sum() == len(base)
    secret_line = f"credential for {SECRETS['email']} expired at {SECRETS['ipv4']}"
    recs = [*base, (650, "error", secret_line), (700, "info", "brand new info line here")]
    second = tr.update(Sample(_records([(t + 600, lv, m) for t, lv, m in recs]), 1260.0, 0), 600, 1260, 60)
    assert len(second.new_patterns) == 1
    ev = second.new_patterns[0]
    assert ev.kind == "new_pattern" and ev.status == "firing"
    assert "credential for <EMAIL> expired at <IP>" in ev.description
    for text in (ev.summary, ev.description, str(ev.labels)):
        assert SECRETS["email"] not in text and SECRETS["ipv4"] not in text
    # a known error template at its usual rate is not new
    third = tr.update(Sample(_records([(1300, "error", "task 9 failed: timeout")]), 1320.0, 0), 1260, 1320, 60)
    assert third.new_patterns == []


def test_tracker_leaves_unsampled_steps_missing() -> None:
    tr = TemplateTracker(_miner(), watch="w")
    recs = _records([(t, "info", "tick") for t in range(0, 150, 10)])
    out = tr.update(Sample(recs, 150.0, 0), 0, 300, 60)
    vals = out.templates.values[0]
    assert vals[:2].tolist() == [6.0, 6.0]
    assert np.isnan(vals[2:]).all()  # the sample stopped at 150 s: not zero, missing


# -- logs parse ------------------------------------------------------------------------------


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_parse_file_contract_and_bad_input(tmp_path: Path) -> None:
    src = tmp_path / "in.log"
    huge = b"A" * (3 * MAX_LINE_BYTES) + b" 42"
    src.write_bytes(
        b"connect to 10.0.0.1 failed\r\n"
        b"\n"
        b"connect to 10.0.0.2 failed\n"
        b"bad \xff\xfe bytes 7\n" + huge + b"\n"
        b"last line without newline 5"
    )
    stats = parse_file(src, tmp_path / "out.csv", registry=CollectorRegistry())
    rows = _rows(tmp_path / "out.csv")
    assert [r["line_no"] for r in rows] == ["1", "2", "3", "4", "5", "6"]
    assert rows[0]["template_id"] == rows[2]["template_id"]
    assert rows[0]["template"] == "connect to <IP> failed"
    assert rows[1]["template"] == ""
    assert "\ufffd" in rows[3]["template"]
    assert len(rows[4]["template"]) <= MAX_LINE_BYTES
    assert stats.truncated == 1 and stats.undecodable == 1 and stats.lines == 6


def test_parse_missing_file_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no such file"):
        parse_file(tmp_path / "missing.log", tmp_path / "o.csv", registry=CollectorRegistry())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = "from sentinel.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)


def test_cli_logs_parse(tmp_path: Path) -> None:
    src = tmp_path / "in.log"
    rng = random.Random(0)
    src.write_text("".join(f"worker {rng.randint(1, 9)} took {rng.randint(1, 99)}ms\n" for _ in range(50)))
    ok = _cli("logs", "parse", str(src), "--output", str(tmp_path / "o.csv"))
    assert ok.returncode == 0, ok.stderr
    rows = _rows(tmp_path / "o.csv")
    assert len(rows) == 50 and {r["template"] for r in rows} == {"worker <*> took <DURATION>"}
    bad = _cli("logs", "parse", str(tmp_path / "nope.log"), "--output", str(tmp_path / "x.csv"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [f"sentinel: error: {tmp_path / 'nope.log'}: no such file"]


@pytest.mark.parametrize("unit", ["A", "a.", "a=", "a-", "1.2.3.", "token=", "aF3-", "a@", "<*> ", "'a ", '"a '])
def test_mask_is_linear_on_pathological_64k_lines(unit: str) -> None:
    import time

    line = unit * (MAX_LINE_BYTES // len(unit))
    t0 = time.perf_counter()
    mask(line)
    assert time.perf_counter() - t0 < 2.0  # quadratic backtracking took minutes here
