"""``sentinel demo``: a simulated week in under a minute, with a report."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from sentinel.cli.app import app, fail


@app.command()
def demo(
    agents: int = typer.Option(20, min=1, max=500, help="Simulated agents."),
    days: int = typer.Option(7, min=1, max=60, help="Simulated days to watch (after a 2-day warm-up)."),
    seed: int = typer.Option(7, help="Simulator seed (same seed, same week)."),
    every: str = typer.Option(
        "5m", help="Watch interval and sample step of the replay (the daemon uses 1m); alerts' `for` scales with it."
    ),
    out: Path = typer.Option(Path("demo-out"), help="Where the store, summary.json and incident.png go."),
) -> None:
    """Watch a simulated agent fleet for a week: alerts as they fire, then incidents caught vs missed."""
    from sentinel.config import SimulatorConfig, parse_duration
    from sentinel.defaults import embedded_config
    from sentinel.demo import at_step, format_report, run_demo

    try:
        step = parse_duration(every)
    except ValueError as exc:
        fail(f"--every: {exc}")
    if step <= 0:  # at_step keeps each watch's own interval when --every is shorter: 0 would say "every 0"
        fail("--every must be positive")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {out}: cannot create ({exc.strerror or exc})")
    cfg = at_step(embedded_config(SimulatorConfig(agents=agents, seed=seed)), step)
    typer.echo(f"sentinel demo: {agents} simulated agents, {len(cfg.watches)} watches every {every}, "
               f"2-day warm-up then {days} days; alerts as they fire and resolve:\n")

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r  simulated hour {done}/{total}")
            sys.stderr.flush()

    report = run_demo(cfg, out, days=days, progress=progress)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    typer.echo(format_report(report))
