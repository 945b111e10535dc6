"""``sentinel simulate``: the simulated agent fleet as a live /metrics endpoint, OpenMetrics history or logs.

Examples::

    sentinel simulate --serve --listen 127.0.0.1:9110 --agents 20 --speed 60
    sentinel simulate --openmetrics history.om --days 7 --incidents incidents.json
    promtool tsdb create-blocks-from openmetrics history.om data/
    sentinel simulate --logs agents.ndjson --days 0.5 --truth templates.txt
"""

from __future__ import annotations

import json
import math
import re
import signal
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from sentinel.cli.app import app, fail
from sentinel.config import parse_duration


def parse_time(value: str, now: float | None = None) -> int:
    """Unix seconds from ``1767571200``, ``2026-01-05T00:00:00Z``, ``now`` or ``now-2d``.

    >>> parse_time("now-1h", now=7200.0), parse_time("1970-01-01T00:01:00Z"), parse_time("90")
    (3600, 60, 90)
    """
    value = value.strip()
    if re.fullmatch(r"\d+", value):
        return int(value)
    m = re.fullmatch(r"now(?:-(.+))?", value)
    if m:
        base = time.time() if now is None else now
        return int(base) - (parse_duration(m.group(1)) if m.group(1) else 0)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not a time: use Unix seconds, ISO 8601, `now` or `now-2d`") from None
    if dt.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: add Z or +00:00")
    return int(dt.timestamp())


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen {value!r} must be HOST:PORT, e.g. 127.0.0.1:9110")
    return host or "127.0.0.1", int(port)


def _incident_json(inc: Any) -> dict[str, Any]:
    d = asdict(inc)
    d["signals"] = [{"signal": name, "labels": dict(lb)} for name, lb in inc.signals]
    return d


@app.command("simulate")
def simulate(
    serve: bool = typer.Option(False, "--serve", help="Serve a live /metrics endpoint until interrupted."),
    listen: str = typer.Option("127.0.0.1:9110", "--listen", help="HOST:PORT for --serve."),
    speed: float = typer.Option(1.0, "--speed", help="Simulated seconds per wall-clock second (--serve)."),
    openmetrics: Path | None = typer.Option(None, "--openmetrics", help="Write OpenMetrics history to this file."),
    logs: Path | None = typer.Option(None, "--logs", help="Write the fleet's logs to this file."),
    log_format: str = typer.Option("ndjson", "--log-format", help="ndjson (ECS records) or plain (text lines)."),
    truth: Path | None = typer.Option(None, "--truth", help="With --logs: ground-truth template id per line."),
    incidents: Path | None = typer.Option(None, "--incidents", help="Write the range's incidents as JSON."),
    days: float = typer.Option(1.0, "--days", help="Length of the written history in days."),
    start: str | None = typer.Option(
        None, "--start", help="Start: Unix s, ISO 8601, now, now-2d (default: the fleet's Monday; --serve: now)."
    ),
    agents: int = typer.Option(20, "--agents", help="Number of agents."),
    seed: int = typer.Option(7, "--seed", help="Random seed (same seed, same fleet)."),
    step: int = typer.Option(60, "--step", help="Sample step in seconds."),
    incident_rate: float = typer.Option(1.0, "--incident-rate", help="Incidents per simulated day."),
) -> None:
    """Run the simulated agent fleet: live /metrics, OpenMetrics history, ECS logs, incident ground truth."""
    from sentinel.fleet import DEFAULT_START, Fleet

    if truth is not None and logs is None:
        fail("--truth needs --logs")
    if not (serve or openmetrics or logs or incidents):
        fail("nothing to do: give --serve, --openmetrics FILE, --logs FILE and/or --incidents FILE")
    if log_format not in ("ndjson", "plain"):
        fail(f"--log-format must be ndjson or plain, got {log_format!r}")
    if not 0 < days < math.inf:
        fail(f"--days must be positive, got {days}")
    try:
        host, port = _listen(listen)
        fleet = Fleet(agents=agents, seed=seed, step=step, incident_rate=incident_rate)
        t0 = parse_time(start) if start is not None else (int(time.time()) if serve else DEFAULT_START)
        if not speed > 0:
            raise ValueError(f"--speed must be positive, got {speed}")
    except ValueError as exc:
        fail(str(exc))
    t0 -= t0 % step
    t1 = t0 + int(days * 86400) // step * step
    try:
        _write_files(fleet, t0, t1, openmetrics, logs, log_format, truth, incidents)
    except OSError as exc:  # a missing directory or a directory given as the file
        fail(f"cannot write {exc.filename or 'the output'}: {exc.strerror or exc}")
    if serve:
        _serve(fleet, host, port, speed, t0)


def _write_files(fleet: Any, t0: int, t1: int, openmetrics: Path | None, logs: Path | None, log_format: str,
                 truth: Path | None, incidents: Path | None) -> None:
    """Write the requested history files for ``[t0, t1)``, echoing each."""
    if openmetrics is not None:
        from sentinel.fleet.openmetrics import write_openmetrics

        n = write_openmetrics(fleet, openmetrics, t0, t1)
        typer.echo(f"{openmetrics}: {n} samples, {fleet.n_agents} agents, [{t0}, {t1}) every {fleet.step}s")
    if logs is not None:
        from sentinel.fleet.logs import write_ndjson, write_plain

        writer = write_ndjson if log_format == "ndjson" else write_plain
        n = writer(fleet, logs, t0, t1, truth)
        typer.echo(f"{logs}: {n} log lines" + (f"; templates in {truth}" if truth else ""))
    if incidents is not None:
        found = fleet.incidents(t0, t1)
        incidents.write_text(json.dumps([_incident_json(i) for i in found], indent=1) + "\n")
        typer.echo(f"{incidents}: {len(found)} incidents")


def _serve(fleet: Any, host: str, port: int, speed: float, sim_start: int) -> None:
    from sentinel.fleet.exposition import serve

    try:
        server, collector, _ = serve(fleet, host, port, speed=speed, sim_start=sim_start)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"serving http://{host}:{port}/metrics ({fleet.n_agents} agents, speed x{speed:g}); Ctrl-C stops",
               err=True)
    while not stop.wait(1.0):
        pass
    server.shutdown()  # type: ignore[attr-defined]
    typer.echo(f"stopped at simulated time {int(collector.now())}", err=True)
