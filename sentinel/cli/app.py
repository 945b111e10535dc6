"""The typer application and the one way commands report errors.

Every command module registers itself on :data:`app`; bad input ends in one
line on stderr (``sentinel: error: ...``) and exit status 2, never a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
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


def refuse_overwriting_input(src: Path, dst: Path) -> None:
    """Fail when writing ``dst`` would replace the input ``src`` (a typo must not destroy the data).

    Outputs are written after the input is read, so ``logs parse app.log -o
    app.log`` used to succeed and leave only the templates: the log was gone.
    """
    try:
        same = dst.exists() and src.samefile(dst)
    except OSError:  # src unreadable: the command's own read reports it
        return
    if same:
        fail(f"{dst}: is the input file {src}; choose another output (it would be overwritten)")
