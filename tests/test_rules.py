"""Generated Prometheus rule files: promtool check + promtool unit tests, not stale; the example
Alertmanager config passes amtool and routes/inhibits as documented."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import Config, load_config
from sentinel.publish.rules import ANOMALY, RuleOptions, rule_files
from sentinel.publish.rules_promtool import humanize_duration, render

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "alert_rules"
EXAMPLE = ROOT / "examples" / "sentinel.yaml"
AM_EXAMPLE = RULES / "alertmanager.example.yml"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (apt-get install prometheus prometheus-alertmanager)")
    return path


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLE)


def test_committed_rule_files_are_not_stale(config: Config) -> None:
    fresh = render(config)
    stale = [rel for rel, text in fresh.items() if not (RULES / rel).exists() or (RULES / rel).read_text() != text]
    assert not stale, f"stale {stale}: run `sentinel rules build --config examples/sentinel.yaml`"


def test_promtool_check_rules_passes() -> None:
    files = sorted(str(p) for p in RULES.glob("sentinel-*.yml"))
    assert len(files) == 2
    proc = _run(_tool("promtool"), "check", "rules", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_unit_tests_pass() -> None:
    files = sorted(str(p) for p in (RULES / "tests").glob("*.test.yml"))
    assert len(files) == 2
    proc = _run(_tool("promtool"), "test", "rules", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("old", "new"), [("for: 5m", "for: 1m"), (">= 0.99", ">= 0.5"), ("< 86400", "< 3600")])
def test_promtool_unit_tests_catch_a_wrong_rule(tmp_path: Path, old: str, new: str) -> None:
    """Change a duration or threshold in a copy of the rules: the generated tests must fail."""
    shutil.copytree(RULES, tmp_path / "rules")
    watches = tmp_path / "rules" / "sentinel-watches.yml"
    text = watches.read_text()
    assert old in text
    watches.write_text(text.replace(old, new, 1))
    proc = _run(_tool("promtool"), "test", "rules", "tests/sentinel-watches.test.yml", cwd=tmp_path / "rules")
    assert proc.returncode != 0 and "FAILED" in proc.stdout + proc.stderr


def test_rules_follow_each_watchs_alert_policy(config: Config) -> None:
    rules = {(r["alert"], r["labels"]["watch"]): r
             for r in rule_files(config)["sentinel-watches.yml"]["groups"][0]["rules"]}
    for w in config.watches:
        if w.detector is not None:
            rule = rules[(ANOMALY, w.name)]
            assert rule["expr"].endswith(f">= {w.alert.threshold:g}")
            assert rule.get("for", "0s") == (humanize_duration(w.alert.for_).replace(" 0s", "").replace(" ", "")
                                             if w.alert.for_ else "0s")
            assert rule["labels"]["severity"] == w.alert.severity
        else:
            assert (ANOMALY, w.name) not in rules
    disk = rules[("SentinelCapacityRunwayCritical", "disk_runway")]
    assert disk["expr"].endswith("< 14400") and disk["labels"]["severity"] == "critical"
    assert "viewPanel=" in disk["annotations"]["dashboard_url"]


def test_self_rules_include_the_dead_mans_switch_and_failures(config: Config) -> None:
    rules = rule_files(config, RuleOptions(job="sentinel-prod"))["sentinel-self.yml"]["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {"SentinelWatchdog", "SentinelDown", "SentinelCycleStale", "SentinelAlertStateGrowing",
            "SentinelSourceErrors", "SentinelNotificationsFailing"} <= names
    down = next(r for r in rules if r["alert"] == "SentinelDown")
    assert down["expr"] == 'absent(up{job="sentinel-prod"} == 1)'
    stale = [r for r in rules if r["alert"] == "SentinelCycleStale"]
    assert len(stale) == len(config.watches)


def test_cli_rules_build_writes_rules_and_tests(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "build", "--config", str(EXAMPLE), "--out", str(tmp_path),
                                      "--job", "agents-sentinel"])
    assert result.exit_code == 0, result.output
    self_rules = yaml.safe_load((tmp_path / "sentinel-self.yml").read_text())
    assert 'job="agents-sentinel"' in str(self_rules)
    proc = _run(_tool("promtool"), "test", "rules", "tests/sentinel-self.test.yml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout


def test_alertmanager_example_passes_amtool() -> None:
    proc = _run(_tool("amtool"), "check-config", str(AM_EXAMPLE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("labels", "receiver"), [
    (["severity=critical", "watch=task_error_ratio"], "pager"),
    (["severity=warning", "watch=task_latency_p95"], "team-chat"),
    (["alertname=SentinelWatchdog", "severity=none"], "deadman"),
    (["severity=info", "watch=x"], "null"),
])
def test_alertmanager_example_routes_by_severity(labels: list[str], receiver: str) -> None:
    proc = _run(_tool("amtool"), "config", "routes", "test", f"--config.file={AM_EXAMPLE}", *labels)
    assert proc.returncode == 0 and proc.stdout.strip() == receiver, proc.stdout + proc.stderr


def test_alertmanager_example_inhibits_warning_by_critical_of_the_same_watch() -> None:
    doc = yaml.safe_load(AM_EXAMPLE.read_text())
    rule = doc["inhibit_rules"][0]
    assert rule["source_matchers"] == ['severity="critical"'] and rule["target_matchers"] == ['severity="warning"']
    assert rule["equal"] == ["watch"]


def test_resolve_after_keeps_the_alert_firing_and_is_tested(tmp_path: Path) -> None:
    """``resolve_after`` becomes ``keep_firing_for``; the generated test checks it (and fails without it)."""
    cfg = Config.model_validate({"prometheus": {}, "watches": [
        {"name": "q", "query": "agent_queue_depth", "alert": {"for": "3m", "resolve_after": "10m"}}]})
    for rel, text in render(cfg).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    rule = yaml.safe_load((tmp_path / "sentinel-watches.yml").read_text())["groups"][0]["rules"][0]
    assert rule["keep_firing_for"] == "10m" and rule["for"] == "3m"
    promtool = _tool("promtool")
    proc = _run(promtool, "test", "rules", "tests/sentinel-watches.test.yml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    rules_file = tmp_path / "sentinel-watches.yml"
    rules_file.write_text(rules_file.read_text().replace("keep_firing_for: 10m", "keep_firing_for: 2m"))
    proc = _run(promtool, "test", "rules", "tests/sentinel-watches.test.yml", cwd=tmp_path)
    assert proc.returncode != 0
