"""Mining speed-ups stay exact: fast masking = the rule-by-rule definition, no leaks, old miner state loads, merge."""

from __future__ import annotations

import base64
import json
import shutil
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sentinel.logs.masking import Masker
from sentinel.logs.miner import LogMiner

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "logminer_state_v1.json"

# pieces that exercise every rule and every case where a match can span tokens
_PIECES = [
    "password", "Password", "token", "api_key", "session_id", "secret", "auth", "Authorization", "cookie", "pwd",
    "bearer", "Bearer", "basic", "=", ":", ": ", " = ", '"', "'", '="', "=:'", "ms", "s", "min", "minutes", "h",
    "d", "days", "sec", "us", "µs", "3", "42", "0.5", "1.5", "007", "10.0.0.1", ":8080", "::", "fe80::1",
    "2001:db8::7", "0x1f", "deadbeef", "a1b2", "blk_-42", "/var/log/x.log", "C:\\tmp\\x", "http://h.example/p?q=1",
    "jane@example.com", "123e4567-e89b-12d3-a456-426614174000", "00:1a:2b:3c:4d:5e",
    "eyJhbGciOiJI.eyJzdWIiOiIx.abcdefgh",
    "<*>", "<IP>", ",", ", ", "(", ")", "[", "]", "-", "_", ".", "/", "@", "#", "~", "+", "%", ";", "&", "x", "ok",
    "user", "from", "\t", "  ", "\u00a0", "\x1f", "é", "٣", "²", "İ", "K", "ſ",
]


@st.composite
def _log_like(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=6)), max_size=14))
    seps = draw(st.lists(st.sampled_from(["", " ", "", "  "]), min_size=len(parts), max_size=len(parts)))
    return "".join(p + s for p, s in zip(parts, seps, strict=True))


def _same_as_reference(line: str) -> None:
    m = Masker()
    assert m.mask(line) == m.reference(line)
    assert m.mask(line) == m.reference(line)  # second time from the token cache


@given(_log_like())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fast_mask_equals_reference_on_log_like_text(line: str) -> None:
    _same_as_reference(line)


@pytest.mark.slow
@given(_log_like())
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fast_mask_equals_reference_on_much_log_like_text(line: str) -> None:
    _same_as_reference(line)


@given(st.lists(st.text(max_size=40), max_size=30))
@settings(max_examples=300, deadline=None)
def test_fast_mask_equals_reference_with_a_tiny_cache(lines: list[str]) -> None:
    m = Masker(cache_size=5)  # the cache starts afresh every few tokens
    for line in lines * 2:
        assert m.mask(line) == m.reference(line)


def test_fast_mask_equals_reference_on_the_benchmark_corpora() -> None:
    sys.path.insert(0, str(BENCH))
    from logs_corpus import corpus
    from logs_corpus_heldout import heldout_corpus

    m = Masker()
    lines = corpus(20_000, seed=9)[0] + heldout_corpus(20_000, seed=9)[0]
    diff = [x for x in lines if m.mask(x) != m.reference(x)]
    assert diff == []


def test_token_cache_holds_no_number_email_or_secret_of_the_input() -> None:
    m = Masker()
    for _ in range(2):
        assert m.mask("request 8841 from 203.0.113.77 took 912ms, key 5f3a9c by jane@corp.example token=hunter") == (
            "request <*> from <IP> took <DURATION>, key <*> by <EMAIL> token=<SECRET>"
        )
    keys = " ".join(m._memo.tokens)
    for secret in ("8841", "203", "113", "912", "5f3a9c", "jane", "hunter"):
        assert secret not in keys


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("login failed: password = hunter2x for bob", "login failed: password = <SECRET> for bob"),
        ("Authorization: Bearer abcdefghijklmnop", "Authorization: <SECRET>"),
        ("auth header basic dXNlcjpwYXNzd29yZA== sent", "auth header basic <SECRET> sent"),
        ('user "Jane Doe" said "see you at 5"', "user <STR> said <STR>"),
        ("retry 3 min later, took 12 ms", "retry <DURATION> later, took <DURATION>"),
        ("Failed password for root from 10.0.0.1 port 22 ssh2", "Failed password for root from <IP> port <*>"),
        # a line named by syslog's auth facility keeps its message; auth written as a key keeps its value masked
        ("auth: login failed for user bob", "auth: login failed for user bob"),
        ("Auth : session closed", "Auth : session closed"),
        ("retry with auth: hunter", "retry with auth: <SECRET>"),
        ("auth=hunter ok", "auth=<SECRET> ok"),
        ("auth: password=hunter", "auth: password=<SECRET>"),
    ],
)
def test_lines_whose_matches_span_tokens(line: str, expected: str) -> None:
    m = Masker()
    for _ in range(2):  # learning, then cached
        assert m.mask(line) == expected


_secret_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=6, max_size=14).map(
    lambda w: "Zx" + w  # never a key name or other text of the line
)


@given(
    key=st.sampled_from(["password", "token", "api_key", "secret", "Authorization", "session_id"]),
    sep=st.sampled_from(["=", ": ", " = ", "=", ":"]),
    value=_secret_word,
    before=st.sampled_from(["", "login ", "retry 3 s ", "x=1 "]),
)
@settings(max_examples=300, deadline=None)
def test_secret_values_never_leak_through_the_cache(key: str, sep: str, value: str, before: str) -> None:
    m = Masker()
    m.mask(f"{key} {sep} {value}")  # warm the cache with the tokens in other positions
    masked = m.mask(f"{before}{key}{sep}{value} end")
    assert value not in masked


@given(
    ip=st.tuples(*[st.integers(0, 255)] * 4),
    uuid=st.uuids(),
    user=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8),
    dirs=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6), min_size=2, max_size=4),
    port=st.integers(1, 65535),
)
@settings(max_examples=200, deadline=None)
def test_personal_shapes_never_leak(ip: tuple[int, ...], uuid: object, user: str, dirs: list[str], port: int) -> None:
    m = Masker()
    addr = ".".join(map(str, ip))
    path = "/" + "/".join(dirs)
    email = f"{user}@corp.example.org"
    line = f"sync {uuid} for {email} from {addr}:{port} into {path} done"
    for _ in range(2):
        masked = m.mask(line)
        for value in (str(uuid), email, addr, path):
            assert value not in masked
        assert masked == "sync <UUID> for <EMAIL> from <IP> into <PATH> done"


# -- miner --------------------------------------------------------------------------------


def test_add_many_equals_add_line_by_line() -> None:
    sys.path.insert(0, str(BENCH))
    from logs_corpus import corpus

    lines = corpus(3000, seed=2)[0]
    one = LogMiner(registry=CollectorRegistry(), masker=Masker())
    many = LogMiner(registry=CollectorRegistry(), masker=Masker())
    assert many.add_many(lines[:1000]) + many.add_many(lines[1000:]) == [one.add(x).template_id for x in lines]
    assert many.templates() == one.templates()


def test_add_many_counts_lines_mined() -> None:
    reg = CollectorRegistry()
    LogMiner(watch="w", registry=reg).add_many(["a 1", "a 2", "b"])
    assert reg.get_sample_value("sentinel_log_lines_mined_total", {"watch": "w"}) == 3


def test_state_written_by_the_first_release_still_loads(tmp_path: Path) -> None:
    """tests/fixtures/logminer_state_v1.json was saved by the miner before the token cache existed."""
    path = tmp_path / "w.drain3.json"
    shutil.copy(FIXTURE, path)
    m = LogMiner(watch="w", state_path=path, registry=CollectorRegistry())
    assert m.templates() == {
        1: "connect to <IP> failed after <*> tries",
        2: "worker <*> crashed: out of memory",
        3: "user alice logged in from <IP>",
        4: "cache miss for key <*>",
        5: "task <UUID> completed in <DURATION>",
    }
    assert m.meta == {"alerted": [2], "warmed": True}
    assert m.add("connect to 10.9.9.9 failed after 7 tries").template_id == 1
    assert m.add("task 00000000-1111-2222-3333-444444444444 completed in 1.5s").template_id == 5
    assert m.add("fan 2 stopped").template_id == 6
    m.save()
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and set(doc) == {"version", "drain", "meta"}
    state = zlib.decompress(base64.b64decode(base64.b64decode(doc["drain"]))).decode()
    assert '["fan", "<*>", "stopped"]' in state
    again = LogMiner(watch="w", state_path=path, registry=CollectorRegistry())
    assert again.templates() == m.templates()


# -- offline merge (logs parse) -------------------------------------------------------------


def test_parse_merges_a_variable_first_word_but_not_a_two_way_choice(tmp_path: Path) -> None:
    from sentinel.logs.parse import parse_file

    procs = ["chrome.exe", "Skype.exe", "Dropbox.exe", "svchost.exe"]
    lines = [f"{procs[i % 4]} - host{i}.example.com:443 open through proxy p.example.com:80 HTTPS" for i in range(40)]
    lines += [f"{('Accepted', 'Failed')[i % 2]} password for root from 10.0.0.{i} port {1000 + i}" for i in range(10)]
    src = tmp_path / "in.log"
    src.write_text("\n".join(lines) + "\n")
    stats = parse_file(src, tmp_path / "out.csv", registry=CollectorRegistry())
    import csv

    with open(tmp_path / "out.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    proxy = {(r["template_id"], r["template"]) for r in rows[:40]}
    assert len(proxy) == 1 and next(iter(proxy))[1] == "<*> - <*> open through proxy <*> HTTPS"
    ssh = {r["template"] for r in rows[40:]}
    assert ssh == {"Accepted password for root from <IP> port <*>", "Failed password for root from <IP> port <*>"}
    assert stats.templates == 3


def test_merge_needs_constant_text_besides_the_varying_word() -> None:
    from sentinel.logs.merge import merge_prefix_variables

    merged = merge_prefix_variables({1: "start <*>", 2: "stop <*>", 3: "restart <*>", 4: "flush <*>"}, prefix=1)
    assert {g for g, _ in merged.values()} == {1, 2, 3, 4}
    with pytest.raises(ValueError, match="min_values"):
        merge_prefix_variables({}, prefix=1, min_values=1)


def test_mostly_variable_lines_keep_one_template_without_the_line_cache_and_after_restart(tmp_path: Path) -> None:
    """drain alone never matches a line to a template that is mostly <*>: each such line made a new template."""
    lines = [f"req{i} status: {200 + i} len: {i * 7} time: 0.{i}" for i in range(30)]  # 4 of 7 tokens <*>
    uncached = LogMiner(registry=CollectorRegistry(), cache_size=0)
    assert len(set(uncached.add_many(lines))) == 1 and len(uncached) == 1
    path = tmp_path / "w.json"
    first = LogMiner(registry=CollectorRegistry(), state_path=path)
    tid = first.add(lines[0]).template_id
    first.save()
    again = LogMiner(registry=CollectorRegistry(), state_path=path)
    assert again.add(lines[1]) == (tid, False)
    assert len(again) == 1


def test_one_masker_shared_by_threads_stays_exact() -> None:
    """Watches run in threads and share one masker; a cache starting afresh under a reader must not matter."""
    from concurrent.futures import ThreadPoolExecutor

    sys.path.insert(0, str(BENCH))
    from logs_corpus import corpus

    lines = corpus(4000, seed=6)[0] + [f"password = sec{i}ret login 3 min ago" for i in range(200)]
    shared = Masker(cache_size=50)  # generations turn over constantly
    ref = Masker()

    def check(chunk: list[str]) -> list[str]:
        return [x for x in chunk if shared.mask(x) != ref.reference(x)]

    with ThreadPoolExecutor(4) as pool:
        bad = [x for part in pool.map(check, [lines[i::4] for i in range(4)]) for x in part]
    assert bad == []


def test_miner_keeps_drains_choices_where_drain_finds_a_template() -> None:
    """Besides the exact-fit lookup (and the online merge, off here), the miner's templates are drain3's own."""
    from drain3.drain import Drain

    sys.path.insert(0, str(BENCH))
    from logs_corpus import corpus

    lines = corpus(5000, seed=8)[0]
    m = LogMiner(registry=CollectorRegistry(), cache_size=0, masker=Masker(), merge=False)
    ids = [m.add(x).template_id for x in lines]
    d = Drain(depth=4, sim_th=0.5, max_children=100)
    ref = [d.add_log_message(m.mask(x))[0].cluster_id for x in lines]
    assert ids == ref
    assert m.templates() == {cid: c.get_template() for cid, c in d.id_to_cluster.items()}
