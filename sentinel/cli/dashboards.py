"""``sentinel dashboards build|push`` and ``sentinel rules build``.

Dashboards and rule files are generated from the same watch definitions, so
they never drift apart; commit the output and let the stale-file test tell
you when a config change needs a rebuild.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sentinel.cli.app import app, fail
from sentinel.config import Config, ConfigError, load_config

dashboards_app = typer.Typer(help="Grafana dashboards generated from the watches.", no_args_is_help=True)
rules_app = typer.Typer(help="Prometheus rule files generated from the watches.", no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(rules_app, name="rules")

CONFIG_OPT = typer.Option(Path("sentinel.yaml"), "--config", "-c", help="Path to sentinel.yaml")


def _load(path: Path) -> Config:
    if not path.exists():
        fail(f"{path}: no such config file (try --config examples/sentinel.yaml)")
    try:
        return load_config(path)
    except ConfigError as exc:
        fail("; ".join(exc.problems))


@dashboards_app.command("build")
def dashboards_build(
    config: Path = CONFIG_OPT,
    out: Path = typer.Option(Path("dashboards"), "--out", "-o", help="Output directory"),
) -> None:
    """Write dashboards/*.json and dashboards/provisioning/{dashboards,datasources}.yaml."""
    from sentinel.publish.dashboards_files import write_dashboards

    cfg = _load(config)
    try:
        written = write_dashboards(cfg, out)
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror})")
    for path in written:
        typer.echo(str(path))


@dashboards_app.command("push")
def dashboards_push(config: Path = CONFIG_OPT) -> None:
    """Upload the dashboards to Grafana (folder create-or-get, overwrite by uid)."""
    from sentinel.publish.grafana import GrafanaPublisher, PublishError

    cfg = _load(config)
    if cfg.grafana is None:
        fail(f"{config}: add a `grafana:` section with url and bearer_token_file to push")
    try:
        urls = GrafanaPublisher(cfg, registry=None).push()  # a one-shot command: metrics are not exported
    except PublishError as exc:
        fail(str(exc))
    for url in urls:
        typer.echo(url)


@rules_app.command("build")
def rules_build(
    config: Path = CONFIG_OPT,
    out: Path = typer.Option(Path("alert_rules"), "--out", "-o", help="Output directory"),
    job: str = typer.Option("sentinel", help="Prometheus job label of sentinel's scrape (dead-man's switch)"),
    stale_cycles: int = typer.Option(3, min=1, help="Missed cycles before SentinelCycleStale fires"),
) -> None:
    """Write alert_rules/*.yml and their promtool tests alert_rules/tests/*.test.yml."""
    from sentinel.publish.rules import RuleOptions
    from sentinel.publish.rules_promtool import render

    cfg = _load(config)
    try:
        (out / "tests").mkdir(parents=True, exist_ok=True)
        for rel, text in render(cfg, RuleOptions(job=job, stale_cycles=stale_cycles)).items():
            (out / rel).write_text(text, encoding="utf-8")
            typer.echo(str(out / rel))
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror})")
