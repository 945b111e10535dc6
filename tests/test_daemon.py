"""The daemon on the in-process simulated fleet: cycles, endpoints, restart, crash replay, errors, reload.

Cycles are driven with an explicit data-time ``now`` (no waiting on any clock).
The policy is deliberately touchy (threshold 0.9, no ``for``; ``resolve_after`` 30m keeps an
episode open through the next noisy minutes, so some are firing when a check looks) so that the
fleet's noise produces plenty of alert episodes to check restart semantics on.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sentinel.config import Config
from sentinel.daemon import Daemon
from sentinel.fleet import DEFAULT_START
from tests.services import http_get

T0 = DEFAULT_START
HOUR = 3600


def _config(tmp: Path, **extra: Any) -> Config:
    doc = {
        "simulator": {"agents": 3, "warmup": "6h", "incident_rate": 4},
        "store": {"path": str(tmp / "sentinel.db"), "models_dir": str(tmp / "models"), "checkpoint_every": "1h"},
        "server": {"listen": "127.0.0.1:0"},
        "watches": [
            {"name": "lat", "query": "agent_task_latency_p95", "every": "1m",
             "alert": {"threshold": 0.9, "hysteresis": 0.3, "resolve_after": "30m", "direction": "both"}},
            {"name": "rate", "query": "agent_task_rate", "every": "1m", "alert": {"absent_for": "10m"}},
        ],
    }
    doc.update(extra)
    return Config.model_validate(doc)


def _drive(d: Daemon, start: int, end: int, every: int = HOUR) -> None:
    for now in range(start, end + 1, every):
        for name in list(d.slots):
            d.run_cycle(name, now)


def _ids(d: Daemon) -> list[tuple[str, str, str, tuple[tuple[str, str], ...], int]]:
    return [(e.watch, e.kind, e.status, e.labels, e.starts_at) for e in d.store.events()]


def test_cycles_serve_metrics_health_readiness_and_alerts(tmp_path: Path) -> None:
    d = Daemon(_config(tmp_path))
    d.start(schedule=False)
    base = f"http://127.0.0.1:{d.server.port}"
    try:
        assert http_get(base + "/-/healthy")[0] == 200
        code, body = http_get(base + "/-/ready")
        assert code == 503 and "lat" in body and "rate" in body
        _drive(d, T0, T0 + 6 * HOUR)
        assert http_get(base + "/-/ready")[0] == 200
        code, text = http_get(base + "/metrics")
        assert code == 200
        assert 'sentinel_anomaly_score{agent="agent-00",watch="lat"}' in text
        assert 'sentinel_expected_value{agent="agent-00",bound="upper",watch="lat"}' in text
        assert 'sentinel_cycles_total{outcome="ok",watch="lat"}' in text
        assert 'sentinel_series_tracked{watch="rate"} 3.0' in text
        if shutil.which("promtool"):
            proc = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        firing = json.loads(http_get(base + "/alerts")[1])["alerts"]
        assert firing, "the touchy policy should have something firing"
        assert all(a["status"] == "firing" and a["labels"]["watch"] in ("lat", "rate") for a in firing)
        assert len(json.loads(http_get(base + "/alerts?all=1")[1])["alerts"]) >= len(firing)
        assert all(a["watch"] == "lat" for a in json.loads(http_get(base + "/alerts?watch=lat")[1])["alerts"])
    finally:
        d.stop()


def test_restart_resumes_from_the_checkpoint_and_only_fills_the_gap(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    a = Daemon(cfg)
    a.start(schedule=False, serve=False)
    _drive(a, T0, T0 + 4 * HOUR)
    n_series = a.slots["lat"].runner.detector.n_series
    a.stop()
    b = Daemon(cfg)
    b.start(schedule=False, serve=False)
    slot = b.slots["lat"]
    assert slot.restored_from == T0 + 4 * HOUR  # the grid point at `now` is included
    assert slot.runner.detector.n_series == n_series
    r = b.run_cycle("lat", T0 + 5 * HOUR)
    assert r is not None and r.batch.n_steps == 60 and not r.warmup  # the missed hour, not a new warm-up
    b.stop()


@pytest.mark.slow
def test_crash_replay_gives_the_same_episodes_as_an_uninterrupted_run(tmp_path: Path) -> None:
    ref = Daemon(_config(tmp_path / "ref"))
    ref.start(schedule=False, serve=False)
    _drive(ref, T0, T0 + 10 * HOUR)
    want = _ids(ref)
    ref_firing = {a.key for a in ref.notifier.outbox.alerts(firing_only=True)}
    ref.stop()
    assert len(want) >= 4, "the scenario needs alert episodes"

    crashy = Daemon(_config(tmp_path / "crash"))
    crashy.start(schedule=False, serve=False)
    _drive(crashy, T0, T0 + 3 * HOUR)
    for s in crashy.slots.values():
        s.save()  # the last checkpoint before the crash ...
    _drive(crashy, T0 + 4 * HOUR, T0 + 7 * HOUR)  # ... then more episodes are decided, logged and sent
    assert len(_ids(crashy)) > len([e for e in want if e[4] <= T0 + 3 * HOUR])
    # kill -9: no stop(), no final checkpoint; the next process opens the same files
    again = Daemon(_config(tmp_path / "crash"))
    again.start(schedule=False, serve=False)
    assert again.slots["lat"].restored_from == T0 + 3 * HOUR
    restores = again.registry.get_sample_value("sentinel_watch_checkpoint_restores_total",
                                                {"watch": "lat", "result": "restored"})
    assert restores == 1.0  # counted in the daemon's own registry, the one /metrics serves
    assert crashy.registry.get_sample_value("sentinel_watch_checkpoint_restores_total",
                                            {"watch": "lat", "result": "restored"}) is None  # a first start
    _drive(again, T0 + 8 * HOUR, T0 + 10 * HOUR)
    got = _ids(again)
    assert len(got) == len(set(got)), "an episode was logged twice"
    assert sorted(got) == sorted(want)
    assert {a.key for a in again.notifier.outbox.alerts(firing_only=True)} == ref_firing
    again.stop()


def test_a_failing_cycle_is_one_line_counted_and_the_rest_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = _config(tmp_path)
    bad = cfg.watches[0].model_copy(update={"name": "bad", "query": "no_such_signal"})
    d = Daemon(cfg.model_copy(update={"watches": [*cfg.watches, bad]}))
    d.start(schedule=False, serve=False)
    with caplog.at_level(logging.WARNING, logger="sentinel"):
        _drive(d, T0, T0 + HOUR)
    lines = [r for r in caplog.records if "watch bad" in r.getMessage()]
    assert len(lines) == 2 and all(r.exc_info is None and "\n" not in r.getMessage() for r in lines)
    assert "unknown simulated signal" in lines[0].getMessage()
    assert d.registry.get_sample_value("sentinel_cycle_errors_total", {"watch": "bad", "reason": "source"}) == 2
    assert d.registry.get_sample_value("sentinel_cycles_total", {"watch": "lat", "outcome": "ok"}) == 2
    assert d.ready()[0] is False and "bad" in d.ready()[1]
    d.stop()


def test_reload_keeps_learned_state_applies_policy_and_resolves_removed_watches(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    path = tmp_path / "sentinel.yaml"
    d = Daemon(cfg, config_path=path)
    d.start(schedule=False, serve=False)
    _drive(d, T0, T0 + 5 * HOUR)
    detector = d.slots["lat"].runner.detector
    doc = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
    doc["watches"] = [w for w in doc["watches"] if w["name"] == "lat"]
    doc["watches"][0]["alert"]["threshold"] = 0.999
    path.write_text(yaml.safe_dump(doc))
    assert d.reload()
    assert set(d.slots) == {"lat"}
    assert d.slots["lat"].runner.detector is detector
    assert d.slots["lat"].runner.policy.cfg.threshold == 0.999
    assert not d.notifier.outbox.alerts("rate", firing_only=True)
    path.write_text("watches: [{name: lat, query: x, every: soon}]\n")
    assert not d.reload()
    assert d.registry.get_sample_value("sentinel_config_reload_errors_total") == 1
    d.stop()


def test_forecast_watch_exports_forecasts_and_restarts_with_its_history(tmp_path: Path) -> None:
    cfg = _config(tmp_path, watches=[{
        "name": "disk", "query": "node_filesystem_avail_bytes", "every": "5m", "detector": None,
        "forecast": {"horizon": "6h", "limit": 0, "history": "6h", "warn_within": "3h", "critical_within": "1h"},
    }])
    a = Daemon(cfg)
    a.start(schedule=False, serve=False)
    _drive(a, T0, T0 + 2 * HOUR)
    assert a.registry.get_sample_value("sentinel_cycles_total", {"watch": "disk", "outcome": "ok"}) == 3
    text = a.metrics_text()[0].decode()
    got = {(s.name, s.labels.get("horizon")) for fam in text_string_to_metric_families(text) for s in fam.samples
           if s.name.startswith("sentinel_forecast_value") and s.labels["watch"] == "disk"}
    assert {("sentinel_forecast_value", h) for h in ("1h", "6h")} <= got
    history = a.slots["disk"].runner.history
    a.stop()
    b = Daemon(cfg)
    b.start(schedule=False, serve=False)
    runner = b.slots["disk"].runner
    assert runner.detector is None and runner.history is not None
    assert runner.history.n_steps == history.n_steps and runner.history.labels == history.labels
    assert b.run_cycle("disk", T0 + 3 * HOUR) is not None
    b.stop()


def test_start_logs_a_for_shorter_than_the_sample_step(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = _config(tmp_path)
    coarse = cfg.watches[0].model_copy(update={"every": 300, "alert": cfg.watches[0].alert.model_copy(
        update={"for_": 120})})
    d = Daemon(cfg.model_copy(update={"watches": [coarse, cfg.watches[1]]}))
    with caplog.at_level(logging.WARNING, logger="sentinel"):
        d.start(schedule=False, serve=False)
    d.stop()
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("config: ")]
    assert warned == [f"config: {a}" for a in d.config.advisories()]
    assert len(warned) == 1 and warned[0].startswith("config: watches[0] (lat).alert.for 2m is under the sample step")
