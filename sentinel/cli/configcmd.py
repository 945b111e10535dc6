"""``sentinel check-config``: validate sentinel.yaml and name every problem."""

from __future__ import annotations

from pathlib import Path

import typer

from sentinel.cli.app import app
from sentinel.config import ConfigError, WatchConfig, format_duration, load_config


@app.command("check-config")
def check_config(
    config: Path = typer.Option(Path("sentinel.yaml"), "--config", "-c", help="Path to sentinel.yaml"),
) -> None:
    """Validate a config; print every error with its field path and a hint."""
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"sentinel: error: {problem}", err=True)
        raise typer.Exit(2) from None
    for advice in cfg.advisories():
        typer.echo(f"sentinel: warning: {advice}", err=True)
    sources = [name for name in ("prometheus", "elasticsearch", "simulator") if getattr(cfg, name) is not None]
    typer.echo(f"{config}: ok ({len(cfg.watches)} watches; sources: {', '.join(sources) or 'none'})")
    for w in cfg.watches:
        typer.echo(retention_line(w, prometheus=cfg.prometheus is not None))


def retention_line(w: WatchConfig, prometheus: bool = False) -> str:
    """What the watch forgets and refuses (:mod:`sentinel.retention`), in one line.

    >>> print(retention_line(WatchConfig(name="w", query="up")))
    watch w: forgets a series after 7d without a value; tracks at most 50,000 series (over it: the longest-absent \
are forgotten, then new series are refused, not scored: sentinel_series_refused_total and a warning per cycle)
    >>> print(retention_line(WatchConfig(name="w", query="up", alert={"absent_for": "10m"}), True).split("; ")[2])
    an absent series whose scrape target left service discovery (no `up` for job, instance) does not page and is \
forgotten at once
    """
    removed = ""
    if prometheus and w.query is not None and w.alert.absent_for is not None and w.target_labels:
        labels = ", ".join(w.target_labels.values())
        removed = (f"; an absent series whose scrape target left service discovery (no `up` for {labels}) does not "
                   "page and is forgotten at once")
    return (f"watch {w.name}: forgets a series after {format_duration(w.series_retention)} without a value; tracks "
            f"at most {w.max_tracked_series:,} series (over it: the longest-absent are forgotten, then new series are "
            "refused, not scored: sentinel_series_refused_total and a warning per cycle)" + removed)
