"""``sentinel forecast`` and ``sentinel capacity-report``: the DESIGN §5 contract and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentinel.cli import app

runner = CliRunner()


def series_csv(path: Path, values, start="2024-01-01 00:00:00", step="5min", fmt="%Y-%m-%d %H:%M:%S") -> Path:
    ts = pd.date_range(start, periods=len(values), freq=step).strftime(fmt)
    path.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in zip(ts, values, strict=True)))
    return path


def run(*args: str):
    return runner.invoke(app, ["forecast", *args])


def test_json_contract_falling_series(tmp_path: Path) -> None:
    # free space falls 1 per 5 minutes from 300: last value 300 - 287 = 13 -> 0 in 65 min
    f = series_csv(tmp_path / "disk.csv", [300.0 - i for i in range(288)])
    res = run(str(f), "--horizon", "6h", "--limit", "0", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) >= {"time_to_limit_seconds", "forecast"}
    assert out["time_to_limit_seconds"] == pytest.approx(3900, abs=300)
    rows = out["forecast"]
    assert len(rows) == 72
    assert rows[0]["timestamp"] == "2024-01-02 00:00:00"  # last input 23:55 + 5 min, same format
    assert rows[-1]["timestamp"] == "2024-01-02 05:55:00"
    for r in rows:
        assert set(r) == {"timestamp", "yhat", "lower", "upper"}
        assert r["lower"] <= r["yhat"] <= r["upper"]


def test_never_crosses_is_null_and_iso_t_format(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    f = series_csv(tmp_path / "flat.csv", (50 + rng.normal(0, 1, 300)).round(3), fmt="%Y-%m-%dT%H:%M:%SZ")
    out = json.loads(run(str(f), "--horizon", "2h", "--limit", "100", "--json").stdout)
    assert out["time_to_limit_seconds"] is None
    assert out["probability"] < 0.05
    assert out["forecast"][0]["timestamp"].endswith("Z") and "T" in out["forecast"][0]["timestamp"]


def test_already_crossed_is_zero(tmp_path: Path) -> None:
    f = series_csv(tmp_path / "mem.csv", [90.0 + i * 0.1 for i in range(100)])
    out = json.loads(run(str(f), "--horizon", "1h", "--limit", "80", "--direction", "up", "--json").stdout)
    assert out["time_to_limit_seconds"] == 0
    assert out["probability"] == 1


def test_without_limit_time_to_limit_is_null(tmp_path: Path) -> None:
    f = series_csv(tmp_path / "x.csv", list(range(50)), start="2024-01-01", step="1h")
    out = json.loads(run(str(f), "--horizon", "3h", "--json").stdout)
    assert out["time_to_limit_seconds"] is None and len(out["forecast"]) == 3


def test_unix_seconds_out_as_unix_seconds(tmp_path: Path) -> None:
    f = tmp_path / "u.csv"
    f.write_text("timestamp,value\n" + "".join(f"{1_700_000_000 + 60 * i},{i % 7}\n" for i in range(120)))
    out = json.loads(run(str(f), "--horizon", "5m", "--json").stdout)
    assert [r["timestamp"] for r in out["forecast"]] == [str(1_700_000_000 + 60 * (119 + k)) for k in range(1, 6)]


def test_plain_output_is_a_table(tmp_path: Path) -> None:
    f = series_csv(tmp_path / "disk.csv", [300.0 - i for i in range(100)])
    res = run(str(f), "--horizon", "1h", "--limit", "0")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0].startswith("method:")
    assert "crossed" in lines[1]
    assert lines[2].split() == ["timestamp", "yhat", "lower", "upper"]
    assert len(lines) == 3 + 12


def test_gaps_unsorted_and_duplicates_are_treated_with_warnings(tmp_path: Path) -> None:
    ts = pd.date_range("2024-01-01", periods=200, freq="5min").strftime("%Y-%m-%d %H:%M:%S").tolist()
    rows = [f"{t},{100 + i}" for i, t in enumerate(ts) if not 50 <= i < 70]  # a gap
    rows[10], rows[11] = rows[11], rows[10]  # unsorted
    rows.append(rows[-1])  # duplicate
    f = tmp_path / "g.csv"
    f.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    res = run(str(f), "--horizon", "1h", "--json")
    assert res.exit_code == 0, res.output
    assert "warning" in res.stderr
    out = json.loads(res.stdout)
    assert out["forecast"][0]["yhat"] == pytest.approx(300, abs=5)  # the ramp goes on


@pytest.mark.parametrize(
    ("text", "args", "needle"),
    [
        ("", [], "empty"),
        ("timestamp,value\n", [], "no data rows"),
        ("timestamp,value\n2024-01-01 00:00:00,1\n", [], "at least"),
        ("timestamp,value\n" + "".join(f"2024-01-01 00:0{i}:00,abc\n" for i in range(8)), [], "numeric"),
        ("timestamp,value\nnot-a-time,1\n", [], "timestamp"),
        ("timestamp,value\n" + "".join(f"{i},1\n" for i in range(20)), ["--horizon", "soon"], "--horizon"),
        ("timestamp,value\n" + "".join(f"{i * 60},1\n" for i in range(20)), ["--horizon", "10s"], "shorter"),
        ("timestamp,value\n" + "".join(f"{i},1\n" for i in range(20)), ["--horizon", "0"], "positive"),
        ("timestamp,value\n" + "".join(f"{i},1\n" for i in range(20)), ["--direction", "sideways"], "direction"),
        ("timestamp,value\n" + "".join(f"{i},1\n" for i in range(20)), ["--horizon", "1000d"], "at most"),
    ],
)
def test_bad_input_is_one_line_error(tmp_path: Path, text: str, args: list[str], needle: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(text)
    res = run(str(f), *args)
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and needle in errors[0], res.stderr
    assert "Traceback" not in res.output


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cells=st.lists(
        st.tuples(st.one_of(st.integers(0, 10_000).map(str), st.sampled_from(["", "x", "2024-01-01", "1e3"])),
                  st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str), st.text(max_size=4))),
        max_size=12,
    ),
    horizon=st.sampled_from(["1h", "0", "-5m", "1w", "abc", "30s"]),
)
def test_arbitrary_input_never_crashes(tmp_path: Path, cells, horizon: str) -> None:
    f = tmp_path / "h.csv"
    body = "".join(f"{t},{v.replace(',', ' ').replace(chr(10), ' ').replace(chr(13), ' ')}\n" for t, v in cells)
    f.write_text("timestamp,value\n" + body)
    res = run(str(f), "--horizon", horizon, "--limit", "5", "--json")
    assert res.exit_code in (0, 2), res.output
    if res.exit_code == 0:
        out = json.loads(res.stdout)
        assert all(np.isfinite([r["yhat"], r["lower"], r["upper"]]).all() for r in out["forecast"])
    else:
        lines = res.stderr.splitlines()
        assert lines[-1].startswith("sentinel: error:")
        assert all(ln.startswith("sentinel: warning:") for ln in lines[:-1])


def test_capacity_report_from_csv_dir(tmp_path: Path) -> None:
    t = np.arange(4 * 288)
    series_csv(tmp_path / "queue.csv", (20 + 10 * np.sin(2 * np.pi * t / 288)).round(3))
    res = runner.invoke(app, ["capacity-report", "--csv-dir", str(tmp_path), "--horizon", "1d",
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "| queue | fleet total |" in res.stdout
    assert (tmp_path / "out" / "capacity_report.png").stat().st_size > 1000


def test_capacity_report_skips_an_unusable_csv_with_one_warning_and_counts_it(tmp_path: Path) -> None:
    """Before: one bad file out of a directory failed the whole report (exit 2, no table)."""
    t = np.arange(4 * 288)
    series_csv(tmp_path / "queue.csv", (20 + 10 * np.sin(2 * np.pi * t / 288)).round(3))
    bad = {"dates.csv": "timestamp,value\n2024-01-01 00:00:00,1\nyesterday,2\n",
           "words.csv": "timestamp,value\n" + "".join(f"{1_700_000_000 + 300 * i},n/a\n" for i in range(50)),
           "empty.csv": ""}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    res = runner.invoke(app, ["capacity-report", "--csv-dir", str(tmp_path), "--horizon", "1d",
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    warnings = [w for w in res.stderr.splitlines() if ": skipped: " in w]  # besides treatments and the files written
    assert [w.split(": skipped: ")[0] for w in warnings] == [f"sentinel: warning: {tmp_path / n}" for n in sorted(bad)]
    assert "cannot read timestamp 'yesterday'" in warnings[0] and "empty file" in warnings[1]
    assert "numeric samples, got 0" in warnings[2]
    assert "| queue | fleet total |" in res.stdout
    assert res.stdout.endswith("skipped: 3 files (dates.csv, empty.csv, words.csv)\n")
    assert (tmp_path / "out" / "capacity_report.md").read_text() == res.stdout
    (tmp_path / "queue.csv").unlink()
    res = runner.invoke(app, ["capacity-report", "--csv-dir", str(tmp_path), "--out", str(tmp_path / "out2")])
    assert res.exit_code == 2 and not res.stdout
    assert res.stderr.splitlines()[-1] == (
        f"sentinel: error: {tmp_path}: no usable .csv file (3 skipped, see the warnings above)")


def test_capacity_report_says_how_it_treated_each_csv_as_forecast_does(tmp_path: Path) -> None:
    """Before: `forecast` printed the reader's treatment warnings (rows sorted, ...), `capacity-report` did not."""
    t = np.arange(4 * 288)
    series_csv(tmp_path / "queue.csv", (20 + 10 * np.sin(2 * np.pi * t / 288)).round(3))
    rows = (tmp_path / "queue.csv").read_text().splitlines()
    (tmp_path / "queue.csv").write_text("\n".join([rows[0], rows[2], rows[1], *rows[3:]]) + "\n")
    res = runner.invoke(app, ["capacity-report", "--csv-dir", str(tmp_path), "--horizon", "1d",
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    single = runner.invoke(app, ["forecast", str(tmp_path / "queue.csv"), "--horizon", "1h"])
    treatment = [w for w in single.stderr.splitlines() if w.startswith("sentinel: warning:")]
    assert treatment and set(treatment) <= set(res.stderr.splitlines())
