"""The live watch's online merge: one template for a variable first word, stable ids, no false new patterns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sentinel.alerting.policy import AlertEvent
from sentinel.logs.miner import OVERFLOW_ID, LogMiner
from sentinel.logs.patterns import TEMPLATE_LABEL, TemplateTracker
from sentinel.logs.records import LogRecord, Sample
from sentinel.logs.watch import LogWatch
from sentinel.series import Batch, labels_key
from sentinel.watch import WatchRunner
from tests.test_log_templates import _logs_watch

SERVICES = ("billing", "search", "etl", "ledger", "payments", "mailer")


def _lost(svc: str, n: int) -> str:
    return f"{svc}: connection to database lost after {n} retries"


def _cycle(tr: TemplateTracker, k: int, lines: list[tuple[str, str]]) -> tuple[list[int], list[str]]:
    """Hour ``k``: ``(level, message)`` lines of one group; the tracked template ids and the new-pattern summaries."""
    recs = [LogRecord(k * 3600 + i, level, msg, labels_key({"service_name": "a"})) for i, (level, msg) in
            enumerate(lines)]
    out = tr.update(Sample(recs, (k + 1) * 3600.0, 0), k * 3600, (k + 1) * 3600, 300)
    return [int(dict(key)[TEMPLATE_LABEL]) for key in out.templates.labels], [e.summary for e in out.new_patterns]


def _warm(tr: TemplateTracker) -> None:
    _cycle(tr, 0, [("info", f"heartbeat {i} ok from agent") for i in range(5)])


def test_a_variable_first_word_in_one_cycle_makes_one_template_and_one_new_pattern() -> None:
    reg = CollectorRegistry()
    tr = TemplateTracker(LogMiner(watch="w", registry=reg), watch="w", registry=reg)
    _warm(tr)
    series, new = _cycle(tr, 1, [("error", _lost(s, i)) for i in range(3) for s in SERVICES[:4]])
    lost = [t for t, text in tr.miner.templates().items() if "database lost" in text]
    assert lost == [min(lost)] and tr.miner.template(lost[0]) == "<*> connection to database lost after <*> retries"
    assert len(new) == 1 and "<*> connection to database lost" in new[0]
    assert series.count(lost[0]) == 1 and len(series) == 2  # the heartbeat and one series for the merged shape
    assert reg.get_sample_value("sentinel_log_templates_merged_total", {"watch": "w"}) == 2  # the 4th made none
    series, new = _cycle(tr, 2, [("error", _lost("payments", 4)), ("error", _lost("mailer", 5))])
    assert new == [] and len(tr.miner) == 2 and series == [1, lost[0]]  # new values: no template, no alert


def test_values_arriving_cycle_by_cycle_alert_once_and_keep_the_oldest_id(tmp_path: Path) -> None:
    """The first value is known; the second is news (two values may be a two-way choice, `Accepted`/`Failed`);
    from the third on the word is a variable: no new template, no alert, the first value's id."""
    path = tmp_path / "w.drain3.json"
    tr = TemplateTracker(LogMiner(watch="w", registry=CollectorRegistry(), state_path=path), watch="w")
    _cycle(tr, 0, [("error", _lost("billing", 1))])
    first = tr.miner.add(_lost("billing", 2)).template_id
    alerts = []
    for k, svc in enumerate(SERVICES[1:4], start=1):
        series, new = _cycle(tr, k, [("error", _lost(svc, k))])
        alerts += new
    assert len(alerts) == 1 and "search: connection" in alerts[0]
    assert series == [first] and tr.miner.template(first).startswith("<*> connection")
    tr.miner.save()
    assert json.loads(path.read_text())["merged"] == [[2, first], [3, first]]
    restarted = TemplateTracker(LogMiner(watch="w", registry=CollectorRegistry(), state_path=path), watch="w")
    assert restarted.miner.templates() == tr.miner.templates()
    series, new = _cycle(restarted, 5, [("error", _lost(s, 9)) for s in SERVICES])
    assert new == [] and series == [first]
    assert [restarted.miner.add(_lost(s, 3)).template_id for s in SERVICES] == [first] * len(SERVICES)


def test_a_new_message_shape_still_alerts_after_a_merge() -> None:
    tr = TemplateTracker(LogMiner(registry=CollectorRegistry()), watch="w")
    _warm(tr)
    _cycle(tr, 1, [("error", _lost(s, 1)) for s in SERVICES[:3]])
    _, new = _cycle(tr, 2, [("error", "billing: disk quota exceeded on volume data"),
                            ("error", "Accepted password for root from 10.0.0.1 port 22")])
    assert len(new) == 2
    _, new = _cycle(tr, 3, [("error", "Failed password for root from 10.0.0.2 port 22")])
    assert len(new) == 1 and "Failed password" in new[0]  # a two-way choice is not merged


def test_the_template_cap_and_the_overflow_id_keep_working_with_merges() -> None:
    reg = CollectorRegistry()
    m = LogMiner(watch="w", max_templates=3, registry=reg)
    ids = [m.add(_lost(s, 1)).template_id for s in SERVICES[:3]]  # three made, two merged: one left
    assert len(m) == 1 and m.resolve(np.array(ids)).tolist() == [1, 1, 1]
    assert m.add("fan 2 stopped on board").template_id == 4 and m.add("disk full on root volume").template_id == 5
    assert len(m) == 3
    assert m.add("a third unrelated message shape").template_id == OVERFLOW_ID
    assert [m.add(_lost(s, 7)).template_id for s in SERVICES] == [1] * len(SERVICES)  # a merged shape is known
    assert reg.get_sample_value("sentinel_log_template_overflow_lines_total", {"watch": "w"}) == 1


def test_a_merged_template_series_goes_quiet_and_its_lines_count_under_the_survivor() -> None:
    tr = TemplateTracker(LogMiner(registry=CollectorRegistry()), watch="w")
    _cycle(tr, 0, [("error", _lost("billing", 1)), ("error", _lost("search", 1))])
    series, _ = _cycle(tr, 1, [("error", _lost("billing", 2))] * 2 + [("error", _lost("search", 2))] * 3)
    assert series == [1, 2]
    recs = [LogRecord(7200 + i, "error", _lost(s, i), labels_key({"service_name": "a"}))
            for i, s in enumerate(["billing", "search", "etl", "search"])]
    out = tr.update(Sample(recs, 10800.0, 0), 7200, 10800, 300)
    assert [int(dict(k)[TEMPLATE_LABEL]) for k in out.templates.labels] == [1]  # template 2 was absorbed
    assert np.nansum(out.templates.values) == 4  # every line of the cycle, those mined before the merge too
    assert out.absorbed == [labels_key({"service_name": "a", TEMPLATE_LABEL: "2"})]  # for the watch to forget


class _Lines:
    """A log source of one group whose hour ``k`` logs ``lines[k]`` (one line a minute): counts and messages."""

    def __init__(self, lines: dict[int, list[str]]) -> None:
        self.lines = lines

    def _records(self, start: int, end: int) -> list[LogRecord]:
        return [LogRecord(k * 3600 + 60 * i, "error", msg, labels_key({"service_name": "a"}))
                for k, msgs in sorted(self.lines.items()) for i, msg in enumerate(msgs)
                if start <= k * 3600 + 60 * i < end]

    def fetch(self, watch: object, start: int, end: int) -> Batch:
        ts = np.arange(start, end, 300)
        times = np.array([r.timestamp for r in self._records(start, end)])
        return Batch.from_rows([{"service_name": "a"}], ts, [[float(((times >= t) & (times < t + 300)).sum())
                                                             for t in ts]], 300)

    def sample(self, watch: object, start: int, end: int) -> Sample:
        return Sample(self._records(start, end), float(end), 0)

    def close(self) -> None:
        pass


def test_a_watch_forgets_an_absorbed_template_series_at_once(tmp_path: Path) -> None:
    """Its state (and so any alert open on it, which the daemon's reconcile then resolves) ends at the merge,
    not a week later at retention; counted as forgotten for reason ``merged``."""
    w = _logs_watch(every=300)
    src = _Lines({0: [_lost("billing", 1), _lost("search", 1)] * 5, 1: [_lost("billing", 2), _lost("search", 2)] * 5,
                  2: [_lost("etl", 3)] * 5})
    runner = WatchRunner(w, src, warmup=3600, patterns=LogWatch(w, src, state_dir=tmp_path,  # type: ignore[arg-type]
                                                                  registry=CollectorRegistry()))
    two = labels_key({"service_name": "a", TEMPLATE_LABEL: "2"})
    runner.cycle(3600)
    runner.cycle(7200)
    assert two in runner.policy.index_ and two in runner.retention.index_
    merged = runner.cycle(10800)
    assert merged is not None and merged.forgotten == {"merged": [two]}
    assert two not in runner.policy.index_ and two not in runner.retention.index_
    assert two not in merged.batch.labels


def test_an_alert_on_a_merged_template_names_its_survivor() -> None:
    lw = LogWatch(_logs_watch(), source=None, registry=CollectorRegistry())  # type: ignore[arg-type]
    recs = [LogRecord(i, "error", _lost(s, i), labels_key({"service_name": "a"})) for i, s in enumerate(SERVICES)]
    lw.tracker.update(Sample(recs, 3600.0, 0), 0, 3600, 300)
    ev = AlertEvent(status="firing", watch="error_logs", labels=labels_key({"service_name": "a", TEMPLATE_LABEL: "2"}),
                    starts_at=0, at=0, kind="anomaly", severity="warning", value=1.0, summary="rate up", description="")
    lw.annotate([ev])
    assert ev.summary == "rate up -- log template: <*> connection to database lost after <*> retries (merged into " \
                         "template 1)"
    assert "example (masked): mailer: connection to database lost after <*> retries" in ev.description


_WORDS = st.sampled_from(["alpha", "beta", "gamma", "delta", "eps", "7", "x.exe", "y-svc"])
_SHAPES = st.sampled_from(["{} open {} through proxy", "{} connection lost", "{} job {} done ok now",
                           "user {} logged in", "{}"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_SHAPES, _WORDS, _WORDS), min_size=1, max_size=60), st.integers(0, 60),
       st.integers(1, 6))
def test_a_restart_mines_on_exactly_as_the_running_miner(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str, str]], cut: int, cap: int
) -> None:
    """Ids stay stable across a restart: a miner reloaded from the state file goes on exactly like the one that
    wrote it; every id the watch counts is a live template or the overflow id; the cap holds."""
    path = tmp_path_factory.mktemp("m") / "w.json"
    lines = [shape.format(a, b) for shape, a, b in rows]
    running = LogMiner(registry=CollectorRegistry(), state_path=path, cache_size=0, max_templates=cap)
    head = running.resolve(np.array([running.add(x).template_id for x in lines[:cut]], dtype=np.int64))
    running.save()
    reloaded = LogMiner(registry=CollectorRegistry(), state_path=path, cache_size=0, max_templates=cap)
    assert reloaded.templates() == running.templates()
    assert [reloaded.add(x) for x in lines[cut:]] == [running.add(x) for x in lines[cut:]]
    known = set(running.templates()) | {OVERFLOW_ID}
    assert set(running.resolve(head).tolist()) <= known and len(running) <= cap
