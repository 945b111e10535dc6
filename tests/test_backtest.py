"""``sentinel backtest``: end to end on a CSV with NAB labels, and one-line errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import sentinel.cli.backtest  # noqa: F401  (registers the command)
from sentinel.cli.app import app
from sentinel.cli.backtest import parse_time

STEP = 300
N = 2016  # one week of 5-minute data


@pytest.fixture
def csv_case(tmp_path: Path) -> tuple[Path, Path]:
    """A daily cycle with a level shift inside a labelled window, in NAB's file formats."""
    rng = np.random.default_rng(4)
    ts = 1_388_534_400 + np.arange(N) * STEP  # 2014-01-01
    x = 50 + 10 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 1, N)
    x[1500:1560] += 25
    stamps = [np.datetime_as_string(np.datetime64(int(t), "s")).replace("T", " ") for t in ts]
    f = tmp_path / "shift.csv"
    f.write_text("timestamp,value\n" + "\n".join(f"{t},{v:.4f}" for t, v in zip(stamps, x, strict=True)) + "\n")
    labels = tmp_path / "windows.json"
    labels.write_text(json.dumps({"someCategory/shift.csv": [[stamps[1480] + ".000000", stamps[1600] + ".000000"]]}))
    return f, labels


def test_csv_end_to_end(csv_case: tuple[Path, Path], tmp_path: Path) -> None:
    f, labels = csv_case
    png, rep = tmp_path / "bt.png", tmp_path / "bt.json"
    res = CliRunner().invoke(app, ["backtest", "--csv", str(f), "--labels", str(labels), "--plot", str(png),
                                   "--json", str(rep), "--quiet"])
    assert res.exit_code == 0, res.output
    report = json.loads(rep.read_text())
    assert report["series"] == 1 and report["steps"] == N
    firing = [e for e in report["events"] if e["status"] == "firing"]
    assert any(1480 <= (e["at"] - report["from"]) // STEP <= 1600 for e in firing)
    nab = report["nab"]["alerts"]
    assert set(nab) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert nab["standard"] > 50  # the shift is caught early in its window
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert "NAB-style" in res.output and "alert(s)" in res.output


def test_csv_with_a_watch_from_config(csv_case: tuple[Path, Path], tmp_path: Path) -> None:
    f, _ = csv_case
    cfg = tmp_path / "sentinel.yaml"
    cfg.write_text("prometheus: {}\n"
                   "watches:\n  - {name: cpu, query: up, every: 5m, alert: {threshold: 0.9999, for: 30m}}\n")
    res = CliRunner().invoke(app, ["backtest", "--config", str(cfg), "--csv", str(f), "--plot", "",
                                   "--json", str(tmp_path / "r.json"), "-q", "--detector", "ensemble"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.json").read_text())["watch"] == "cpu"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--csv", "/nonexistent.csv"], "cannot read"),
        (["--labels", "x.json"], "--labels goes with --csv"),
        (["--csv", "{csv}", "--labels", "{other_labels}"], "no windows for shift.csv"),
        (["--csv", "{csv}", "--from", "yesterday-ish"], "is not a time"),
        (["--csv", "{csv}", "--from", "2014-02-01", "--to", "2014-01-01"], "empty"),
        (["--config", "{cfg}", "--watch", "nope"], "no watch named 'nope'"),
        (["--csv", "{csv}", "--json", "/nonexistent-dir/r.json"], "cannot write"),
        (["--csv", "{csv}", "--detector", "prophet"], "unknown detector kind 'prophet'"),
        (["--csv", "{csv}", "--series", "agent=zzz", "--plot", "{tmp}/x.png"], "matches none"),
    ],
)
def test_bad_input_is_one_line(csv_case: tuple[Path, Path], tmp_path: Path, args: list[str], message: str) -> None:
    f, _ = csv_case
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"a/b.csv": []}))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("simulator: {agents: 2}\nwatches:\n  - {name: lat, query: agent_task_latency_p95}\n")
    args = [a.format(csv=f, other_labels=other, cfg=cfg, tmp=tmp_path) for a in args]
    res = CliRunner().invoke(app, ["backtest", "--plot", "", *args, "-q"])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_simulator_backtest_reports_incidents(tmp_path: Path) -> None:
    from sentinel.fleet import Fleet

    start = Fleet().start + 86400
    rep = tmp_path / "sim.json"
    res = CliRunner().invoke(app, ["backtest", "--watch", "agent_task_latency_p95", "--from", str(start),
                                   "--to", str(start + 2 * 86400), "--warmup", "12h", "--plot", str(tmp_path / "s.png"),
                                   "--json", str(rep), "-q"])
    assert res.exit_code == 0, res.output
    report = json.loads(rep.read_text())
    assert report["series"] == 20 and "incidents" in report


def test_parse_time() -> None:
    assert parse_time("2014-01-01 00:00:00") == 1_388_534_400
    assert parse_time("2014-01-01T01:00:00+01:00") == 1_388_534_400
    assert parse_time("now-1d", now=200_000.0) == 200_000 - 86400
    with pytest.raises(ValueError, match="not a time"):
        parse_time("soon")
