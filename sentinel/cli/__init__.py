"""Command-line entry point: ``sentinel COMMAND``.

The command modules import their own stage lazily, so ``sentinel --help``
stays fast.
"""

from __future__ import annotations

from sentinel.cli import (  # noqa: F401  (each module registers its commands)
    backtest,
    configcmd,
    dashboards,
    demo,
    detect,
    forecast,
    logs,
    run,
    simulate,
)
from sentinel.cli.app import app


def main() -> None:
    app()
