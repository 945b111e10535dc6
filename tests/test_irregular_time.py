"""Irregular timestamps: one rule (sentinel.timegrid.place) for CSV files, the forecast CLI and library calls."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.detect.csvio import read_series_csv
from sentinel.forecast import Forecaster, to_grid
from sentinel.timegrid import place

ROOT = Path(__file__).resolve().parent.parent


def _jittered(n: int = 400, step: int = 300, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1_700_000_000 + np.arange(n) * step + rng.integers(-20, 21, n)


def test_one_odd_spacing_does_not_set_a_one_second_grid() -> None:
    t = np.r_[0, 1, np.arange(1, 500) * 3600]  # one sample a second after the first, then hourly
    grid, _, step = to_grid(t, np.arange(len(t), dtype=float))
    assert step == 3600 and len(grid) == len(t)  # was a 1 s grid of 1.8 million steps


def test_irregular_forecast_starts_after_the_real_last_sample() -> None:
    t = _jittered()
    y = 100.0 + np.arange(len(t)) * 0.5
    fc = Forecaster("linear").forecast(t, y, 3600)
    assert fc.timestamps[0] == t[-1] + 300 and len(fc.yhat) == 12


def test_csv_and_library_place_irregular_input_alike(tmp_path: Path) -> None:
    t = _jittered()
    f = tmp_path / "j.csv"
    f.write_text("timestamp,value\n" + "".join(f"{s},{i}\n" for i, s in enumerate(t)))
    data = read_series_csv(f)
    grid, y, step = to_grid(t, np.arange(len(t), dtype=float))
    p = place(t)
    assert data.step == step == p.step and p.irregular and any("irregular" in w for w in data.warnings)
    assert data.forecast_grid.tolist() == grid.tolist() and grid[-1] == t[-1]
    assert np.array_equal(data.grid_values, y, equal_nan=True)


def test_forecast_cli_counts_from_the_last_input_timestamp(tmp_path: Path) -> None:
    t = _jittered()
    f = tmp_path / "j.csv"
    f.write_text("timestamp,value\n" + "".join(f"{s},{100 + i * 0.5}\n" for i, s in enumerate(t)))
    res = CliRunner().invoke(app, ["forecast", str(f), "--horizon", "1h", "--method", "linear", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert int(out["forecast"][0]["timestamp"]) == t[-1] + 300  # was ~t[0] + 400 * 300: before the last sample


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def test_library_forecast_of_sparse_timestamps_is_a_one_line_error() -> None:
    code = ("import numpy as np\nfrom sentinel.forecast import Forecaster\n"
            "t = np.r_[np.arange(10) * 60, 6 * 10**9]\n"
            "try:\n    Forecaster().forecast(t, np.ones(len(t)), 3600)\nexcept ValueError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          preexec_fn=_limit_memory, cwd=ROOT)
    assert proc.returncode == 0 and "gaps too large for a 60s step" in proc.stdout, proc.stderr[-500:]


def test_capacity_report_names_the_file_with_an_unreadable_timestamp(tmp_path: Path) -> None:
    """Before: ``row 2: cannot read timestamp '1700000000'``: neither the file (out of a directory of CSVs)
    nor the row at fault."""
    (tmp_path / "a.csv").write_text("timestamp,value\n" + "".join(f"{i * 60},{i}\n" for i in range(50)))
    (tmp_path / "b.csv").write_text("timestamp,value\n1700000000,1\nyesterday,2\n")
    res = CliRunner().invoke(app, ["capacity-report", "--csv-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert f"{tmp_path / 'b.csv'}: skipped: row 3: cannot read timestamp 'yesterday'" in res.stderr


def test_mixed_seconds_and_dates_say_so(tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text("timestamp,value\n1700000000,1\n2023-11-14 22:14:20,2\n")
    res = CliRunner().invoke(app, ["forecast", str(f)])
    assert res.exit_code != 0 and "row 2: timestamp '1700000000' is Unix seconds but row 3 has a date" in res.output
