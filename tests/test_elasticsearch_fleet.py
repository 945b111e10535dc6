"""End to end on the simulator's own logs: fleet -> bulk load -> Elasticsearch -> log watches -> alerts.

The fleet (``sentinel.fleet``) writes its ECS records with two log-only
incidents: a never-seen error template on one agent and an error burst on one
tool of another.  sentinel's log watches must raise exactly the new patterns
the ground truth says are new, and the burst must stand out in the per-group
error counts scored by the default detector and policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from sentinel.alerting.policy import Policy
from sentinel.config import DetectorConfig, ElasticsearchConfig, WatchConfig
from sentinel.detect.registry import build_detector
from sentinel.fleet import Fleet
from sentinel.fleet.elastic import write_fleet_logs
from sentinel.fleet.templates import ALL_TEMPLATES
from sentinel.logs.watch import LogWatch
from sentinel.sources.elasticsearch import ElasticsearchSource
from tests.es_service import ElasticsearchServer, elasticsearch  # noqa: F401  (fixture)

pytestmark = pytest.mark.services

PREFIX = "fleet-logs"
WARM = 6 * 3600
TOTAL = 8 * 3600


@pytest.fixture(scope="module")
def fleet_loaded(elasticsearch: ElasticsearchServer) -> Iterator[tuple[Fleet, list[tuple[str, dict[str, Any]]]]]:  # noqa: F811
    base = Fleet(agents=4, seed=7)
    t0 = base.start
    fleet = base.with_incidents([
        base.make_incident("new_error_pattern", base.agents[0], t0 + 7 * 3600, 1800, template="N02"),
        base.make_incident("tool_error_burst", base.agents[1], t0 + 7 * 3600 + 1800, 900, tool="search"),
    ])
    client = elasticsearch.client()
    res = write_fleet_logs(client, fleet, t0, t0 + TOTAL, prefix=PREFIX, registry=CollectorRegistry())
    truth = list(fleet.labelled_logs(t0, t0 + TOTAL))
    assert (res.written, res.failed) == (len(truth), 0), res.first_error
    yield fleet, truth
    client.indices.delete(index=f"{PREFIX}-*")
    client.close()


def _src(server: ElasticsearchServer, reg: CollectorRegistry) -> ElasticsearchSource:
    return ElasticsearchSource(ElasticsearchConfig(url=server.url, timeout=30), registry=reg)


def test_new_error_pattern_from_the_simulator(elasticsearch: ElasticsearchServer, fleet_loaded, tmp_path: Path) -> None:  # noqa: F811
    fleet, truth = fleet_loaded
    t0 = fleet.start
    reg = CollectorRegistry()
    w = WatchConfig(name="fleet_logs", every=60,
                    logs={"index": f"{PREFIX}-*", "query": "*", "group_by": ["service.name"]})
    lw = LogWatch(w, _src(elasticsearch, reg), state_dir=tmp_path, registry=reg)
    assert lw.cycle(t0, t0 + WARM).new_patterns == []
    events = []
    for start in range(t0 + WARM, t0 + TOTAL, 600):
        cyc = lw.cycle(start, start + 600)
        assert cyc.errors == []
        events.extend(cyc.new_patterns)
    # ground truth: error/warn templates first seen after the warm-up, per agent that first logged them
    alerting = {"error", "warn"}
    seen = {tid for tid, rec in truth if rec["log.level"] in alerting and rec["@timestamp"] < _iso(t0 + WARM)}
    first_new: dict[str, str] = {}
    for tid, rec in truth:
        if rec["log.level"] in alerting and tid not in seen and tid not in first_new:
            first_new[tid] = rec["service.name"]
    assert "N02" in first_new and first_new["N02"] == fleet.agents[0]
    got = sorted((dict(e.labels)["service_name"], e.description.split("\n")[0]) for e in events)
    # exactly the truly new templates, on the agents that logged them: nothing on clean groups
    assert sorted(dict(e.labels)["service_name"] for e in events) == sorted(first_new.values()), got
    fixed = ALL_TEMPLATES["N02"].fmt.split("{")[0].strip()
    n02 = [e for e in events if fixed in e.description]
    assert len(n02) == 1 and dict(n02[0].labels)["service_name"] == fleet.agents[0]
    assert "example (masked): " + fixed in n02[0].description


def test_tool_error_burst_alerts_through_detector_and_policy(elasticsearch: ElasticsearchServer, fleet_loaded) -> None:  # noqa: F811
    fleet, _ = fleet_loaded
    t0 = fleet.start
    # 5-minute counts: at one minute an agent's per-tool error count is mostly 0 or 1, too sparse to score
    w = WatchConfig(name="error_logs", every=300, alert={"threshold": 0.99, "direction": "up"},
                    logs={"index": f"{PREFIX}-*", "query": "log.level:error",
                          "group_by": ["service.name", "labels.tool"], "templates": False})
    src = _src(elasticsearch, CollectorRegistry())
    batch = src.fetch(w, t0, t0 + TOTAL)
    assert batch.n_series >= len(fleet.agents)
    burst = batch.labels.index((("labels_tool", "search"), ("service_name", fleet.agents[1])))
    inc = (batch.timestamps >= t0 + 7 * 3600 + 1800) & (batch.timestamps < t0 + 7 * 3600 + 2700)
    assert batch.values[burst, inc].mean() > 3 * batch.values[burst, : WARM // 300].mean()
    # the guarded ensemble with the log watches' count floor: the default's decision layer reports nothing before
    # 150 samples per series (n_warm) and this fixture holds 84 five-minute steps before the burst
    detector = build_detector(DetectorConfig(kind="guarded", params={"counts": {}}), step=300)
    scores = detector.process(batch)
    events = Policy(w.alert, watch=w.name).update(batch, scores)
    fired = [e for e in events if e.status == "firing" and e.at >= t0 + WARM]
    assert any(e.labels == batch.labels[burst] and t0 + 7 * 3600 + 1800 <= e.at < t0 + 7 * 3600 + 2700
               for e in fired), [(e.labels, e.at - t0) for e in fired]
    assert np.isfinite(batch.values).all()


def _iso(t: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_watch_cycle_raises_and_resolves_new_pattern(elasticsearch: ElasticsearchServer, fleet_loaded,  # noqa: F811
                                                     tmp_path: Path) -> None:
    """The daemon's path: a WatchRunner with the LogWatch pattern stage fires on N02 and resolves it later."""
    from sentinel.watch import WatchRunner

    fleet, _ = fleet_loaded
    t0 = fleet.start
    reg = CollectorRegistry()
    w = WatchConfig(name="fleet_logs_cycle", every=600, detector=None,
                    logs={"index": f"{PREFIX}-*", "query": "*", "group_by": ["service.name"]})
    src = _src(elasticsearch, reg)
    runner = WatchRunner(w, src, warmup=WARM, patterns=LogWatch(w, src, state_dir=tmp_path, registry=reg))
    events = []
    for now in range(t0 + WARM, t0 + TOTAL + 2 * 3600, 600):
        res = runner.cycle(now)
        if res is not None and not res.warmup:
            events.extend(res.events)
    n02 = [e for e in events if e.kind == "new_pattern" and dict(e.labels)["service_name"] == fleet.agents[0]]
    statuses = [e.status for e in n02]
    assert statuses[:2] == ["firing", "resolved"]



TPL_PREFIX = "fleet-tpl"
TPL_WARM = 12 * 3600


@pytest.fixture(scope="module")
def template_fleet(elasticsearch: ElasticsearchServer) -> Iterator[Fleet]:  # noqa: F811
    """4 agents: a new error pattern on agent 0 (t0+5h, 1 h), a search error burst on agent 1 (t0+6h, 30 min),
    agent 3 clean; logs from t0-11h (the clean history the first cycle warms up on) to t0+8h."""
    base = Fleet(agents=4, seed=7)
    t0 = base.start
    fleet = base.with_incidents([
        base.make_incident("new_error_pattern", base.agents[0], t0 + 5 * 3600, 3600, magnitude=0.3, template="N02"),
        base.make_incident("tool_error_burst", base.agents[1], t0 + 6 * 3600, 1800, magnitude=10.0, tool="search"),
    ])
    client = elasticsearch.client()
    res = write_fleet_logs(client, fleet, t0 - TPL_WARM + 3600, t0 + 8 * 3600, prefix=TPL_PREFIX,
                           registry=CollectorRegistry())
    assert res.failed == 0, res.first_error
    yield fleet
    client.indices.delete(index=f"{TPL_PREFIX}-*")
    client.close()


def test_daemon_cycles_raise_template_rate_and_new_pattern_and_survive_restart(
    elasticsearch: ElasticsearchServer, template_fleet: Fleet, tmp_path: Path  # noqa: F811
) -> None:
    """The daemon's slot on the real node: a per-template rate alert (masked template + example) on the burst,
    the new pattern, nothing on the clean agent; template ids, template series state and the open new-pattern
    alert carried over a restart, which then resolves it."""
    from sentinel.detect.counts import CountFloor
    from sentinel.slot import WatchSlot
    from sentinel.store import Store

    fleet, t0 = template_fleet, template_fleet.start
    w = WatchConfig.model_validate({
        "name": "fleet_errors", "every": 300,
        "logs": {"index": f"{TPL_PREFIX}-*", "query": "log.level:error", "group_by": ["service.name", "labels.tool"]},
        "alert": {"threshold": 0.99, "for": "2m", "direction": "up"},
    })
    store = Store(tmp_path / "s.db", tmp_path / "models")
    src = _src(elasticsearch, CollectorRegistry())

    def replay(slot: WatchSlot, hours: range) -> list:
        out = []
        for h in hours:
            res = slot.cycle(t0 + h * 3600 - 1)
            assert res is not None
            slot.published()  # as the daemon does once the outbox holds the transitions
            slot.commit()
            if not res.warmup:
                out.extend(res.events)
        return out

    slot = WatchSlot.create(w, src, store, warmup=TPL_WARM)
    assert isinstance(slot.runner.detector, CountFloor)
    events = replay(slot, range(1, 7))  # warm-up, clean hours, the new pattern's first hour
    slot.save()
    opened = [e for e in events if e.kind == "new_pattern" and e.status == "firing"]
    assert [dict(e.labels)["service_name"] for e in opened] == [fleet.agents[0]]
    ids = slot.runner.patterns.tracker.miner.templates()  # type: ignore[union-attr]
    restarted = WatchSlot.create(w, src, store, warmup=TPL_WARM)  # a restart: checkpoint + miner state from disk
    assert restarted.restored_from == slot.runner.cursor
    assert restarted.runner.patterns.tracker.miner.templates() == ids  # type: ignore[union-attr]
    det = restarted.runner.detector
    assert det is not None and any("template_id" in dict(k) for k in det.index_.keys)
    assert restarted.confirms("new_pattern", opened[0].labels, opened[0].starts_at, opened[0].severity)
    events += replay(restarted, range(7, 9))
    firing = [e for e in events if e.status == "firing"]
    assert fleet.clean_agents[0] not in [dict(e.labels)["service_name"] for e in firing], \
        [(e.labels, e.at - t0) for e in firing]
    assert len([e for e in firing if e.kind == "new_pattern"]) == 1  # known after the restart, not new again
    burst = [e for e in firing if e.kind == "anomaly" and dict(e.labels).get("labels_tool") == "search"
             and dict(e.labels)["service_name"] == fleet.agents[1] and "template_id" in dict(e.labels)
             and t0 + 6 * 3600 <= e.at < t0 + 6 * 3600 + 1800]
    assert burst, [(e.labels, e.at - t0) for e in firing]
    assert "log template: tool search failed: upstream <IP> returned HTTP" in burst[0].summary
    assert "example (masked): tool search failed: upstream <IP>" in burst[0].description
    assert "10." not in burst[0].description  # masked, no raw address
    resolved = [e for e in events if e.kind == "new_pattern" and e.status == "resolved"]
    assert [dict(e.labels)["service_name"] for e in resolved] == [fleet.agents[0]]  # resolved after the restart
    store.close()
