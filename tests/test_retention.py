"""Series churn: a watch forgets series that are gone, caps what it tracks, and says so (sentinel.retention)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from sentinel import checkpoint
from sentinel.config import Config, WatchConfig
from sentinel.daemon import Daemon
from sentinel.detect.scores import Scores
from sentinel.fleet import DEFAULT_START, Fleet
from sentinel.logs.records import Sample
from sentinel.logs.watch import LogWatch
from sentinel.publish import metrics as m
from sentinel.publish.exporter import ResultCollector
from sentinel.retention import SeriesRetention
from sentinel.series import Batch, Labels, labels_key
from sentinel.sources.simulated import SimulatedSource
from sentinel.watch import CycleResult, WatchRunner
from tests.churn import ChurnSource, churning

HOUR = 3600
T0 = (DEFAULT_START // HOUR) * HOUR


def _watch(**extra: object) -> WatchConfig:
    return WatchConfig.model_validate({"name": "w", "query": "up", "every": "1h", "step": "1m",
                                       "series_retention": "2h", **extra})


def _run(source: ChurnSource, w: WatchConfig, cycles: int, tmp: Path | None = None) -> tuple[WatchRunner, list[
        CycleResult], list[int]]:
    runner = WatchRunner(w, source, warmup=HOUR)
    results, sizes = [], []
    for k in range(1, cycles + 1):
        r = runner.cycle(T0 + k * HOUR)
        assert r is not None
        results.append(r)
        if tmp is not None:
            checkpoint.save(tmp, runner)
            sizes.append(sum(p.stat().st_size for p in tmp.iterdir()))
    return runner, results, sizes


def _rows(result: CycleResult, names: list[str]) -> np.ndarray:
    where = {dict(lb)["agent"]: i for i, lb in enumerate(result.batch.labels)}
    return np.array([where[n] for n in names])


def test_churn_stays_bounded_and_the_remaining_series_score_bit_identically(tmp_path: Path) -> None:
    w = _watch()
    churned, cycles = 40, 24
    runner, results, sizes = _run(ChurnSource(churning(3, churned, HOUR)), w, cycles, tmp_path)
    # each cycle's new agents are gone the next; 2h retention keeps them one more cycle
    tracked = [r.tracked for r in results]
    assert max(tracked) == 3 + 2 * churned and tracked[-1] == tracked[5]
    assert runner.detector is not None and runner.detector.n_series == len(runner.retention) == tracked[-1]
    assert len(runner.policy.index_) == tracked[-1]
    assert all(len(v) == tracked[-1] for v in runner.policy.state_.values())
    assert all(len(v) == tracked[-1] for v in runner.detector.state_.values())
    assert sum(len(r.forgotten.get("retention", [])) for r in results) == churned * (cycles - 2)
    assert sizes[-1] <= sizes[5] * 1.01  # the checkpoint stops growing once churn is forgotten as fast as it comes

    _, alone, _ = _run(ChurnSource(churning(3, 0, HOUR)), w, cycles)
    stable = ["s0", "s1", "s2"]
    for a, b in zip(results, alone, strict=True):
        rows = _rows(a, stable)
        for name in ("score", "expected", "lower", "upper"):
            np.testing.assert_array_equal(getattr(a.scores, name)[rows], getattr(b.scores, name))
        assert [(e.labels, e.kind, e.status, e.at) for e in a.events if dict(e.labels)["agent"] in stable] == \
            [(e.labels, e.kind, e.status, e.at) for e in b.events]


def test_a_series_that_comes_back_after_retention_starts_fresh() -> None:
    w = _watch()
    back = {"b"}

    def agents(start: int) -> list[str]:
        k = (start - T0) // HOUR
        return ["s0", *(["b"] if k in (0, 8) else [])]

    def later(start: int) -> list[str]:
        return ["s0", *(["b"] if (start - T0) // HOUR == 8 else [])]

    _runner, results, _ = _run(ChurnSource(agents), w, 9)
    assert any(dict(k)["agent"] in back for r in results for k in r.forgotten.get("retention", []))
    _, fresh, _ = _run(ChurnSource(later), w, 9)
    rows_a, rows_b = _rows(results[-1], ["b"]), _rows(fresh[-1], ["b"])
    np.testing.assert_array_equal(results[-1].scores.score[rows_a], fresh[-1].scores.score[rows_b])
    np.testing.assert_array_equal(results[-1].scores.upper[rows_a], fresh[-1].scores.upper[rows_b])


def test_the_cap_forgets_the_longest_absent_first_then_refuses_new_series_loudly(
        caplog: pytest.LogCaptureFixture) -> None:
    w = _watch(series_retention="1d", max_tracked_series=6)

    def agents(start: int) -> list[str]:
        k = (start - T0) // HOUR
        return ["s0", "s1", *{0: ["a", "b"], 1: ["c"], 2: ["d", "e", "f"], 3: ["g", "h", "i", "j", "k"]}.get(k, [])]

    runner = WatchRunner(w, ChurnSource(agents), warmup=HOUR)
    r1, r2 = runner.cycle(T0 + HOUR), runner.cycle(T0 + 2 * HOUR)
    assert r1 is not None and r2 is not None and not r1.forgotten and not r2.forgotten and r2.tracked == 5
    with caplog.at_level(logging.WARNING, logger="sentinel.watch"):
        r3 = runner.cycle(T0 + 3 * HOUR)  # s0 s1 + d e f = 5 present, a b c absent: a and b are the longest absent
    assert r3 is not None and r3.refused == 0 and not caplog.records
    assert [dict(k)["agent"] for k in r3.forgotten["limit"]] == ["a", "b"] and r3.tracked == 6
    with caplog.at_level(logging.WARNING, logger="sentinel.watch"):
        r4 = runner.cycle(T0 + 4 * HOUR)  # s0 s1 + 5 new, room for 4 once c d e f go: k is refused
    assert r4 is not None and [dict(k)["agent"] for k in r4.forgotten["limit"]] == ["c", "d", "e", "f"]
    assert r4.refused == 1 and r4.tracked == 6
    assert sorted(dict(lb)["agent"] for lb in r4.batch.labels) == ["g", "h", "i", "j", "s0", "s1"]
    assert r4.scores.score.shape[0] == 6
    [warning] = caplog.records
    assert "1 new series refused" in warning.getMessage() and 'agent="k"' in warning.getMessage()


def test_a_checkpoint_without_last_seen_times_counts_every_series_as_seen_at_its_cursor(tmp_path: Path) -> None:
    w = _watch()
    first = ChurnSource(lambda start: ["s0", "gone"])
    runner, _, _ = _run(first, w, 2)
    checkpoint.save(tmp_path, runner)
    [state] = tmp_path.glob("state-*.npz")
    with np.load(state) as z:
        older = {k: z[k] for k in z.files if not k.startswith("retention/")}
    np.savez(state, **older)
    restored = WatchRunner(w, ChurnSource(lambda start: ["s0"]), warmup=HOUR)
    assert checkpoint.restore(tmp_path, restored) == (runner.cursor, "restored")
    assert len(restored.retention) == 2 and set(restored.retention.last_seen_.tolist()) == {runner.cursor}
    assert restored.cycle(T0 + 3 * HOUR).forgotten == {}  # type: ignore[union-attr]
    r = restored.cycle(T0 + 5 * HOUR)  # "gone" last seen at the cursor (T0 + 2h - 1m): 2h+ without a value
    assert r is not None and [dict(k)["agent"] for k in r.forgotten["retention"]] == ["gone"]
    assert restored.detector is not None and restored.detector.n_series == 1 and len(restored.policy.index_) == 1
    # and a checkpoint written now round-trips the last-seen times
    checkpoint.save(tmp_path, restored)
    again = WatchRunner(w, ChurnSource(lambda start: ["s0"]), warmup=HOUR)
    checkpoint.restore(tmp_path, again)
    assert again.retention.index_.keys == restored.retention.index_.keys
    np.testing.assert_array_equal(again.retention.last_seen_, restored.retention.last_seen_)


def _daemon(tmp: Path, **watch: object) -> Daemon:
    cfg = Config.model_validate({
        "simulator": {"agents": 2},
        "store": {"path": str(tmp / "sentinel.db"), "models_dir": str(tmp / "models")},
        "server": {"listen": "127.0.0.1:0"},
        "watches": [{"name": "w", "query": "agent_task_rate", "every": "1h", "step": "1m", **watch}],
    })
    d = Daemon(cfg)
    d.start(schedule=False, serve=False)
    return d


def test_an_open_alert_on_a_forgotten_series_resolves_and_the_metrics_count_it(tmp_path: Path) -> None:
    # "dead" stops reporting after the first hour: its absent alert fires, then retention forgets it
    d = _daemon(tmp_path, series_retention="3h", max_tracked_series=2, alert={"absent_for": "10m"})
    slot = d.slots["w"]
    slot.runner.source = ChurnSource(lambda start: ["s0", "dead", *(["x", "y"] if start >= T0 + 4 * HOUR else [])],
                                     alive=lambda a, t: a != "dead" or t < T0 + HOUR, silent=True)
    try:
        for k in range(1, 4):
            d.run_cycle("w", T0 + k * HOUR)
        [alert] = d.alerts_json("w")
        assert alert["labels"]["alertname"] and alert["labels"]["agent"] == "dead"
        d.run_cycle("w", T0 + 4 * HOUR)  # dead: no value since T0+1h-1m, more than 3h: forgotten
        assert d.alerts_json("w") == []
        [resolved] = d.alerts_json("w", include_resolved=True)
        assert resolved["labels"]["agent"] == "dead" and resolved["endsAt"] > alert["startsAt"]
        assert not slot.confirms("absent", (("agent", "dead"),), T0, "warning")
        d.run_cycle("w", T0 + 5 * HOUR)  # x and y arrive: only x fits under the cap of 2
        reg = d.registry
        assert reg.get_sample_value(m.SERIES_FORGOTTEN, {"watch": "w", "reason": "retention"}) == 1.0
        assert reg.get_sample_value(m.SERIES_REFUSED, {"watch": "w", "reason": "limit"}) == 1.0
        assert reg.get_sample_value(m.SERIES_TRACKED, {"watch": "w"}) == 2.0
        text = d.metrics_text()[0].decode()
        assert 'agent="dead"' not in text and 'agent="x"' in text and 'agent="y"' not in text
    finally:
        d.stop()


@settings(max_examples=60, deadline=None)
@given(retention=st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True), st.booleans(),
                           st.text(max_size=8), st.sampled_from(["1m", "59s", "0", "7d", "1w", "100y", "1.5h"])),
       cap=st.one_of(st.integers(-5, 10**7), st.none(), st.text(max_size=3)))
def test_odd_retention_and_cap_values_are_one_line_config_errors_or_a_working_watch(
        retention: object, cap: object) -> None:
    doc: dict[str, object] = {"name": "w", "query": "up", "every": "1m", "series_retention": retention}
    if cap is not None:
        doc["max_tracked_series"] = cap
    try:
        w = WatchConfig.model_validate(doc)
    except ValidationError as exc:
        assert all("\n" not in str(e["msg"]) for e in exc.errors())
        return
    assert 60 <= w.series_retention <= 100 * 365 * 86400 and w.max_tracked_series >= 1
    runner = WatchRunner(w, ChurnSource(lambda start: ["a", "b"]), warmup=600)
    r = runner.cycle(T0 + HOUR)
    assert r is not None and r.tracked == min(2, w.max_tracked_series) and r.refused == 2 - r.tracked


class _Leaves(SimulatedSource):
    """The fleet's logs, where agent ``gone`` stops logging at ``after`` (its counts and its lines)."""

    def __init__(self, fleet: Fleet, gone: str, after: int) -> None:
        super().__init__(fleet, registry=CollectorRegistry(), max_messages=3000)
        self.gone, self.after = gone, after

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch:
        b = super().fetch(watch, start, end)
        mine = np.array([dict(lb).get("service_name") == self.gone for lb in b.labels], dtype=bool)
        values = b.values.copy()
        values[np.ix_(mine, b.timestamps >= self.after)] = np.nan
        keep = ~np.isnan(values).all(axis=1)
        return Batch(b.timestamps, values[keep], tuple(lb for lb, k in zip(b.labels, keep, strict=True) if k), b.step)

    def sample(self, watch: WatchConfig, start: int, end: int) -> Sample:
        s = super().sample(watch, start, end)
        return Sample([r for r in s.records if not (dict(r.labels).get("service_name") == self.gone
                                                   and r.timestamp >= self.after)], s.complete_until, s.skipped)


def test_a_log_watch_forgets_the_template_series_of_a_group_that_is_gone(tmp_path: Path) -> None:
    fleet = Fleet(agents=3, seed=3)
    gone = fleet.agents[0]
    w = WatchConfig.model_validate({"name": "error_logs", "every": 300, "series_retention": "2h", "logs": {
        "index": "agent-logs-*", "query": "log.level:error", "group_by": ["service.name", "labels.tool"]}})
    src = _Leaves(fleet, gone, fleet.start + 4 * HOUR)
    lw = LogWatch(w, src, state_dir=tmp_path, registry=CollectorRegistry())
    runner = WatchRunner(w, src, warmup=HOUR, patterns=lw)

    def agents(keys: list[Labels], template: bool) -> set[str]:
        return {dict(k)["service_name"] for k in keys if ("template_id" in dict(k)) == template}

    runner.cycle(fleet.start + 4 * HOUR - 1)
    assert runner.detector is not None
    assert gone in agents(runner.detector.index_.keys, True) and gone in agents(runner.detector.index_.keys, False)
    forgotten = []
    for h in range(5, 9):
        r = runner.cycle(fleet.start + h * HOUR - 1)
        assert r is not None
        forgotten += r.forgotten.get("retention", [])
    assert agents(forgotten, True) == {gone} and agents(forgotten, False) == {gone}
    for keys in (runner.detector.index_.keys, runner.policy.index_.keys, list(lw.tracker._series)):
        assert gone not in agents(keys, True) and agents(keys, True) == set(fleet.agents[1:])
    assert gone not in {dict(k)["service_name"] for k in r.batch.labels}


def test_the_exporter_drops_the_rows_of_forgotten_series() -> None:
    col = ResultCollector()
    keys = [labels_key({"agent": a}) for a in "abc"]

    def result(labels: list[Labels], forgotten: list[Labels]) -> CycleResult:
        b = Batch.from_rows(labels, [6000], np.ones((len(labels), 1)), step=60)
        return CycleResult("w", b, Scores(b.values * 0.5, b.values, b.values, b.values), [],
                           forgotten={"retention": forgotten} if forgotten else {})

    col.update(result(keys, []))
    col.update(result([keys[2]], [keys[0]]))
    table = col._tables["w"]
    assert table.index.keys == keys[1:] and [lb["agent"] for lb in table.labels] == ["b", "c"]
    assert all(len(v) == 2 for v in table.cols.values()) and all(len(v) == 2 for v in table.texts.values())
    assert 'agent="a"' not in col.render().decode() and 'agent="c"' in col.render().decode()


def test_a_cap_lowered_under_the_series_present_refuses_every_newcomer() -> None:
    r = SeriesRetention()
    present = [labels_key({"a": str(i)}) for i in range(8)]
    r.observe(present, np.full(8, 60, dtype=np.int64), now=60, retention=600, limit=100)
    newcomers = [labels_key({"n": str(i)}) for i in range(5)]
    d = r.observe([*present, *newcomers], np.full(13, 120, dtype=np.int64), now=120, retention=600, limit=6)
    assert d.refused == 5 and d.admitted is not None and d.admitted.tolist() == [True] * 8 + [False] * 5
    assert not d.forgotten and len(r) == 8  # a series with a value this cycle is never forgotten
