"""A watch's static alert ``labels:`` are checked at config time.

Before: any name passed ``check-config``; ``on-call`` reached Alertmanager as ``on_call`` (routes on it
missed), an empty name as ``_``, and Prometheus refused the whole generated rule file; ``severity`` was
dropped from pushed alerts but overrode the rule's own; an empty value vanished without a word.
"""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import ConfigError, WatchConfig, parse_config

PROMETHEUS_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def watch_with(labels: dict[str, str]) -> dict:
    return {"prometheus": {"url": "http://127.0.0.1:9090"}, "watches": [{"name": "w", "query": "up", "labels": labels}]}


@settings(deadline=None)  # the first example imports sentinel.alerting
@given(st.text(max_size=8) | st.from_regex(PROMETHEUS_NAME, fullmatch=True))
def test_a_label_name_is_accepted_exactly_when_prometheus_would_and_sentinel_does_not_set_it(name: str) -> None:
    valid = bool(PROMETHEUS_NAME.fullmatch(name)) and not name.startswith("__")
    ours = name in ("alertname", "severity", "watch")
    try:
        cfg = parse_config(watch_with({name: "x"}))
    except ConfigError as exc:
        assert not valid or ours, exc.problems
        assert len(exc.problems) == 1 and exc.problems[0].startswith("watches[0].labels: ")
        assert repr(name) in exc.problems[0]
        return
    assert valid and not ours
    assert cfg.watches[0].labels == {name: "x"}


@pytest.mark.parametrize(("name", "message"), [
    ("", "label name '' is not a Prometheus label name"),
    ("on-call", "label name 'on-call' is not a Prometheus label name"),
    ("__team", "label name '__team' is not a Prometheus label name"),
    ("9team", "label name '9team' is not"),
    ("severity", "label 'severity' is set by sentinel itself"),
])
def test_check_config_refuses_a_bad_label_name_in_one_line(tmp_path, name: str, message: str) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(watch_with({"team": "infra", name: "x"})))
    res = CliRunner().invoke(app, ["check-config", "--config", str(cfg)])
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sentinel: error: watches[0].labels: {message}"), lines


def test_check_config_warns_of_an_empty_label_value(tmp_path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text(yaml.safe_dump(watch_with({"team": "", "tier": "1"})))
    res = CliRunner().invoke(app, ["check-config", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == ["sentinel: warning: watches[0] (w).labels.team is empty: Prometheus drops an "
                                       "empty label and Alertmanager matches it as absent, so alerts carry no team "
                                       "label; give it a value or remove it"]
    assert WatchConfig(name="w", query="up", labels={"team": "infra"}).advisories() == []


def test_the_multivariate_agent_label_must_be_a_label_name() -> None:
    """Before: ``agent_label: pod-name`` passed check-config; no series can carry it, so every fit failed."""
    with pytest.raises(ConfigError, match=r"agent_label must be a Prometheus label name, e\.g\. agent, got 'pod-name'"):
        parse_config({"prometheus": {"url": "http://127.0.0.1:9090"}, "watches": [
            {"name": "w", "query": "up", "detector": {"kind": "multivariate", "params": {"agent_label": "pod-name"}}}]})
