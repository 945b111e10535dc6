"""``sentinel logs parse FILE.log --output OUT.csv``: offline template mining of any log file.

Contract (DESIGN §5): output CSV ``line_no,template_id,template``, one row per
input line, in order.  Bad input has a documented treatment (see
:mod:`sentinel.logs.parse`: long lines cut at 64 KiB, non-UTF-8 bytes replaced,
empty lines kept); a missing file is a one-line error.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sentinel.cli.app import app, fail, refuse_overwriting_input

logs_app = typer.Typer(help="Log template mining.", no_args_is_help=True)
app.add_typer(logs_app, name="logs")


@logs_app.command("parse")
def parse(
    file: Path = typer.Argument(..., help="log file, one message per line"),
    output: Path = typer.Option(..., "--output", "-o", help="CSV to write: line_no,template_id,template"),
    max_templates: int = typer.Option(100_000, min=1, help="template cap; lines past it share template 0"),
) -> None:
    """Mine FILE into templates and write one CSV row per line."""
    from sentinel.logs.miner import LogMiner
    from sentinel.logs.parse import ParseError, parse_file

    refuse_overwriting_input(file, output)
    try:
        stats = parse_file(file, output, miner=LogMiner(watch="parse", max_templates=max_templates))
    except ParseError as exc:
        fail(str(exc))
    notes = []
    if stats.truncated:
        notes.append(f"{stats.truncated} line(s) cut at 64 KiB")
    if stats.undecodable:
        notes.append(f"{stats.undecodable} line(s) with non-UTF-8 bytes replaced")
    extra = f" ({'; '.join(notes)})" if notes else ""
    typer.echo(f"{stats.lines} lines, {stats.templates} templates -> {output}{extra}", err=True)
