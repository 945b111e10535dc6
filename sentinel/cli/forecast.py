"""``sentinel forecast FILE.csv`` and ``sentinel capacity-report``.

``forecast`` reads a ``timestamp,value`` CSV with the same treatments as
``detect`` (see :mod:`sentinel.detect.csvio`: unsorted rows are sorted, the
last of repeated timestamps wins, non-numeric values are missing, gaps stay
missing; each treatment is one warning line on stderr), forecasts
``--horizon`` ahead and prints a table, or with ``--json`` the DESIGN §5
contract::

    {"time_to_limit_seconds": number|null, "probability": p|null, "method": "...",
     "level": 0.95, "forecast": [{"timestamp", "yhat", "lower", "upper"}, ...]}

Timestamps are written in the input's style (Unix seconds, or ISO dates with
the same separator and zone suffix); the time to limit counts from the last
input timestamp (null: not within the horizon, 0: already beyond).

>>> format_like("2013-12-02 21:15:00", np.array([1386019200]))
['2013-12-02 21:20:00']
>>> format_like("2024-01-01T00:00:00Z", np.array([0])), format_like("1700000000", np.array([5]))
(['1970-01-01T00:00:00Z'], ['5'])
>>> format_like("2024-01-01T00:00:00+05:30", np.array([0]))
['1970-01-01T05:30:00+05:30']
"""

from __future__ import annotations

import json
import re
from datetime import timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import typer

from sentinel.cli.app import app, fail

if TYPE_CHECKING:
    from sentinel.detect.csvio import SeriesCSV

_OFFSET = re.compile(r"([+-]\d{2}:?\d{2})$")


def format_like(sample: str, ts: np.ndarray) -> list[str]:
    """Render Unix seconds ``ts`` in the style of the input timestamp ``sample``."""
    s = sample.strip()
    try:
        float(s)
        return [str(int(t)) for t in ts]
    except ValueError:
        pass
    sep = "T" if "T" in s else " "
    when = pd.to_datetime(ts, unit="s", utc=True)
    suffix = ""
    if s.endswith("Z"):
        suffix = "Z"
    elif m := _OFFSET.search(s[10:]):
        suffix = m.group(1)
        sign = 1 if suffix[0] == "+" else -1
        when = when.tz_convert(timezone(sign * timedelta(hours=int(suffix[1:3]), minutes=int(suffix[-2:]))))
    if len(s) == 10 and (ts % 86400 == 0).all():
        return list(when.strftime("%Y-%m-%d"))
    return [f"{d}{suffix}" for d in when.strftime(f"%Y-%m-%d{sep}%H:%M:%S")]


def horizon_problem(horizon: str, seconds: int, step: int) -> str | None:
    """Why a ``--horizon`` of more than ``MAX_HORIZON_STEPS`` steps is refused before any work (None: it is not).

    1000w at 5m needed 4.9 GB, then a MemoryError traceback.
    """
    from sentinel.config.watches import MAX_HORIZON_STEPS

    if seconds // step > MAX_HORIZON_STEPS:
        return f"--horizon {horizon} is {seconds // step:,} steps of {step}s; at most {MAX_HORIZON_STEPS:,} are allowed"
    return None


def check_horizon(horizon: str, seconds: int, step: int) -> None:
    """Exit with :func:`horizon_problem`'s one-line error, if any."""
    if problem := horizon_problem(horizon, seconds, step):
        fail(problem)


def skipped_line(skipped: list[Path]) -> str:
    r"""The report's note of the CSV files left out (each also had a warning line on stderr).

    >>> skipped_line([Path("d/a.csv")]), skipped_line([Path("a.csv"), Path("b.csv")])
    ('skipped: 1 file (a.csv)\n', 'skipped: 2 files (a.csv, b.csv)\n')
    """
    n = len(skipped)
    return f"skipped: {n} file{'s' * (n != 1)} ({', '.join(p.name for p in skipped)})\n"


def read_csv_warning(path: Path) -> SeriesCSV:
    """``read_series_csv``, each treatment of the file (rows sorted, duplicates, ...) one warning line on stderr."""
    from sentinel.detect.csvio import read_series_csv

    data = read_series_csv(path)
    for w in data.warnings:
        typer.echo(f"sentinel: warning: {path}: {w}", err=True)
    return data


@app.command("forecast")
def forecast_cmd(
    file: Path = typer.Argument(..., help="CSV with columns timestamp,value"),
    horizon: str = typer.Option("24h", help="how far ahead (e.g. 6h, 24h, 7d)"),
    limit: float = typer.Option(None, help="capacity limit: report the time until it is crossed"),
    direction: str = typer.Option("auto", help="up, down or auto (from where the limit lies)"),
    level: float = typer.Option(0.95, help="central coverage of the lower/upper interval"),
    method: str = typer.Option("auto", help="auto (chosen by rolling-origin validation), linear, ets, ..."),
    as_json: bool = typer.Option(False, "--json", help="print the JSON contract instead of a table"),
) -> None:
    """Forecast a timestamp,value CSV and the time until a limit is crossed."""
    from sentinel.config import format_duration, parse_duration
    from sentinel.detect.csvio import CSVError
    from sentinel.forecast import Forecaster

    try:
        seconds = parse_duration(horizon)
    except ValueError as exc:
        fail(f"--horizon: {exc}")
    if seconds <= 0:
        fail("--horizon must be positive")
    if direction not in ("up", "down", "auto"):
        fail(f"--direction must be up, down or auto, got {direction!r}")
    if not 0 < level < 1:
        fail(f"--level must be between 0 and 1, got {level}")
    if limit is not None and not np.isfinite(limit):
        fail("--limit must be a finite number")
    try:
        data = read_csv_warning(file)
    except CSVError as exc:
        fail(str(exc))
    check_horizon(horizon, seconds, data.step)
    try:
        f = Forecaster(method, level=level)
        fc = f.forecast(data.forecast_grid, data.grid_values, seconds)
    except ValueError as exc:
        fail(f"{file}: {exc}")
    ttl = f.time_to_limit(limit, direction) if limit is not None else None  # type: ignore[arg-type]
    stamps = format_like(data.raw_timestamps[-1], fc.timestamps)
    rows = list(zip(stamps, fc.yhat.tolist(), fc.lower.tolist(), fc.upper.tolist(), strict=True))
    if as_json:
        out = {
            "time_to_limit_seconds": None if ttl is None else ttl.seconds,
            "probability": None if ttl is None else ttl.probability,
            "method": fc.method,
            "level": level,
            "forecast": [{"timestamp": t, "yhat": y, "lower": lo, "upper": hi} for t, y, lo, hi in rows],
        }
        typer.echo(json.dumps(out))
        return
    typer.echo(f"method: {fc.method}   interval: {level:.0%}   step: {format_duration(data.step)}")
    if ttl is not None:
        when = "not within the horizon" if ttl.seconds is None else f"in {format_duration(ttl.seconds)}"
        typer.echo(f"limit {limit:g} ({ttl.direction}): crossed {when}, "
                   f"P(cross within {format_duration(seconds)}) = {ttl.probability:.2f}")
    width = max(len(s) for s in stamps)
    typer.echo(f"{'timestamp':<{width}}  {'yhat':>12}  {'lower':>12}  {'upper':>12}")
    for t, y, lo, hi in rows:
        typer.echo(f"{t:<{width}}  {y:>12.6g}  {lo:>12.6g}  {hi:>12.6g}")


@app.command("capacity-report")
def capacity_report_cmd(
    csv_dir: Path = typer.Option(None, "--csv-dir", help="forecast each timestamp,value CSV here, not the fleet"),
    agents: int = typer.Option(20, help="simulated fleet: agents"),
    seed: int = typer.Option(7, help="simulated fleet: seed"),
    days: int = typer.Option(21, min=3, help="simulated fleet: days of history (21: weekly season usable)"),
    step: str = typer.Option("5m", help="simulated fleet: sample step"),
    horizon: str = typer.Option("7d", help="how far ahead to plan"),
    headroom: str = typer.Option("20%", help="margin on top of the upper bound of the peak"),
    per_agent: bool = typer.Option(False, "--per-agent", help="also forecast every series, not only fleet totals"),
    out: Path = typer.Option(Path("capacity"), "--out", help="directory for capacity_report.md and .png"),
) -> None:
    """Capacity plan: expected peak over the next week with headroom (queue depth, tokens per hour)."""
    from sentinel.config import parse_duration
    from sentinel.detect.csvio import CSVError
    from sentinel.forecast.report import capacity_table, markdown_table, plot
    from sentinel.series import Batch

    try:
        seconds, step_s = parse_duration(horizon), parse_duration(step)
        room = float(headroom.rstrip("%")) / (100 if headroom.endswith("%") else 1)
    except ValueError as exc:
        fail(f"bad option: {exc}")
    if seconds <= 0 or step_s <= 0 or not 0 <= room < np.inf:  # NaN headroom printed "provision nan"
        fail("--horizon and --step must be positive and --headroom a finite number >= 0")
    scale: dict[str, float] = {}
    paths: dict[str, Path] = {}  # --csv-dir: signal -> its file; an unusable file is skipped, not fatal
    skipped: list[Path] = []

    def skip(p: Path, reason: str) -> None:
        typer.echo(f"sentinel: warning: {p}: skipped: {reason.removeprefix(f'{p}: ')}", err=True)
        skipped.append(p)

    batches = {}
    if csv_dir is not None:
        files = sorted(csv_dir.glob("*.csv"))
        if not files:
            fail(f"{csv_dir}: no .csv files")
        for p in files:
            try:
                d = read_csv_warning(p)
            except CSVError as exc:
                skip(p, str(exc))
                continue
            if problem := horizon_problem(horizon, seconds, d.step):
                skip(p, problem)
                continue
            paths[p.stem] = p
            batches[p.stem] = Batch.from_rows([{}], d.forecast_grid, d.grid_values[None, :], step=d.step)
    else:
        from sentinel.fleet import Fleet
        from sentinel.sources.base import MAX_FETCH_STEPS

        if days * 86400 // step_s > MAX_FETCH_STEPS:  # the fleet's history is built in memory
            fail(f"--days {days} is {days * 86400 // step_s:,} steps of {step_s}s; at most {MAX_FETCH_STEPS:,}")
        try:
            fleet = Fleet(agents=agents, seed=seed, step=step_s)
        except ValueError as exc:
            fail(f"bad option: {exc}")
        raw = fleet.signals(fleet.start, fleet.start + days * 86400,
                            names=["agent_queue_depth", "gen_ai_tokens_per_second"])
        batches = {"queue_depth": raw["agent_queue_depth"], "tokens_per_hour": raw["gen_ai_tokens_per_second"]}
        scale = {"tokens_per_hour": 3600.0}
        check_horizon(horizon, seconds, min(b.step for b in batches.values()))
    rows = []
    for signal, batch in batches.items():
        try:
            rows += capacity_table({signal: batch}, horizon=seconds, headroom=room, per_series=per_agent, scale=scale)
        except ValueError as exc:
            if signal not in paths:
                fail(str(exc))
            skip(paths[signal], str(exc))
    if not rows:
        fail(f"{csv_dir}: no usable .csv file ({len(skipped)} skipped, see the warnings above)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        table = markdown_table(rows) + (skipped_line(skipped) if skipped else "")
        (out / "capacity_report.md").write_text(table)
        png = plot(rows, out / "capacity_report.png")
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror or exc})")
    typer.echo(table, nl=False)
    typer.echo(f"-> {out / 'capacity_report.md'}, {png}", err=True)
