"""The typer application and the one way commands report errors.

Every command module registers itself on :data:`app`; bad input ends in one
line on stderr (``sentinel: error: ...``) and exit status 2, never a traceback.
"""

from __future__ import annotations

import logging
from typing import NoReturn

import typer

app = typer.Typer(
    name="sentinel",
    help="Predictive alerting for fleets of autonomous AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug detail to stderr."),
) -> None:
    """Predictive alerting for fleets of autonomous AI agents."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class UsageError(Exception):
    """Bad input that a command reports as one line (exit status 2)."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``sentinel: error: MESSAGE`` to stderr and exit."""
    typer.echo(f"sentinel: error: {message}", err=True)
    raise typer.Exit(code)
