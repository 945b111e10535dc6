"""``sentinel check-config``: validate sentinel.yaml and name every problem."""

from __future__ import annotations

from pathlib import Path

import typer

from sentinel.cli.app import app
from sentinel.config import ConfigError, load_config


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
