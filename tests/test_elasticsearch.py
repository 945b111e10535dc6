"""Log watches against a real Elasticsearch node: counts, sampling, templates, new patterns, failures.

The logs are the fleet's ECS records built from the simulator's own template
catalogue (:mod:`sentinel.fleet.templates`), with two incidents that show only
in logs: a new error pattern on one agent and an error burst on one tool.
"""

from __future__ import annotations

import datetime as dt
import random
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from elasticsearch import Elasticsearch
from prometheus_client import CollectorRegistry

from sentinel.config import ElasticsearchConfig, WatchConfig
from sentinel.fleet.elastic import ensure_template, write_logs
from sentinel.fleet.templates import NEW_ERROR_TEMPLATES, TEMPLATES
from sentinel.logs.watch import LogWatch
from sentinel.series import labels_key
from sentinel.sources import elasticsearch as es_source
from sentinel.sources.base import SourceError
from sentinel.sources.elasticsearch import ElasticsearchSource
from tests.es_service import ElasticsearchServer, elasticsearch  # noqa: F401  (fixture)

pytestmark = pytest.mark.services

T0 = 1_763_596_800  # 2025-11-20 00:00 UTC, hour-aligned
HOURS = 8
AGENTS = [f"a{i:02d}" for i in range(1, 6)]
NEW_START, NEW_END = T0 + 7 * 3600, T0 + 7 * 3600 + 20 * 60  # new error pattern on a03
BURST_START, BURST_END = T0 + 7 * 3600 + 30 * 60, T0 + 7 * 3600 + 45 * 60  # search errors on a02
NEW_TEMPLATE = next(t for t in NEW_ERROR_TEMPLATES if t.id == "N03")  # "credential for {email} expired; ..."
PREFIX = "agent-logs"

_FILL: dict[str, Any] = {
    "task_id": lambda r: f"task-{r.randint(1, 10**6)}",
    "n": lambda r: r.randint(1, 500),
    "ms": lambda r: r.randint(1, 9000),
    "uuid": lambda r: "-".join(f"{r.getrandbits(4 * n):0{n}x}" for n in (8, 4, 4, 4, 12)),
    "email": lambda r: f"{r.choice(['ann', 'bo', 'cy'])}.{r.randint(1, 99)}@example.com",
    "path": lambda r: f"/var/lib/agent/{r.choice(['out', 'tmp'])}/{r.randint(1, 999)}.json",
    "url": lambda r: f"https://site{r.randint(1, 50)}.example.org/page/{r.randint(1, 99)}",
    "model": lambda r: r.choice(["gpt-4o", "claude-3-5-sonnet"]),
    "tokens": lambda r: r.randint(1, 4000),
    "secs": lambda r: r.randint(1, 120),
    "pct": lambda r: r.randint(80, 99),
    "ip": lambda r: f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
    "port": lambda r: r.randint(1024, 65535),
    "mb": lambda r: r.randint(1, 900),
    "code": lambda r: r.choice([500, 502, 503]),
    "bytes": lambda r: r.randint(100, 10**7),
}


def _doc(r: random.Random, t: float, agent: str, tpl: Any) -> dict[str, Any]:
    msg = tpl.fmt.format(**{f: _FILL[f](r) for f in tpl.fields})
    doc: dict[str, Any] = {
        "@timestamp": dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "log": {"level": tpl.level},
        "service": {"name": agent},
        "message": msg,
        "event": {"dataset": tpl.dataset},
        "trace": {"id": f"{r.getrandbits(64):016x}"},
        "labels": {"template_id": tpl.id},
    }
    if tpl.tool:
        doc["labels"]["tool"] = tpl.tool
    return doc


def fleet_docs(seed: int = 3) -> list[dict[str, Any]]:
    """ECS records of HOURS of 5 agents: everyday templates + the two log-only incidents."""
    r = random.Random(seed)
    everyday = [t for t in TEMPLATES if t.level == "info" or t.level == "warn"]
    errors = [t for t in TEMPLATES if t.level == "error"]
    search_err = next(t for t in TEMPLATES if t.cause == "tool_error:search")
    docs = []
    for agent in AGENTS:
        for minute in range(HOURS * 60):
            base = T0 + minute * 60
            for _ in range(r.randint(3, 6)):
                docs.append(_doc(r, base + r.uniform(0, 59.9), agent, r.choice(everyday)))
            if r.random() < 0.15:
                docs.append(_doc(r, base + r.uniform(0, 59.9), agent, r.choice(errors)))
            if agent == "a03" and NEW_START <= base < NEW_END:
                docs.append(_doc(r, base + r.uniform(0, 59.9), agent, NEW_TEMPLATE))
            if agent == "a02" and BURST_START <= base < BURST_END:
                for _ in range(8):
                    docs.append(_doc(r, base + r.uniform(0, 59.9), agent, search_err))
    return docs


@pytest.fixture(scope="module")
def loaded(elasticsearch: ElasticsearchServer) -> Iterator[tuple[Elasticsearch, list[dict[str, Any]]]]:  # noqa: F811
    client = elasticsearch.client()
    docs = fleet_docs()
    ensure_template(client, PREFIX)
    res = write_logs(client, docs, prefix=PREFIX, registry=CollectorRegistry())
    assert (res.written, res.failed) == (len(docs), 0), res.first_error
    yield client, docs
    client.indices.delete(index=f"{PREFIX}-*")
    client.close()


def _cfg(server: ElasticsearchServer, **kw: Any) -> ElasticsearchConfig:
    return ElasticsearchConfig(url=server.url, timeout=10, **kw)


def _watch(name: str = "error_logs", **logs: Any) -> WatchConfig:
    spec = {"index": f"{PREFIX}-*", "query": "log.level:error", "group_by": ["service.name", "labels.tool"], **logs}
    return WatchConfig(name=name, logs=spec, every=60)


def _epoch(doc: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00")).timestamp()


# -- counts ----------------------------------------------------------------------------------


def test_counts_per_group_match_the_indexed_documents(elasticsearch: ElasticsearchServer, loaded) -> None:  # noqa: F811
    _, docs = loaded
    src = ElasticsearchSource(_cfg(elasticsearch), registry=CollectorRegistry())
    start, end = T0 + 6 * 3600, T0 + 8 * 3600
    batch = src.fetch(_watch(), start, end)
    assert batch.step == 60 and len(batch.timestamps) == 120 and batch.timestamps[0] == start
    truth: Counter[tuple[tuple[tuple[str, str], ...], int]] = Counter()
    for d in docs:
        t = _epoch(d)
        if d["log"]["level"] == "error" and start <= t < end:
            key = labels_key({"labels_tool": d["labels"].get("tool"), "service_name": d["service"]["name"]})
            truth[(key, int((t - start) // 60))] += 1
    got = {(lb, i): v for lb, row in zip(batch.labels, batch.values, strict=True) for i, v in enumerate(row) if v}
    assert got == dict(truth)
    assert not np.isnan(batch.values).any()  # empty buckets are real zeros
    burst = batch.labels.index((("labels_tool", "search"), ("service_name", "a02")))
    cols = (batch.timestamps >= BURST_START) & (batch.timestamps < BURST_END)
    assert batch.values[burst, cols].min() >= 8 and batch.values[burst, ~cols].max() <= 2


def test_a_clock_ahead_of_the_node_counts_nothing(elasticsearch: ElasticsearchServer, loaded) -> None:  # noqa: F811
    """Elasticsearch 8 sends no Date header; the counts request asks the node for its now (a date_range bucket).

    Before: an hour ahead read 60 steps of zeros for every group (a silent fleet) and the cursor moved past them.
    """
    reg = CollectorRegistry()
    src = ElasticsearchSource(_cfg(elasticsearch), registry=reg)
    now = int(time.time()) // 60 * 60
    assert src.fetch(_watch(), now - 600, now).n_steps == 10  # the node's now: a recent range is fine
    for w in (_watch(), _watch(name="ungrouped", group_by=[])):
        with pytest.raises(SourceError, match=r"past http://127\.0\.0\.1:\d+'s clock: is this host's clock ahead\?"):
            src.fetch(w, now + 3000, now + 3600)
        assert reg.get_sample_value("sentinel_source_errors_total",
                                    {"source": "elasticsearch", "watch": w.name, "reason": "clock_ahead"}) == 1


def test_a_timestamp_field_mapped_as_long_still_counts(elasticsearch: ElasticsearchServer) -> None:  # noqa: F811
    """The node's now is read on an unmapped field: a date_range from "now" on a `long` field fails every search."""
    client = elasticsearch.client()
    client.indices.create(index="long-ts-1", mappings={"properties": {"ts": {"type": "long"},
                                                                      "service": {"properties": {
                                                                          "name": {"type": "keyword"}}}}})
    client.index(index="long-ts-1", document={"ts": (T0 + 90) * 1000, "service": {"name": "a1"}}, refresh=True)
    src = ElasticsearchSource(_cfg(elasticsearch, timestamp_field="ts"), registry=CollectorRegistry())
    w = WatchConfig(name="longts", logs={"index": "long-ts-*", "group_by": ["service.name"], "templates": False},
                    every=60)
    batch = src.fetch(w, T0, T0 + 180)
    assert batch.labels == ((("service_name", "a1"),),) and batch.values.tolist() == [[0.0, 1.0, 0.0]]
    client.indices.delete(index="long-ts-1")


def test_composite_paging_and_group_cap(elasticsearch: ElasticsearchServer, loaded, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr(es_source, "_GROUP_PAGE", 2)  # force several composite pages
    reg = CollectorRegistry()
    src = ElasticsearchSource(_cfg(elasticsearch), registry=reg)
    w = _watch(name="all_logs", query="*", group_by=["service.name"])
    batch = src.fetch(w, T0, T0 + 3600)
    assert sorted(dict(lb)["service_name"] for lb in batch.labels) == AGENTS
    capped = src.fetch(_watch(name="capped", query="*", group_by=["service.name"], max_groups=3), T0, T0 + 3600)
    assert capped.n_series == 3
    assert reg.get_sample_value("sentinel_source_series_dropped_total",
                                {"source": "elasticsearch", "watch": "capped"}) == 1


def test_long_ranges_are_split_under_the_bucket_limit(elasticsearch: ElasticsearchServer, loaded, monkeypatch) -> None:  # noqa: F811
    src = ElasticsearchSource(_cfg(elasticsearch), registry=CollectorRegistry())
    whole = src.fetch(_watch(name="whole"), T0, T0 + HOURS * 3600)
    monkeypatch.setattr(es_source, "_MAX_STEPS", 100)  # 480 steps -> 5 time chunks
    monkeypatch.setattr(es_source, "_MAX_BUCKETS", 250)  # -> 2 groups per composite page
    split = src.fetch(_watch(name="split"), T0, T0 + HOURS * 3600)
    order = [split.labels.index(lb) for lb in whole.labels]
    assert sorted(whole.labels) == sorted(split.labels)
    assert np.array_equal(whole.values, split.values[order])


def test_group_that_goes_silent_comes_back_as_zeros(elasticsearch: ElasticsearchServer, loaded) -> None:  # noqa: F811
    src = ElasticsearchSource(_cfg(elasticsearch), registry=CollectorRegistry())
    w = _watch(name="new_errors", query=f'labels.template_id:{NEW_TEMPLATE.id}', group_by=["service.name"])
    during = src.fetch(w, NEW_START, NEW_END)
    after = src.fetch(w, NEW_END, NEW_END + 600)
    assert during.labels == after.labels == ((("service_name", "a03"),),)
    assert during.values.sum() == 20 and after.values.tolist() == [[0.0] * 10]


# -- sampling, templates, new patterns (the end-to-end path) ------------------------------------------------


def test_sample_is_bounded_and_marks_the_rest_missing(elasticsearch: ElasticsearchServer, loaded) -> None:  # noqa: F811
    reg = CollectorRegistry()
    src = ElasticsearchSource(_cfg(elasticsearch, max_messages_per_cycle=150), registry=reg)
    w = _watch(name="all", query="*", group_by=["service.name"])
    sample = src.sample(w, T0, T0 + 3600)
    assert len(sample.records) == 150
    times = [r.timestamp for r in sample.records]
    assert times == sorted(times) and sample.complete_until < T0 + 3600
    assert all(r.timestamp < sample.complete_until for r in sample.records)
    assert reg.get_sample_value("sentinel_elasticsearch_sample_truncated_total", {"watch": "all"}) == 1
    full = ElasticsearchSource(_cfg(elasticsearch), registry=CollectorRegistry()).sample(w, T0, T0 + 600)
    _, docs = loaded
    assert len(full.records) == sum(T0 <= _epoch(d) < T0 + 600 for d in docs)  # search_after paging is exact


def test_log_only_incidents_raise_new_pattern_and_state_survives_restart(
    elasticsearch: ElasticsearchServer, loaded, tmp_path: Path  # noqa: F811
) -> None:
    reg = CollectorRegistry()
    src = ElasticsearchSource(_cfg(elasticsearch), registry=reg)
    w = _watch(name="all_logs", query="*", group_by=["service.name"])
    lw = LogWatch(w, src, state_dir=tmp_path, registry=reg)
    warm = lw.cycle(T0, T0 + 6 * 3600)  # learn the everyday templates
    assert warm.errors == [] and warm.new_patterns == []
    events = []
    for start in range(T0 + 6 * 3600, NEW_START + 600, 600):  # clean hour, then the incident's first 10 min
        if start == NEW_START:
            lw = LogWatch(w, src, state_dir=tmp_path, registry=reg)  # restart mid-way: state from disk
        cyc = lw.cycle(start, start + 600)
        assert cyc.errors == []
        assert cyc.templates is not None
        assert {dict(k)["template_id"] for k in cyc.templates.labels} <= {str(t) for t in cyc.template_text}
        events.extend(cyc.new_patterns)
    assert len(events) == 1, [e.summary for e in events]  # clean groups raised nothing
    ev = events[0]
    assert dict(ev.labels)["service_name"] == "a03" and ev.kind == "new_pattern"
    assert "credential for <EMAIL> expired; refresh token revoked" in ev.description
    assert "@example.com" not in ev.description + ev.summary  # masked example only
    again = lw.cycle(NEW_START + 600, NEW_END)  # the same pattern continues: not new any more
    assert again.new_patterns == []
    state = (tmp_path / "all_logs.drain3.json").read_text()
    assert "@example.com" not in state
    restarted = LogWatch(w, src, state_dir=tmp_path, registry=reg)
    assert restarted.tracker.miner.templates() == lw.tracker.miner.templates()


# -- failures: one line, the cycle goes on --------------------------------------------------------


def test_missing_index_and_bad_query_are_one_line_errors(elasticsearch: ElasticsearchServer, loaded) -> None:  # noqa: F811
    reg = CollectorRegistry()
    src = ElasticsearchSource(_cfg(elasticsearch), registry=reg)
    for index in ("no-such-index", "no-such-*"):
        with pytest.raises(SourceError) as err:
            src.fetch(_watch(name="missing", index=index), T0, T0 + 600)
        assert "does not exist" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(SourceError, match="query failed: HTTP 400") as bad:
        src.fetch(_watch(name="bad", query="log.level:(error"), T0, T0 + 600)
    assert "\n" not in str(bad.value)
    assert reg.get_sample_value("sentinel_source_errors_total",
                                {"source": "elasticsearch", "watch": "missing", "reason": "http_4xx"}) == 2
    ok = LogWatch(_watch(name="fine"), src, registry=reg).cycle(T0, T0 + 600)
    broken = LogWatch(_watch(name="broken", index="no-such-index"), src, registry=reg).cycle(T0, T0 + 600)
    assert ok.errors == [] and ok.counts is not None
    assert len(broken.errors) == 2 and broken.counts is None  # counts and sample both failed, no crash


def test_mapping_conflict_is_reported_not_crashed(elasticsearch: ElasticsearchServer) -> None:  # noqa: F811
    client = elasticsearch.client()
    for name, kind, value in (("conflict-a", "keyword", "search"), ("conflict-b", "date", "2025-01-01")):
        client.indices.create(index=name, mappings={"properties": {
            "@timestamp": {"type": "date"}, "message": {"type": "text"}, "grp": {"type": kind}}})
        client.index(index=name, document={"@timestamp": T0 * 1000, "message": "x", "grp": value}, refresh=True)
    src = ElasticsearchSource(_cfg(elasticsearch), registry=CollectorRegistry())
    w = WatchConfig(name="conflict", logs={"index": "conflict-*", "group_by": ["grp"]}, every=60)
    try:
        batch = src.fetch(w, T0, T0 + 60)
    except SourceError as exc:  # the node refuses to mix the types: a clear line
        assert "\n" not in str(exc) and "conflict" in str(exc)
    else:  # the node merged the types: both documents are counted, under their own values
        assert batch.values.sum() == 2
    client.indices.delete(index="conflict-*")


def test_missing_fields_huge_and_odd_messages(elasticsearch: ElasticsearchServer) -> None:  # noqa: F811
    client = elasticsearch.client()
    ensure_template(client, "odd-logs")
    base = "2025-11-20T00:00:"
    docs = [
        {"@timestamp": base + "01Z", "message": "no service field 42"},
        {"@timestamp": base + "02Z", "service": {"name": "a1"}},  # no message
        {"@timestamp": base + "03Z", "service": {"name": "a1"}, "message": "Z" * 300_000 + " 7"},
        {"@timestamp": base + "04Z", "service.name": "a1", "log.level": "ERROR", "message": "bad \ufffd bytes 9"},
    ]
    res = write_logs(client, docs, prefix="odd-logs", registry=CollectorRegistry())
    assert res.failed == 0
    src = ElasticsearchSource(_cfg(elasticsearch), registry=CollectorRegistry())
    w = WatchConfig(name="odd", logs={"index": "odd-logs-*", "group_by": ["service.name"]}, every=60)
    counts = src.fetch(w, T0, T0 + 60)
    assert dict(zip(counts.labels, counts.values[:, 0], strict=True)) == {
        (): 1.0, (("service_name", "a1"),): 3.0}  # no service field: no label (as Prometheus reads "")
    sample = src.sample(w, T0, T0 + 60)
    assert sample.skipped == 1 and len(sample.records) == 3
    assert sample.records[2].level == "error"
    cyc = LogWatch(w, src, registry=CollectorRegistry()).cycle(T0, T0 + 60)
    assert cyc.errors == [] and max(len(t) for t in cyc.template_text.values()) <= 64 * 1024
    client.indices.delete(index="odd-logs-*")


def test_node_down_and_unresponsive_node_are_clear_errors() -> None:
    reg = CollectorRegistry()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    src = ElasticsearchSource(ElasticsearchConfig(url=f"http://127.0.0.1:{dead}", timeout=2), registry=reg)
    with pytest.raises(SourceError, match=f"cannot connect to http://127.0.0.1:{dead}"):
        src.fetch(_watch(), T0, T0 + 600)
    cyc = LogWatch(_watch(), src, registry=reg).cycle(T0, T0 + 600)
    assert len(cyc.errors) == 2 and all("cannot connect" in e for e in cyc.errors)
    with socket.socket() as hang:  # accepts connections (backlog) but never answers
        hang.bind(("127.0.0.1", 0))
        hang.listen(8)
        slow = ElasticsearchSource(
            ElasticsearchConfig(url=f"http://127.0.0.1:{hang.getsockname()[1]}", timeout=1), registry=reg)
        with pytest.raises(SourceError, match="within 1s"):
            slow.fetch(_watch(), T0, T0 + 600)
    assert reg.get_sample_value("sentinel_source_errors_total",
                                {"source": "elasticsearch", "watch": "error_logs", "reason": "timeout"}) == 1
