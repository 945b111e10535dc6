"""``sentinel detect``: the CSV contract, causality through the command, and bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentinel.cli import app

runner = CliRunner()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def series_csv(path: Path, values: list[float | str], start: str = "2024-01-01 00:00:00", step: str = "5min") -> Path:
    import pandas as pd

    ts = pd.date_range(start, periods=len(values), freq=step).strftime("%Y-%m-%d %H:%M:%S")
    lines = ["timestamp,value", *(f"{t},{v}" for t, v in zip(ts, values, strict=True))]
    return write(path, "\n".join(lines) + "\n")


def read_out(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def run(*args: str):
    return runner.invoke(app, ["detect", *args])


def test_contract_columns_rows_ranges_and_an_alert(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vals = list(np.round(50 + rng.normal(0, 1, 1500), 3))
    vals[1200] = 500.0
    src = series_csv(tmp_path / "in.csv", vals)
    res = run(str(src), "--output", str(tmp_path / "out.csv"))
    assert res.exit_code == 0, res.output
    rows = read_out(tmp_path / "out.csv")
    assert list(rows[0]) == ["timestamp", "value", "score", "anomaly"]
    assert len(rows) == 1500
    scores = np.array([float(r["score"]) for r in rows])
    assert ((scores >= 0) & (scores <= 1)).all()
    assert {r["anomaly"] for r in rows} <= {"0", "1"}
    assert rows[1200]["anomaly"] == "1"
    assert rows[0]["timestamp"] == "2024-01-01 00:00:00" and rows[1200]["value"] == "500.0"


def test_command_is_causal(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vals = list(np.round(np.cumsum(rng.normal(0, 1, 400)), 4))
    run(str(series_csv(tmp_path / "a.csv", vals)), "--output", str(tmp_path / "a_out.csv"))
    run(str(series_csv(tmp_path / "b.csv", vals[:250])), "--output", str(tmp_path / "b_out.csv"))
    full = read_out(tmp_path / "a_out.csv")[:250]
    prefix = read_out(tmp_path / "b_out.csv")
    assert [r["score"] for r in full] == [r["score"] for r in prefix]


def test_missing_and_non_numeric_values_score_empty(tmp_path: Path) -> None:
    vals: list[float | str] = [1.0, 2.0, "", "abc", "nan", "inf", 3.0] * 10
    res = run(str(series_csv(tmp_path / "in.csv", vals)), "--output", str(tmp_path / "out.csv"))
    assert res.exit_code == 0
    assert "missing or non-numeric" in res.output
    rows = read_out(tmp_path / "out.csv")
    assert len(rows) == 70
    for r, v in zip(rows, vals, strict=True):
        if v in ("", "abc", "nan", "inf"):
            assert r["score"] == "" and r["anomaly"] == "0"


def test_unsorted_and_duplicate_rows_are_sorted_and_kept(tmp_path: Path) -> None:
    text = (
        "timestamp,value\n2024-01-01 00:10:00,3\n2024-01-01 00:00:00,1\n"
        "2024-01-01 00:05:00,2\n2024-01-01 00:05:00,9\n"
    )
    res = run(str(write(tmp_path / "in.csv", text)), "--output", str(tmp_path / "out.csv"))
    assert res.exit_code == 0
    assert "sorted" in res.output and "repeated" in res.output
    rows = read_out(tmp_path / "out.csv")
    assert [r["value"] for r in rows] == ["1", "2", "9", "3"]


def test_single_row_and_unix_seconds_and_irregular_steps(tmp_path: Path) -> None:
    res = run(str(write(tmp_path / "one.csv", "timestamp,value\n1700000000,5\n")), "--output", str(tmp_path / "o1.csv"))
    assert res.exit_code == 0 and len(read_out(tmp_path / "o1.csv")) == 1
    ts = np.cumsum(np.random.default_rng(2).integers(1, 500, 200)) + 1_700_000_000
    text = "timestamp,value\n" + "".join(f"{t},{i % 7}\n" for i, t in enumerate(ts))
    res = run(str(write(tmp_path / "irr.csv", text)), "--output", str(tmp_path / "o2.csv"))
    assert res.exit_code == 0 and "irregular" in res.output
    assert len(read_out(tmp_path / "o2.csv")) == 200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("1,2\n3,4\n", "header"),
        ("timestamp,value\n", "no data rows"),
        ("timestamp,value\nyesterday,4\n", "cannot read timestamp"),
        ("time,val\n2024-01-01,1\n", "header"),
        ("timestamp,value\n0,\n1e19,1\n", "out of range"),  # once an IndexError (found by hypothesis)
        ("timestamp,value\n0,1\n-9e18,2\n", "out of range"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    res = run(str(write(tmp_path / "bad.csv", text)), "--output", str(tmp_path / "out.csv"))
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sentinel: error:") and message in lines[0]
    assert "Traceback" not in res.output


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    res = run(str(tmp_path / "nope.csv"), "--output", str(tmp_path / "out.csv"))
    assert res.exit_code == 2 and "cannot read" in res.output


cell = st.one_of(
    st.text(alphabet="0123456789.-eE+naifNIF:, \"'", max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["2024-01-01 00:00:00", "2024-01-01T00:05:00Z", "1700000000", ""]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.sampled_from(["timestamp,value", "value,timestamp", "timestamp,value,extra", "a,b", ""]),
    rows=st.lists(st.tuples(cell, cell), max_size=15),
)
def test_garbage_never_crashes(tmp_path: Path, header: str, rows: list[tuple[str, str]]) -> None:
    text = header + "\n" + "\n".join(f"{a},{b}" for a, b in rows)
    src = write(tmp_path / "g.csv", text)
    res = run(str(src), "--output", str(tmp_path / "g_out.csv"))
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in (0, 2)
    if res.exit_code == 2:
        assert res.output.strip().splitlines()[-1].startswith("sentinel: error:")
    else:
        out = read_out(tmp_path / "g_out.csv")
        scores = [float(r["score"]) for r in out if r["score"]]
        assert all(0.0 <= s <= 1.0 for s in scores)


def test_several_files_score_as_if_alone(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = series_csv(tmp_path / "a.csv", list(np.round(rng.normal(0, 1, 600), 3)), start="2024-01-01 00:00:00")
    b = series_csv(tmp_path / "b.csv", list(np.round(rng.normal(5, 2, 400), 3)), start="2024-03-05 07:35:00")
    c = series_csv(tmp_path / "c.csv", list(np.round(rng.normal(0, 1, 300), 3)), step="1h")
    res = run(str(a), str(b), str(c), "--output-dir", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    for src in (a, b, c):
        alone = tmp_path / f"alone_{src.name}"
        assert run(str(src), "--output", str(alone)).exit_code == 0
        assert (tmp_path / "out" / src.name).read_text() == alone.read_text()


def test_output_options_are_checked(tmp_path: Path) -> None:
    src = series_csv(tmp_path / "a.csv", [1.0, 2.0, 3.0])
    assert "exactly one of" in run(str(src)).output
    assert "--output-dir" in run(str(src), str(src), "--output", str(tmp_path / "o.csv")).output
