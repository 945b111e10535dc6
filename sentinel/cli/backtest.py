"""``sentinel backtest``: replay a time range through a watch's detector and alert policy.

Where the data comes from:

- ``--csv FILE`` (``timestamp,value``, as for ``sentinel detect``), with
  ``--labels`` a NAB windows JSON (``{"file.csv": [[start, end], ...]}`` or a
  plain ``[[start, end], ...]``);
- ``--config sentinel.yaml --watch NAME``: the watch's own source
  (Prometheus, or the simulated fleet when the config only has ``simulator:``);
- neither: the embedded simulated fleet and its default watches, whose
  ground-truth incidents serve as labels.

The replay is the daemon's own code path: a
:class:`~sentinel.watch.WatchRunner` advanced in chunks (so the detector is
causal and the policy's ``for``/hysteresis behave as in production), after
an optional ``--warmup`` whose alerts are not reported.  The report lists the
alerts, scores them against the labels (NAB-style, plus incident
detection and false alarms per series-week on the simulator) and draws a PNG:
value, expected band, score, alerts shaded, truth windows.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer

from sentinel.cli.app import app, fail
from sentinel.cli.backtest_report import build_report, pick_series, plot_replay, print_report, truth_from_windows
from sentinel.config import Config, WatchConfig, parse_duration
from sentinel.series import Batch
from sentinel.series_index import SeriesIndex
from sentinel.sources.base import MAX_FETCH_STEPS

if TYPE_CHECKING:  # imports stay lazy so `sentinel --help` is fast
    from sentinel.alerting.event import AlertEvent
    from sentinel.detect.scores import Scores


def parse_time(text: str, now: float | None = None) -> int:
    """Unix seconds from ``1700000000``, an ISO date/time (UTC unless it says), ``now`` or ``now-2d``.

    >>> parse_time("1700000000"), parse_time("2023-11-14T22:13:20Z"), parse_time("now-1h", now=7200.0)
    (1700000000, 1700000000, 3600)
    """
    s = text.strip()
    now = time.time() if now is None else now
    if s == "now":
        return int(now)
    if s.startswith("now-"):
        return int(now) - parse_duration(s[4:])
    if s.lstrip("-").isdigit():
        return int(s)
    import pandas as pd

    try:
        ts = pd.Timestamp(s)
    except (ValueError, TypeError):
        raise ValueError(f"{text!r} is not a time: use Unix seconds, ISO 8601 (2024-05-01T12:00Z), now or now-2d")\
            from None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.timestamp())


class BatchSource:
    """A :class:`~sentinel.sources.base.Source` over a batch held in memory (the CSV case)."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch:
        b = self.batch
        step = b.step
        first = -(-start // step) * step
        ts = np.arange(first, max(first, end), step, dtype=np.int64)
        vals = np.full((b.n_series, len(ts)), np.nan)
        pos = (ts - b.timestamps[0]) // step
        ok = (pos >= 0) & (pos < b.n_steps)
        vals[:, ok] = b.values[:, pos[ok]]
        return Batch(ts, vals, b.labels, step)

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class Replay:
    """Everything a backtest saw: values, scores and the alerts from ``start`` on."""

    watch: WatchConfig
    batch: Batch
    scores: Scores
    events: list[AlertEvent]
    seconds: float


def replay(cfg: WatchConfig, source: Any, start: int, end: int, warmup: int = 0, chunk: int = 1440,
           progress: bool = True) -> Replay:
    """Run ``[start - warmup, end)`` through a fresh WatchRunner in chunks of ``chunk`` steps."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from sentinel.detect.scores import Scores
    from sentinel.watch import WatchRunner

    step = cfg.sample_step
    t0 = (start - warmup) // step * step
    stop = -(-end // step) * step
    if stop <= t0:
        raise ValueError("the time range is empty: --to must be after --from")
    runner = WatchRunner(cfg, source, store=None, warmup=stop - t0 + step)
    runner.cursor = t0 - step
    index = SeriesIndex()
    parts: list[tuple[np.ndarray, Batch, Scores]] = []
    events: list[AlertEvent] = []
    clock = time.perf_counter()
    edges = [*range(t0, stop, chunk * step), stop]
    with Progress(TextColumn(f"backtest {cfg.name}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True, disable=not progress) as bar:
        task = bar.add_task("replay", total=len(edges) - 1)
        for edge in edges[1:]:
            res = runner.cycle(now=edge - step + cfg.delay)
            bar.advance(task)
            if res is None or not res.batch.n_steps:
                continue
            parts.append((index.rows(res.batch.labels), res.batch, res.scores))
            events.extend(e for e in res.events if e.starts_at >= start)
    n, ts = len(index), np.arange(t0, stop, step, dtype=np.int64)
    keep = ts >= start
    arrays = {k: np.full((n, len(ts)), np.nan) for k in ("values", "score", "expected", "lower", "upper")}
    for rows, b, s in parts:
        cols = (b.timestamps - t0) // step
        for key, src in (("values", b.values), ("score", s.score), ("expected", s.expected),
                         ("lower", s.lower), ("upper", s.upper)):
            arrays[key][np.ix_(rows, cols)] = src
    cut = {k: v[:, keep] for k, v in arrays.items()}
    batch = Batch(ts[keep], cut["values"], tuple(index.keys), step)
    scores = Scores(cut["score"], cut["expected"], cut["lower"], cut["upper"])
    return Replay(cfg, batch, scores, events, time.perf_counter() - clock)


# -- inputs -------------------------------------------------------------------------------


def _csv_inputs(path: Path, labels: Path | None, cfg: WatchConfig | None) -> tuple[WatchConfig, BatchSource,
                                                                                   Batch, np.ndarray | None]:
    from sentinel.detect.csvio import read_series_csv

    data = read_series_csv(path)
    for w in data.warnings:
        typer.echo(f"sentinel: warning: {path}: {w}", err=True)
    offset = int(data.grid[0] % data.step)  # the runner works on the absolute grid
    batch = Batch.from_rows([{"series": path.stem}], data.grid - offset, data.grid_values[None, :], step=data.step)
    watch = (cfg or WatchConfig(name="csv", query=path.stem)).model_copy(update={"every": data.step, "step": None})
    truth = None
    if labels is not None:
        windows = _read_windows(labels, path)
        truth = truth_from_windows(batch.timestamps + offset, windows)[None, :]
    return watch, BatchSource(batch), batch, truth


def _read_windows(path: Path, csv_path: Path) -> list[tuple[int, int]]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read labels ({exc})") from None
    if isinstance(doc, dict):
        hits = [v for k, v in doc.items() if Path(k).name == csv_path.name]
        if not hits:
            raise ValueError(f"{path}: no windows for {csv_path.name} (keys look like {next(iter(doc), '-')!r})")
        doc = hits[0]
    if not isinstance(doc, list) or not all(isinstance(w, list) and len(w) == 2 for w in doc):
        raise ValueError(f"{path}: expected a list of [start, end] windows")
    return [(parse_time(str(a)), parse_time(str(b))) for a, b in doc]


def _pick_watch(config: Config, name: str | None) -> WatchConfig:
    names = [w.name for w in config.watches]
    if name is None:
        if len(names) == 1:
            return config.watches[0]
        raise ValueError(f"choose a watch with --watch: {', '.join(names) or '(the config has none)'}")
    for w in config.watches:
        if w.name == name:
            return w
    raise ValueError(f"no watch named {name!r}; the config has: {', '.join(names)}")


# -- the command ----------------------------------------------------------------------------


@app.command("backtest")
def backtest(
    config: Path = typer.Option(None, "--config", "-c", help="sentinel.yaml (default: the embedded simulator)"),
    watch: str = typer.Option(None, "--watch", "-w", help="which watch to replay"),
    start: str = typer.Option(None, "--from", help="start: Unix seconds, ISO 8601, now-2d"),
    end: str = typer.Option(None, "--to", help="end (exclusive); default now, or the CSV's end"),
    csv: Path = typer.Option(None, "--csv", help="replay a timestamp,value CSV instead of a source"),
    labels: Path = typer.Option(None, "--labels", help="NAB windows JSON for --csv"),
    warmup: str = typer.Option(None, "--warmup", help="history learned before --from, alerts not reported "
                                                      "(default: 0 for CSV, 1d otherwise)"),
    chunk: int = typer.Option(1440, min=1, help="steps per replay cycle"),
    plot: str = typer.Option("backtest.png", "--plot", help="PNG to write ('' for none)"),
    json_out: Path = typer.Option(None, "--json", help="write the report as JSON here"),
    series: str = typer.Option(None, "--series", help="plot this series, e.g. agent=agent-03"),
    detector: str = typer.Option(None, "--detector", help="replay with this detector kind instead of the watch's"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Replay a time range through a watch's detector and policy; report alerts and label scores."""
    from prometheus_client import CollectorRegistry

    from sentinel.config import ConfigError, load_config
    from sentinel.sources.base import SourceError

    try:
        for out in (Path(plot) if plot else None, json_out):
            if out is not None and not out.resolve().parent.is_dir():
                raise ValueError(f"cannot write {out}: directory {out.resolve().parent} does not exist")
            if out is not None and out.is_dir():
                raise ValueError(f"cannot write {out}: it is a directory")
        if plot and not Path(plot).suffix:  # matplotlib would add it and the report name the wrong file
            plot = f"{plot}.png"
        cfg = load_config(config) if config is not None else None
        fleet = None
        if csv is not None:
            w_cfg = _pick_watch(cfg, watch) if cfg is not None else None
            wcfg, source, data, truth = _csv_inputs(csv, labels, w_cfg)
            t_from = parse_time(start) if start else int(data.timestamps[0])
            t_to = parse_time(end) if end else data.end + data.step
            learn = parse_duration(warmup) if warmup else 0
        else:
            from sentinel.defaults import embedded_config
            from sentinel.sourceset import SourceSet

            if labels is not None:
                raise ValueError("--labels goes with --csv (a source's labels come from the simulator)")
            cfg = cfg or embedded_config()
            if watch is None and config is None:
                watch = cfg.watches[0].name
            wcfg = _pick_watch(cfg, watch)
            sources = SourceSet(cfg, CollectorRegistry())
            source = sources.for_watch(wcfg)
            fleet = getattr(source, "fleet", None)
            learn = parse_duration(warmup) if warmup else 86400
            if fleet is not None:
                t_from = parse_time(start) if start else fleet.start + learn
                t_to = parse_time(end) if end else t_from + 7 * 86400
            else:
                if not start:
                    raise ValueError("--from is required when replaying from Prometheus")
                t_from, t_to = parse_time(start), parse_time(end) if end else int(time.time())
            truth = None
        span, most = (t_to - t_from + learn) // wcfg.sample_step, MAX_FETCH_STEPS
        if span > max(most, data.n_steps if csv is not None else 0):  # the report holds every step of every series
            raise ValueError(f"the replay spans {span:,} steps of {wcfg.sample_step}s (--warmup, --from to --to), "
                             f"more than {most:,}: replay a shorter range")
        if detector is not None:
            from sentinel.config import DetectorConfig
            from sentinel.detect import KINDS

            if detector not in KINDS:
                raise ValueError(f"unknown detector kind {detector!r}: choose from {', '.join(KINDS)}")
            wcfg = wcfg.model_copy(update={"detector": DetectorConfig(kind=detector)})
        if csv is not None and wcfg.detector is not None and wcfg.detector.kind == "multivariate":
            raise ValueError("detector 'multivariate' scores several metrics per `agent` label; a CSV is one series "
                             "(every refit would fail): use default or stl")
        result = replay(wcfg, source, t_from, t_to, warmup=learn, chunk=chunk, progress=not quiet)
    except ConfigError as exc:
        fail("; ".join(exc.problems))
    except SourceError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))
    if fleet is not None:
        from sentinel.sources.simulated import parse_query

        truth = fleet.truth(parse_query(wcfg.query or "")[0], result.batch)
    try:
        shown = pick_series(result, truth, series)
    except ValueError as exc:
        fail(str(exc))
    report = build_report(result, truth, fleet)
    print_report(report, result)
    try:
        if json_out is not None:  # before the plot: a plot that fails must not lose the report
            json_out.write_text(json.dumps(report, indent=2, default=str))
            typer.echo(f"report -> {json_out}")
        if plot:
            plot_replay(result, truth, Path(plot), shown)
            typer.echo(f"plot -> {plot}")
    except ValueError as exc:
        fail(f"cannot plot {plot}: {exc}")
    except OSError as exc:
        fail(f"cannot write {exc.filename or 'the output'}: {exc.strerror or exc}")
