"""``sentinel run``: the daemon (the embedded simulated fleet when there is no config).

Without ``--config`` (and no ``./sentinel.yaml``) sentinel watches its own
simulated fleet on an accelerated clock and prints alerts as they fire and
resolve.  With a config it watches Prometheus (and Elasticsearch) and
notifies Alertmanager.  Logs go to stderr, one line per message.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from sentinel.cli.app import app, fail

_LEVELS = ("debug", "info", "warning", "error")


@app.command("run")
def run(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="sentinel.yaml (default: ./sentinel.yaml if present, else the embedded default)"
    ),
    listen: str | None = typer.Option(
        None, "--listen", help="HOST:PORT for /metrics and health (overrides server.listen)"
    ),
    speed: float | None = typer.Option(None, "--speed", help="embedded default only: simulated seconds per second"),
    console: bool | None = typer.Option(
        None, "--console/--no-console", help="print alerts to stdout (default: on when there is no Alertmanager)"
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error"),
) -> None:
    """Run the daemon until SIGTERM/SIGINT; SIGHUP reloads the config."""
    if log_level.lower() not in _LEVELS:
        fail(f"--log-level {log_level!r}: use one of {', '.join(_LEVELS)}")
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from prometheus_client import REGISTRY

    from sentinel.alerting.console import ConsoleOutput
    from sentinel.config import ConfigError, ServerConfig, SimulatorConfig, load_config
    from sentinel.daemon import Daemon
    from sentinel.defaults import embedded_config

    path = config if config is not None else (Path("sentinel.yaml") if Path("sentinel.yaml").exists() else None)
    try:
        cfg = load_config(path) if path is not None else embedded_config()
        if speed is not None:
            if path is not None or cfg.simulator is None:
                fail("--speed only applies to the embedded default (set simulator.speed in the config)")
            cfg = embedded_config(SimulatorConfig(speed=speed))
        if listen is not None:
            cfg = cfg.model_copy(update={"server": ServerConfig(listen=listen)})
    except ConfigError as exc:
        fail("; ".join(exc.problems))
    except ValueError as exc:
        fail(" ".join(str(exc).split()))
    if not cfg.watches:
        fail(f"{path}: no watches configured; add a `watches:` list (see the README)")
    show = console if console is not None else cfg.alertmanager is None
    try:
        # the process-wide registry: it also carries what other stages count there (model checkpoints,
        # forecasts) and the process / platform / GC collectors
        daemon = Daemon(cfg, config_path=path, console=ConsoleOutput() if show else None, registry=REGISTRY)
    except (OSError, ValueError) as exc:
        fail(" ".join(str(exc).split()))
    try:
        daemon.run_forever()
    except OSError as exc:  # e.g. the listen address is taken
        fail(f"server.listen {cfg.server.listen}: {exc.strerror or exc}")
