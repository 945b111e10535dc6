"""``sentinel simulate``: argument handling and the OpenMetrics path (serving is in test_fleet_metrics)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentinel.cli.app import app
from sentinel.cli.simulate import parse_time


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_parse_time_returns_seconds_or_one_value_error(text: str) -> None:
    try:
        assert isinstance(parse_time(text, now=1_800_000_000.0), int)
    except ValueError as err:
        assert str(err)


def test_parse_time_forms() -> None:
    assert parse_time("now-2d", now=1_000_000.0) == 1_000_000 - 172_800
    assert parse_time("2026-01-05T00:00:00+00:00") == 1_767_571_200
    with pytest.raises(ValueError, match="time zone"):
        parse_time("2026-01-05T00:00:00")


def test_openmetrics_and_incidents_from_the_cli(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, [
        "simulate", "--openmetrics", str(tmp_path / "h.om"), "--days", "0.1", "--agents", "2",
        "--start", "1767571200", "--incidents", str(tmp_path / "i.json"),
    ])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "h.om").read_text()
    assert text.endswith("# EOF\n") and 'node_filesystem_avail_bytes{agent="agent-01",mountpoint="/"}' in text
    assert "[1767571200, 1767579840)" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--serve", "--listen", "localhost"], "HOST:PORT"),
        (["--serve", "--speed", "0"], "--speed must be positive"),
        (["--openmetrics", "x.om", "--days", "0"], "--days must be positive"),
        (["--openmetrics", "x.om", "--agents", "0"], "agents must be"),
        (["--logs", "x.log", "--log-format", "xml"], "--log-format"),
        (["--openmetrics", "x.om", "--start", "yesterday"], "not a time"),
    ],
)
def test_bad_arguments_are_one_line_errors(args: list[str], message: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["simulate", *args])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
