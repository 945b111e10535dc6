"""Per-template rate anomalies, count-aware scoring and the simulated fleet's logs -- no server needed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from scipy.stats import poisson

from sentinel.alerting.policy import Policy
from sentinel.config import AlertPolicyConfig, Config, DetectorConfig, SimulatorConfig, WatchConfig
from sentinel.defaults import embedded_config
from sentinel.detect import persist
from sentinel.detect.base import OnlineDetector
from sentinel.detect.counts import CountFloor, nb_tails
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard
from sentinel.detect.registry import COUNT_PRIOR, build_detector
from sentinel.fleet import Fleet
from sentinel.logs.miner import LogMiner
from sentinel.logs.patterns import TemplateTracker
from sentinel.logs.records import LogRecord, Sample
from sentinel.logs.watch import LogWatch
from sentinel.series import Batch, labels_key
from sentinel.slot import WatchSlot
from sentinel.sources.base import SourceError
from sentinel.sources.simulated import SimulatedSource
from sentinel.sources.simulated_logs import SimulatedLogQueryError, SimulatedLogs
from sentinel.sourceset import SourceSet
from sentinel.store import Store
from sentinel.watch import WatchRunner

# -- count-aware scoring -------------------------------------------------------------------


def test_nb_tails_match_poisson_for_large_shape() -> None:
    x = np.array([0.0, 1, 2, 5, 9])
    mu = np.full(5, 2.5)
    up, down = nb_tails(x, mu, np.full(5, 1e9))
    assert np.allclose(up, poisson.sf(x - 1, 2.5), atol=1e-6)
    assert np.allclose(down, poisson.cdf(x, 2.5), atol=1e-6)


def _sparse(seed: int, n: int = 2000, lam: float = 0.3) -> np.ndarray:
    return np.random.default_rng(seed).poisson(lam, n).astype(float)



@pytest.mark.parametrize("kind", ["default", "guarded"])
def test_count_floor_batch_pass_equals_step_by_step(kind: str) -> None:
    rng = np.random.default_rng(0)
    v = rng.poisson(0.7, (6, 900)).astype(float)
    v[2, 500:520] += 9
    v[3, 100:130] = np.nan
    b = Batch.from_rows([{"s": str(i)} for i in range(6)], 1_700_000_000 + 300 * np.arange(900), v, step=300)
    fast = build_detector(DetectorConfig(kind=kind, params={"counts": {}}), step=300)
    slow = build_detector(DetectorConfig(kind=kind, params={"counts": {}}), step=300)
    assert isinstance(slow, CountFloor)
    slow._process_state = lambda st, batch: OnlineDetector._process_state(slow, st, batch)  # type: ignore[method-assign]
    a, c = fast.process(b), slow.process(b)
    for f in ("score", "expected", "lower", "upper"):
        np.testing.assert_allclose(getattr(a, f), getattr(c, f), rtol=1e-9, equal_nan=True)
    assert a.members is not None and c.members is not None and set(a.members) == set(c.members)
    for k in a.members:
        np.testing.assert_allclose(a.members[k], c.members[k], rtol=1e-9, equal_nan=True)
    assert (a.score[2, 500:520] >= 0.99).any()  # the burst is seen on both paths

def test_count_floor_cuts_false_alarms_on_sparse_counts_and_keeps_bursts() -> None:
    x = np.stack([_sparse(seed, 1300) for seed in range(6)])  # six sparse count series, one batch
    x[:, 1200:1205] = [12, 15, 11, 14, 13]
    b = Batch.from_rows([{"s": str(i)} for i in range(6)], np.arange(x.shape[1]) * 60, x)
    def counts() -> Guard:  # the ensemble as the registry builds it for count series
        return Guard(Ensemble(step=60, prior=COUNT_PRIOR))

    plain = counts().process(b).score
    floor = CountFloor(counts()).process(b).score
    before, after = int((plain[:, 400:1200] >= 0.99).sum()), int((floor[:, 400:1200] >= 0.99).sum())
    assert after <= 0.6 * before, (before, after)  # what is left are true 1-in-300 Poisson counts (3 at 0.3)
    assert (floor[:, 1200] > 0.999).all()  # a real burst still scores
    assert (floor <= plain + 1e-12)[np.isfinite(plain)].all()  # the floor only ever lowers a score
    cfg = AlertPolicyConfig.model_validate({"for": "2m", "direction": "up"})
    fired = [e for e in Policy(cfg, "w").update(b, CountFloor(counts()).process(b))
             if e.status == "firing"]
    assert sorted(e.at for e in fired) == [1202 * 60] * 6  # only the bursts alert


def test_count_series_keep_the_light_calibration_prior_unless_configured() -> None:
    """A sparse count's bursts are heavier-tailed than the prior's power law: the ensemble's heavier default prior
    (50 points) made a clean agent's routine template bursts alert (tests/test_elasticsearch_fleet.py)."""
    def prior(det: OnlineDetector) -> tuple[float, ...]:
        while not isinstance(det, Ensemble):
            det = det.inner  # type: ignore[attr-defined]
        return det.prior

    assert prior(build_detector(DetectorConfig(params={"counts": {}}), step=60)) == COUNT_PRIOR == (10.0, 2.0, 4.0)
    assert prior(build_detector(DetectorConfig(), step=60)) == Ensemble().prior == (50.0, 2.0, 4.0)
    mine = DetectorConfig(params={"counts": {}, "prior": (30.0, 2.0, 4.0)})
    assert prior(build_detector(mine, step=60)) == (30.0, 2.0, 4.0)


def test_count_floor_state_survives_a_checkpoint(tmp_path: Path) -> None:
    x = _sparse(9, 600)
    b = Batch.from_rows([{"g": "a"}], np.arange(600) * 60, x[None, :])
    det = build_detector(DetectorConfig(params={"counts": {"min_count": 2}}), step=60)
    assert isinstance(det, CountFloor) and det.min_count == 2
    det.process(b.window(0, 500))
    persist.save(det, tmp_path / "m.npz")
    again = persist.load(tmp_path / "m.npz")
    assert isinstance(again, CountFloor)
    rest = b.window(500)
    assert np.array_equal(det.process(rest).score, again.process(rest).score, equal_nan=True)


def test_counts_param_is_validated() -> None:
    with pytest.raises(ValueError, match="unknown parameter"):
        build_detector(DetectorConfig(params={"counts": {"nope": 1}}), step=60)
    assert not isinstance(build_detector(DetectorConfig(params={"counts": False}), step=60), CountFloor)


# -- counts from a bounded sample ------------------------------------------------------------


def _rec(t: float, msg: str, group: str, level: str = "error") -> LogRecord:
    return LogRecord(t, level, msg, labels_key({"service_name": group}))


def test_sampled_template_counts_are_scaled_to_the_group_totals() -> None:
    reg = CollectorRegistry()
    tr = TemplateTracker(LogMiner(registry=reg), watch="w", registry=reg)
    # step 0: group a logged 10 lines, 5 sampled (4 x timeout, 1 x refused); step 1: a logged 0; step 2: 6, none
    # sampled; group b logged 3 lines in step 0 and none was sampled at all
    recs = [_rec(1 + i, f"task {i} timed out", "a") for i in range(4)] + [_rec(9, "connection 7 refused", "a")]
    tr.update(Sample([_rec(-30, "task 9 timed out", "b")], 0.0, 0), -60, 0, 60)  # b has a known series
    counts = Batch.from_rows([{"service_name": "a"}, {"service_name": "b"}], [0, 60, 120], [[10, 0, 6], [3, 0, 0]])
    out = tr.update(Sample(recs, 180.0, 0), 0, 180, 60, counts)
    by = {dict(k)["template_id"]: v for k, v in zip(out.templates.labels, out.templates.values, strict=True)}
    timeout, refused = (by[str(tr.miner.add(m).template_id)] for m in ("task 1 timed out", "connection 2 refused"))
    assert timeout[:2].tolist() == [8.0, 0.0] and refused[:2].tolist() == [2.0, 0.0]
    assert np.isnan(timeout[2]) and np.isnan(refused[2])  # lines there, none sampled: missing, not zero
    b = next(v for k, v in zip(out.templates.labels, out.templates.values, strict=True)
             if dict(k)["service_name"] == "b")
    assert np.isnan(b[0]) and b[1:].tolist() == [0.0, 0.0]  # not sampled: missing where it logged, else zero


def test_template_series_are_capped_with_a_metric(caplog: pytest.LogCaptureFixture) -> None:
    reg = CollectorRegistry()
    tr = TemplateTracker(LogMiner(registry=reg), watch="w", max_series=2, registry=reg)
    shapes = ("disk failure happened", "network link went down now", "cache miss rate is far too high")
    recs = [_rec(1, msg, g) for msg in shapes for g in ("x", "y")]
    out = tr.update(Sample(recs, 60.0, 0), 0, 60, 60)
    assert out.templates.n_series == 2
    assert reg.get_sample_value("sentinel_log_template_series_dropped_total", {"watch": "w"}) == 4
    assert reg.get_sample_value("sentinel_log_template_series", {"watch": "w"}) == 2
    assert "cap of 2 template series" in caplog.text


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 299), st.sampled_from(["a", "b"]), st.text(max_size=80)), max_size=40),
       st.integers(0, 3))
def test_tracker_is_total_on_arbitrary_messages(rows: list[tuple[int, str, str]], extra: int) -> None:
    reg = CollectorRegistry()
    tr = TemplateTracker(LogMiner(registry=reg), watch="w", registry=reg)
    recs = sorted((_rec(float(t), msg, g) for t, g, msg in rows), key=lambda r: r.timestamp)
    n = Counter((r.labels, int(r.timestamp) // 60) for r in recs)
    totals = [[n[(labels_key({"service_name": g}), j)] + extra for j in range(5)] for g in ("a", "b")]
    counts = Batch.from_rows([{"service_name": g} for g in ("a", "b")], np.arange(5) * 60, totals)
    out = tr.update(Sample(recs, 300.0, 0), 0, 300, 60, counts)
    vals = out.templates.values
    assert out.templates.n_series == len({(r.labels, tr.miner.add(r.message).template_id) for r in recs})
    assert np.all((vals >= 0) | np.isnan(vals))
    if extra == 0 and recs:  # a complete sample gives exact counts
        assert np.nansum(vals) == len(recs) and not np.isnan(vals).any()


# -- the simulated fleet's logs ----------------------------------------------------------------


def _logs_watch(name: str = "error_logs", every: int = 300, **logs: object) -> WatchConfig:
    spec = {"index": "agent-logs-*", "query": "log.level:error", "group_by": ["service.name", "labels.tool"], **logs}
    return WatchConfig.model_validate({"name": name, "every": every, "logs": spec,
                                       "alert": {"threshold": 0.99, "for": "2m", "direction": "up"}})


def test_simulated_log_counts_match_the_fleet_records() -> None:
    f = Fleet(agents=3, seed=5)
    t0 = f.start + 10 * 3600
    logs = SimulatedLogs(f, max_messages=50)
    b = logs.fetch(_logs_watch(), t0, t0 + 3600)
    want = Counter((r["service.name"], r.get("labels.tool", "")) for r in f.logs(t0, t0 + 3600)
                   if r["log.level"] == "error")
    got = {(dict(k)["service_name"], dict(k).get("labels_tool", "")): v.sum()  # no tool: no label
           for k, v in zip(b.labels, b.values, strict=True)}
    assert {k: v for k, v in got.items() if v} == dict(want)
    s = logs.sample(_logs_watch(), t0, t0 + 3600)
    assert len(s.records) == 50 and all(r.level == "error" for r in s.records)
    assert [r.timestamp for r in s.records] == sorted(r.timestamp for r in s.records)
    assert s.records[0].timestamp < t0 + 1200 and s.records[-1].timestamp > t0 + 2400  # spread, not a time cut
    for bad in ("message:foo", "log.level:(error", "log.level:error OR x:y"):
        with pytest.raises(SimulatedLogQueryError, match="simulated log query") as err:
            logs.fetch(_logs_watch(query=bad), t0, t0 + 60)
        assert "\n" not in str(err.value)


def test_embedded_default_has_log_watches_on_the_simulated_fleet() -> None:
    cfg = embedded_config(SimulatorConfig(agents=2))
    logs = [w for w in cfg.watches if w.logs is not None]
    assert [w.name for w in logs] == ["error_logs"]
    sources = SourceSet(cfg, CollectorRegistry())
    assert sources.kind(logs[0]) == "simulated"
    with pytest.raises(ValueError, match="elasticsearch"):
        Config.model_validate({"prometheus": {}, "simulator": {}, "watches": [logs[0].model_dump(by_alias=True)]})


def _incident_fleet() -> Fleet:
    base = Fleet(agents=4, seed=7)
    t0 = base.start
    return base.with_incidents([
        base.make_incident("new_error_pattern", base.agents[0], t0 + 5 * 3600, 3600, magnitude=0.3, template="N02"),
        base.make_incident("tool_error_burst", base.agents[1], t0 + 6 * 3600, 1800, magnitude=10.0, tool="search"),
    ])


def _replay(runner: WatchRunner | WatchSlot, t0: int, hours: range) -> list:
    events = []
    for h in hours:
        res = runner.cycle(t0 + h * 3600 - 1)
        if isinstance(runner, WatchSlot):
            runner.published()  # as the daemon does once the outbox holds the transitions
        if res is not None and not res.warmup:
            events.extend(res.events)
    return events


def test_log_watch_cycle_raises_template_rate_and_new_pattern_alerts(tmp_path: Path) -> None:
    fleet = _incident_fleet()
    t0 = fleet.start
    w = _logs_watch()
    src = SimulatedSource(fleet, registry=CollectorRegistry(), max_messages=3000)
    lw = LogWatch(w, src, state_dir=tmp_path, registry=CollectorRegistry())
    runner = WatchRunner(w, src, warmup=86400, patterns=lw)
    assert isinstance(runner.detector, CountFloor)  # log watches are scored count-aware by default
    events = _replay(runner, t0, range(1, 9))
    firing = [e for e in events if e.status == "firing"]
    agent = {id(e): dict(e.labels)["service_name"] for e in firing}
    new = [e for e in firing if e.kind == "new_pattern"]
    assert [agent[id(e)] for e in new] == [fleet.agents[0]]
    assert "checkpoint <UUID> corrupted: checksum mismatch at offset" in new[0].description
    burst = [e for e in firing if e.kind == "anomaly" and agent[id(e)] == fleet.agents[1]
             and dict(e.labels).get("labels_tool") == "search" and t0 + 6 * 3600 <= e.at < t0 + 7 * 3600]
    assert any("template_id" in dict(e.labels) for e in burst), [(e.labels, e.at - t0) for e in firing]
    tpl = next(e for e in burst if "template_id" in dict(e.labels))
    assert "log template: tool search failed: upstream <IP> returned HTTP" in tpl.summary
    assert "example (masked): tool search failed: upstream <IP>" in tpl.description
    assert "10." not in tpl.description  # masked: no raw address
    clean = [e for e in firing if agent[id(e)] in fleet.clean_agents]
    assert clean == [], [(e.labels, e.at - t0) for e in clean]


def test_template_state_survives_a_restart(tmp_path: Path) -> None:
    fleet = _incident_fleet()
    t0 = fleet.start
    w = _logs_watch()
    store = Store(tmp_path / "s.db", tmp_path / "models")
    src = SimulatedSource(fleet, registry=CollectorRegistry(), max_messages=3000)
    slot = WatchSlot.create(w, src, store, warmup=86400)
    first = _replay(slot, t0, range(1, 7))  # up to the new pattern's first hour
    slot.commit()
    slot.save()
    det = slot.runner.detector
    assert det is not None and any("template_id" in dict(k) for k in det.index_.keys)
    opened = [e for e in first if e.kind == "new_pattern" and e.status == "firing"]
    assert len(opened) == 1
    again = WatchSlot.create(w, src, store, warmup=86400)  # a restart: checkpoint + miner state from disk
    assert again.restored_from == slot.runner.cursor
    assert again.runner.detector is not None and again.runner.detector.index_.keys == det.index_.keys
    assert again.confirms("new_pattern", opened[0].labels, opened[0].starts_at, opened[0].severity)
    later = _replay(again, t0, range(7, 9))
    assert not [e for e in later if e.kind == "new_pattern" and e.status == "firing"]  # known, not new again
    assert [e.status for e in later if e.kind == "new_pattern"] == ["resolved"]
    store.close()


def test_count_floor_batch_pass_equals_the_step_by_step_path() -> None:
    from sentinel.detect.base import OnlineDetector

    x = np.random.default_rng(4).poisson(0.5, (3, 400)).astype(float)
    b = Batch.from_rows([{"i": str(i)} for i in range(3)], np.arange(400) * 60, x)
    fast = CountFloor(Guard(Ensemble(step=60))).process(b)
    ref_det = CountFloor(Guard(Ensemble(step=60)))
    ref_det._on_batch(b)
    _, state = ref_det._gather(b)
    ref = OnlineDetector._process_state(ref_det, state, b)  # the generic per-step loop
    for name in ("score", "expected", "lower", "upper"):
        assert np.allclose(getattr(fast, name), getattr(ref, name), equal_nan=True), name


class _SampleDown(SimulatedSource):
    """The fleet's logs, with the message sample failing as when a node drops between two queries."""

    def sample(self, watch: WatchConfig, start: int, end: int) -> Sample:
        raise SourceError(f"watch {watch.name!r}: Elasticsearch sample query failed: cannot connect")


def test_a_failed_sample_keeps_the_group_counts_going(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fleet = Fleet(agents=2, seed=3)
    w = _logs_watch()
    src = _SampleDown(fleet, registry=CollectorRegistry())
    runner = WatchRunner(w, src, warmup=3600, patterns=LogWatch(w, src, state_dir=tmp_path,
                                                                registry=CollectorRegistry()))
    res = runner.cycle(fleet.start + 2 * 3600 - 1)
    assert res is not None and res.batch.n_series > 0
    assert not any("template_id" in dict(k) for k in res.batch.labels)  # counts only, no crash
    assert "sample query failed: cannot connect" in caplog.text
