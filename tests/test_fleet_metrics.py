"""The fleet's Prometheus view: PromQL over the raw metrics recovers the signals; promtool and scrapers accept it."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from sentinel.fleet import Fleet
from sentinel.fleet.exposition import FleetCollector, serve
from sentinel.fleet.metrics import families
from sentinel.fleet.openmetrics import write_openmetrics

FLEET = Fleet(agents=4, seed=21)
WINDOW = 5  # steps: rate(...[5m]) at a 1-minute step


def _family(fams: list, name: str):
    return next(f for f in fams if f.name == name)


def _rate(inc: np.ndarray) -> np.ndarray:
    """rate(x[5m]) from per-step increments of an integer counter, as Prometheus sees the floors."""
    cum = np.floor(np.cumsum(inc, axis=-1))
    return (cum[..., WINDOW:] - cum[..., :-WINDOW]) / (WINDOW * 60)


def _histogram_quantile(q: float, buckets: tuple[float, ...], rates: np.ndarray) -> np.ndarray:
    """PromQL histogram_quantile over cumulative bucket rates shaped (B + 1, T)."""
    upper = np.array([*buckets, np.inf])
    total = rates[-1]
    rank = q * total
    b = np.argmax(rates >= rank[None, :], axis=0)
    lower_bound = np.where(b > 0, upper[np.maximum(b - 1, 0)], 0.0)
    upper_bound = np.where(b < len(buckets), upper[np.minimum(b, len(buckets) - 1)], upper[len(buckets) - 1])
    below = np.where(b > 0, rates[np.maximum(b - 1, 0), np.arange(rates.shape[1])], 0.0)
    inside = rates[b, np.arange(rates.shape[1])] - below
    with np.errstate(divide="ignore", invalid="ignore"):
        return lower_bound + (upper_bound - lower_bound) * (rank - below) / inside


@pytest.fixture(scope="module")
def day() -> tuple[dict, list]:
    s = FLEET.start + 8 * 3600
    sig = FLEET.signals(s, s + 8 * 3600)
    return sig, families(FLEET, sig, 60)


def _window_mean(x: np.ndarray) -> np.ndarray:
    c = np.cumsum(x, axis=-1)
    return (c[..., WINDOW:] - c[..., :-WINDOW]) / WINDOW


def test_histogram_quantile_of_task_durations_tracks_the_p95_signal(day: tuple) -> None:
    sig, fams = day
    fam = _family(fams, "agent_task_duration_seconds")
    want = _window_mean(sig["agent_task_latency_p95"].values)
    for a in range(4):
        got = _histogram_quantile(0.95, fam.buckets, _rate(fam.values[a]))
        rel = np.abs(got / want[a] - 1.0)
        assert np.nanmedian(rel) < 0.12, (a, np.nanmedian(rel))


def test_llm_latency_histogram_tracks_its_p95(day: tuple) -> None:
    sig, fams = day
    fam = _family(fams, "gen_ai_client_operation_duration_seconds")
    want = _window_mean(sig["gen_ai_latency_p95"].values)
    for a in range(4):
        got = _histogram_quantile(0.95, fam.buckets, _rate(fam.values[a]))
        assert np.nanmedian(np.abs(got / want[a] - 1.0)) < 0.2


def test_counters_recover_rates_ratios_and_tokens(day: tuple) -> None:
    sig, fams = day
    tasks = _family(fams, "agent_tasks").values.reshape(4, 3, -1)  # ok, error, timeout
    total = _rate(tasks.sum(axis=1))
    want_rate = _window_mean(sig["agent_task_rate"].values)
    assert np.median(np.abs(total / want_rate - 1.0)) < 0.05
    failed = _rate(tasks[:, 1] + tasks[:, 2])
    want_err = _window_mean(sig["agent_task_error_ratio"].values)
    busy = want_rate > 0.3
    assert np.median(np.abs(failed[busy] / total[busy] - want_err[busy])) < 0.01
    tokens = _family(fams, "gen_ai_client_token_usage")
    assert tokens.sums is not None
    got = np.cumsum(tokens.sums, axis=-1)
    got = (got[:, WINDOW:] - got[:, :-WINDOW]) / 300
    assert np.allclose(got, _window_mean(sig["gen_ai_tokens_per_second"].values), rtol=1e-9)
    calls = _family(fams, "agent_tool_calls").values.reshape(4, 3, 2, -1)
    ratio = _rate(calls[:, 0, 1]) / _rate(calls[:, 0].sum(axis=1))  # search
    want_tool = _window_mean(sig["agent_tool_error_ratio"].values.reshape(4, 3, -1)[:, 0])
    assert np.median(np.abs(ratio - want_tool)) < 0.01


def test_histogram_buckets_are_cumulative_and_counters_monotone(day: tuple) -> None:
    _, fams = day
    for fam in fams:
        if fam.kind == "histogram":
            cum = np.floor(np.cumsum(fam.values, axis=-1))
            assert (np.diff(cum, axis=1) >= 0).all(), fam.name  # non-decreasing in le
            assert (np.diff(cum, axis=2) >= 0).all(), fam.name  # non-decreasing in time
        elif fam.kind == "counter":
            assert (fam.values >= 0).all(), fam.name


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_openmetrics_history(tmp_path: Path) -> None:
    f = FLEET.with_incidents([FLEET.make_incident("silent_agent", "agent-01", FLEET.start + 1800, 1200)])
    path = tmp_path / "history.om"
    n = write_openmetrics(f, path, f.start, f.start + 2 * 3600)
    text = path.read_text()
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    assert "# TYPE agent_tasks counter\n" in text and 'agent_tasks_total{agent="agent-00",status="ok"}' in text
    assert "# TYPE agent_task_duration_seconds histogram\n" in text
    silent = [ln for ln in text.splitlines() if 'agent="agent-01"' in ln and ln.startswith("agent_queue_depth")]
    assert len(silent) == 120 - 20  # no samples while the agent is silent
    out = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(path), str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    listing = subprocess.run(["promtool", "tsdb", "list", str(tmp_path / "data")], capture_output=True, text=True)
    samples = sum(int(line.split()[4]) for line in listing.stdout.splitlines()[1:] if line.strip())
    assert samples == n


def test_openmetrics_rejects_an_empty_range(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="start < end"):
        write_openmetrics(FLEET, tmp_path / "x.om", FLEET.start, FLEET.start)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _parse(text: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_served_endpoint_scrapes_and_parses() -> None:
    port = _free_port()
    server, collector, _ = serve(FLEET, "127.0.0.1", port, speed=3600.0, sim_start=FLEET.start + 9 * 3600)
    try:
        first = _parse(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
        time.sleep(0.3)
        second = _parse(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
    finally:
        server.shutdown()
    key = (("agent", "agent-02"), ("status", "ok"))
    assert second["agent_tasks_total"][key] > first["agent_tasks_total"][key] > 0
    assert len(second["agent_task_duration_seconds_bucket"]) == 4 * 16
    assert set(second) >= {
        "agent_queue_depth", "agent_tool_calls_total", "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_client_token_usage_sum", "process_resident_memory_bytes", "node_filesystem_avail_bytes",
        "sentinel_simulator_collect_duration_seconds_count",
    }
    assert second["node_filesystem_avail_bytes"][(("agent", "agent-00"), ("mountpoint", "/"))] > 0
    assert collector.now() > FLEET.start + 9 * 3600 + 600


def test_collector_hides_a_silent_agent_and_keeps_counters_monotone() -> None:
    inc = FLEET.make_incident("silent_agent", "agent-03", FLEET.start + 3600, 1800)
    clock = [0.0]
    reg = CollectorRegistry()
    col = FleetCollector(FLEET.with_incidents([inc]), speed=60.0, sim_start=FLEET.start + 3000,
                         clock=lambda: clock[0], registry=reg)
    reg.register(col)
    seen = []
    for wall in (0.0, 5.0, 20.0, 50.0):  # simulated 3000, 3300, 4200, 6000 s after start
        clock[0] = wall
        seen.append(_parse(generate_latest(reg).decode()))
    agents = [{dict(k)["agent"] for k in s["agent_queue_depth"]} for s in seen]
    assert "agent-03" in agents[0] and "agent-03" not in agents[2] and "agent-03" in agents[3]
    key = (("agent", "agent-00"), ("status", "ok"))
    totals = [s["agent_tasks_total"][key] for s in seen]
    assert totals == sorted(totals) and totals[-1] > totals[0]


@pytest.mark.slow
def test_cli_serve_runs_until_sigterm() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from sentinel.cli import main; main()",
         "simulate", "--serve", "--listen", f"127.0.0.1:{port}", "--agents", "3", "--speed", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        text, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert 'agent_tasks_total{agent="agent-02",status="ok"}' in text
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped at simulated time" in err
