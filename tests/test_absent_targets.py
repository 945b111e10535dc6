"""A vanished series whose scrape target was removed does not page `absent`; a dead or unknown one does.

The `up` query and its answer (sentinel.sources.targets), the policy's side (Policy.vanished/removed) and the
runner that joins them, with a scripted source standing in for Prometheus' answer (the real one:
tests/test_absent_services.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sentinel.alerting.event import AlertEvent
from sentinel.config import PrometheusConfig, WatchConfig
from sentinel.series import Batch, Labels, labels_key
from sentinel.sources.base import SourceError, TargetSource
from sentinel.sources.prometheus import PrometheusSource
from sentinel.sources.targets import LIVE, MAX_SELECTOR, REMOVED, UNKNOWN, query, status, target_of
from sentinel.watch import WatchRunner

UP = ("job", "instance")
MAP = {"job": "job", "instance": "instance"}


def _agent(name: str, job: str = "agents") -> Labels:
    return labels_key({"__name__": "load", "job": job, "instance": name})


class ScriptedSource:
    """Agents report 1.0 each minute until their ``stops``; ``answer(series)`` is the `up` lookup's verdict."""

    def __init__(self, series: Sequence[Labels], stops: dict[Labels, int], answer: Any) -> None:
        self.series, self.stops, self.answer = list(series), stops, answer
        self.asked: list[list[Labels]] = []

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch:
        ts = np.arange(-(-start // 60) * 60, end, 60)
        rows = [s for s in self.series if ts.size and self.stops.get(s, 1 << 40) > ts[0]]
        vals = np.array([[1.0 if t < self.stops.get(s, 1 << 40) else np.nan for t in ts] for s in rows])
        return Batch(ts, vals.reshape(len(rows), len(ts)), tuple(rows), 60)

    def targets(self, watch: WatchConfig, series: Sequence[Labels], at: int, window: int) -> np.ndarray:
        self.asked.append(list(series))
        if isinstance(self.answer, Exception):
            raise self.answer
        if self.answer == "short":  # a source answering for fewer series than asked
            return np.zeros(len(series) - 1, dtype=np.int8)
        return np.array([self.answer(s) for s in series], dtype=np.int8)

    def close(self) -> None:
        pass


def _run(source: ScriptedSource, minutes: int = 40, **watch: Any) -> tuple[WatchRunner, list[AlertEvent], dict]:
    cfg = WatchConfig.model_validate({"name": "w", "query": "load", "every": "1m", "alert": {"absent_for": "10m"},
                                      **watch})
    runner = WatchRunner(cfg, source, warmup=600)
    events, forgotten = [], {}
    for minute in range(10, minutes):
        result = runner.cycle(60 * minute + 1)
        if result is not None:
            events += [e for e in result.events if e.kind == "absent"]
            for reason, keys in result.forgotten.items():
                forgotten.setdefault(reason, []).extend(keys)
    return runner, events, forgotten


# -- the query and its answer ------------------------------------------------------------


def test_the_query_names_every_target_exactly() -> None:
    odd = ("a.b:1|x", 'q"\\z')  # regex and string metacharacters stay literal
    q = query({("agents", odd[0]), ("agents", odd[1])}, UP, 900)
    assert q.startswith("group by (job, instance) (up{") and "present_over_time(up{" in q and q.endswith("[900s]))")
    instance = re.search(r'instance=~("(?:[^"\\]|\\.)*")', q)
    assert instance is not None
    import json

    pattern = json.loads(instance.group(1))
    assert all(re.fullmatch(pattern, v) for v in odd) and not re.fullmatch(pattern, "aXb:1")


def test_a_long_selector_leaves_out_its_longest_filters() -> None:
    many = {("agents", f"10.0.{i // 250}.{i % 250}:9100") for i in range(2000)}
    q = query(many, UP, 60)
    assert len(q) < 2 * MAX_SELECTOR + 200 and 'job=~"agents"' in q and "instance=~" not in q


def test_target_of_needs_every_target_label() -> None:
    assert target_of(_agent("x"), MAP) == ("agents", "x")
    assert target_of(labels_key({"agent": "x"}), MAP) is None  # an aggregate: today's behaviour
    assert target_of(labels_key({"pod": "p", "job": "j"}), {"job": "job", "pod": "instance"}) == ("j", "p")
    assert target_of(_agent("x"), {}) is None


_value = st.one_of(st.sampled_from(["0", "1", "NaN", "+Inf", "-1", "2", "x", ""]),
                   st.floats(allow_nan=True), st.none(), st.integers(-2, 2))
_row = st.one_of(
    st.fixed_dictionaries({"metric": st.dictionaries(st.sampled_from(["job", "instance", "other"]),
                                                     st.sampled_from(["agents", "a", "b", ""]), max_size=3),
                           "value": st.one_of(st.tuples(st.integers(), _value).map(list), st.lists(_value,
                                                                                                   max_size=1))}),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.none(), st.integers(), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(_row, max_size=8), st.lists(st.sampled_from([None, ("agents", "a"), ("agents", "b")]), max_size=5))
def test_odd_up_answers_only_ever_remove_a_target_the_answer_says_is_gone(answer: list[Any],
                                                                         keys: list[Any]) -> None:
    """Whatever rows come back, a series is removed only when a row names its target with exactly 0 and no row
    gives it another number; a series without target labels is never removed."""
    got = status(keys, answer, UP)
    assert got.dtype == np.int8 and len(got) == len(keys) and set(got.tolist()) <= {LIVE, REMOVED, UNKNOWN}

    def says(row: Any, key: tuple[str, str]) -> float | None:
        try:
            metric, v = row["metric"], float(row["value"][1])
            return v if tuple(str(metric.get(n, "")) for n in UP) == key and v == v else None
        except (TypeError, KeyError, IndexError, ValueError, AttributeError):
            return None

    for key, verdict in zip(keys, got.tolist(), strict=True):
        if key is None:
            assert verdict == UNKNOWN
            continue
        values = [v for row in answer if (v := says(row, key)) is not None]
        assert verdict == (UNKNOWN if not values else REMOVED if all(v == 0 for v in values) else LIVE)


@pytest.mark.parametrize("answer", [None, {"result": []}, "up"])
def test_an_answer_that_is_not_a_vector_is_refused(answer: Any) -> None:
    with pytest.raises(TypeError):
        status([("agents", "a")], answer, UP)


def test_a_failing_lookup_is_one_line_and_counted_apart_from_fetch_errors() -> None:
    from tests.services import free_port

    reg = CollectorRegistry()
    source = PrometheusSource(PrometheusConfig(url=f"http://127.0.0.1:{free_port()}", retries=0), registry=reg)
    assert isinstance(source, TargetSource)
    watch = WatchConfig(name="w", query="load")
    with pytest.raises(SourceError, match=r"^watch 'w': the `up` lookup of vanished series' targets failed: cannot "):
        source.targets(watch, [_agent("a")], 600, 900)
    labels = {"source": "prometheus", "watch": "w"}
    assert reg.get_sample_value("sentinel_source_target_lookups_total", {**labels, "outcome": "failed"}) == 1
    assert reg.get_sample_value("sentinel_source_errors_total", {**labels, "reason": "connection"}) is None
    agg = source.targets(watch, [labels_key({"agent": "a"})], 600, 900)  # nothing to ask: no request
    assert agg.tolist() == [UNKNOWN]
    source.close()


# -- the policy and the runner -------------------------------------------------------------


AGENTS = [_agent(n) for n in ("a", "b", "c")]


def test_a_removed_target_raises_no_absent_alert_and_is_forgotten_at_once() -> None:
    verdict = {AGENTS[1]: REMOVED, AGENTS[2]: LIVE}
    source = ScriptedSource(AGENTS, {AGENTS[1]: 15 * 60, AGENTS[2]: 15 * 60}, lambda s: verdict[s])
    runner, events, forgotten = _run(source)
    assert [(e.status, e.labels) for e in events] == [("firing", AGENTS[2])]  # c: up == 0 or 1, pages
    assert events[0].at == 14 * 60 + 600  # its last value + absent_for, as before
    assert forgotten == {"removed": [AGENTS[1]]}
    assert AGENTS[1] not in runner.policy.index_ and len(runner.retention) == 2
    assert AGENTS[1] in source.asked[0] and all(AGENTS[0] not in asked for asked in source.asked)


def test_an_open_absent_alert_resolves_when_its_target_is_removed_later() -> None:
    verdict = {AGENTS[2]: LIVE}
    source = ScriptedSource(AGENTS, {AGENTS[2]: 15 * 60}, lambda s: verdict.get(s, UNKNOWN))
    cfg = WatchConfig.model_validate({"name": "w", "query": "load", "every": "1m", "alert": {"absent_for": "10m"}})
    runner = WatchRunner(cfg, source, warmup=600)
    events = []
    for minute in range(10, 40):
        if minute == 30:
            verdict[AGENTS[2]] = REMOVED  # the dead agent is decommissioned
        result = runner.cycle(60 * minute + 1)
        assert result is not None
        events += [e for e in result.events if e.kind == "absent"]
    assert [(e.status, e.labels, e.at) for e in events] == [("firing", AGENTS[2], 24 * 60),
                                                           ("resolved", AGENTS[2], 30 * 60)]
    assert events[1].starts_at == 24 * 60 and "removed from Prometheus' service discovery" in events[1].description
    assert AGENTS[2] not in runner.policy.index_


@pytest.mark.parametrize("answer", [lambda s: UNKNOWN, SourceError("watch 'w': the `up` lookup ... failed"), "short"])
def test_unknown_targets_and_failed_lookups_page_as_before(answer: Any, caplog: pytest.LogCaptureFixture) -> None:
    source = ScriptedSource(AGENTS, {AGENTS[1]: 15 * 60}, answer)
    runner, events, forgotten = _run(source)
    assert [(e.status, e.labels, e.at) for e in events] == [("firing", AGENTS[1], 24 * 60)]
    assert forgotten == {} and AGENTS[1] in runner.policy.index_
    assert (not callable(answer)) == ("page as if every target were still configured" in caplog.text)


def test_no_lookup_without_absent_for_target_labels_or_vanished_series() -> None:
    for watch in ({"alert": {}}, {"target_labels": []}):
        source = ScriptedSource(AGENTS, {AGENTS[1]: 15 * 60}, lambda s: REMOVED)
        _run(source, **watch)
        assert source.asked == []
    source = ScriptedSource(AGENTS, {}, lambda s: REMOVED)
    _run(source)
    assert source.asked == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([LIVE, REMOVED, UNKNOWN, 7, -3]), min_size=3, max_size=3))
def test_absent_fires_for_exactly_the_vanished_series_not_answered_removed(verdicts: list[int]) -> None:
    """Whatever the source says (odd codes included), only REMOVED silences a series, and only that one."""
    answer = dict(zip(AGENTS, verdicts, strict=True))
    source = ScriptedSource(AGENTS, dict.fromkeys(AGENTS, 15 * 60), lambda s: answer[s])
    _, events, forgotten = _run(source, minutes=30)
    fired = {e.labels for e in events if e.status == "firing"}
    assert fired == {s for s, v in answer.items() if v != REMOVED}
    assert set(forgotten.get("removed", [])) == {s for s, v in answer.items() if v == REMOVED}


# -- config ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "problem"), [
    (["job", "job"], "watches[0].target_labels: a label is listed twice"),
    ({"pod": "instance", "node": "instance"}, "two series labels map to one `up` label"),
    (["job", "1st"], "'1st' is not a Prometheus label name"),
    ("job", "a list of label names or a map {series label: up label}, e.g. [job], not 'job'"),
])
def test_check_config_names_a_bad_target_labels(value: Any, problem: str) -> None:
    from sentinel.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as err:
        parse_config({"prometheus": {}, "watches": [{"name": "w", "query": "up", "target_labels": value}]})
    assert any(problem in p and "\n" not in p for p in err.value.problems), err.value.problems


def test_check_config_says_which_watches_tell_removed_targets_apart(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from sentinel.cli import app

    path = tmp_path / "s.yaml"
    path.write_text("prometheus: {url: http://127.0.0.1:9090}\nwatches:\n"
                    "  - {name: a, query: up, alert: {absent_for: 10m}, target_labels: {pod: instance, job: job}}\n"
                    "  - {name: b, query: up, alert: {absent_for: 10m}, target_labels: false}\n"
                    "  - {name: c, query: up}\n"
                    "  - {name: d, logs: {index: x}, target_labels: [job]}\n")
    res = CliRunner().invoke(app, ["check-config", "--config", str(path)])
    assert res.exit_code == 2
    assert "error: watches[3]: target_labels names Prometheus scrape targets: a log watch has none" in res.output
    path.write_text(path.read_text().rsplit("  - {name: d", 1)[0])
    res = CliRunner().invoke(app, ["check-config", "--config", str(path)])
    lines = {ln.split(":")[0]: ln for ln in res.output.splitlines() if ln.startswith("watch ")}
    assert res.exit_code == 0 and "(no `up` for instance, job) does not page" in lines["watch a"]
    assert "does not page" not in lines["watch b"] + lines["watch c"]
