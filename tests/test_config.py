"""Config validation: unknown keys, durations, env interpolation, one-line errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import ConfigError, load_config, parse_config, parse_duration


def test_minimal_watch_defaults() -> None:
    cfg = parse_config({"prometheus": {}, "watches": [{"name": "lat", "query": "up", "every": "5m"}]})
    w = cfg.watches[0]
    assert (w.every, w.sample_step, w.alert.threshold, w.alert.for_) == (300, 300, 0.99, 0)


def test_alert_policy_fields_parse() -> None:
    cfg = parse_config({"prometheus": {}, "watches": [{"name": "w", "query": "up", "alert": {
        "threshold": 0.995, "for": "5m", "direction": "up", "min_deviation": "20%", "severity": "critical"}}]})
    a = cfg.watches[0].alert
    assert (a.for_, a.direction, a.min_deviation.value, a.min_deviation.relative) == (300, "up", 0.2, True)


def test_unknown_key_names_field_and_suggests() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"watches": [{"name": "w", "querry": "up"}]})
    assert any(p.startswith("watches[0].querry: unknown key (did you mean 'query'?)") for p in err.value.problems)


def test_every_problem_is_reported() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"prometeus": {}, "watches": [{"name": "w", "query": "up", "every": "soon"}]})
    text = "\n".join(err.value.problems)
    assert "prometeus" in text and "watches[0].every" in text


def test_watch_needs_one_source_and_unique_name() -> None:
    with pytest.raises(ConfigError, match="exactly one of"):
        parse_config({"watches": [{"name": "w"}]})
    with pytest.raises(ConfigError, match="used twice"):
        parse_config({"watches": [{"name": "w", "query": "a"}, {"name": "w", "query": "b"}]})


def test_env_interpolation_and_missing_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AM_TOKEN", "s3cret")
    cfg = parse_config({"alertmanager": {"url": "http://am:9093", "bearer_token": "${AM_TOKEN}"},
                        "prometheus": {"url": "${PROM_URL:-http://127.0.0.1:9090}"}})
    assert cfg.alertmanager is not None and cfg.alertmanager.token() == "s3cret"
    assert "s3cret" not in repr(cfg.alertmanager)
    assert cfg.prometheus is not None and cfg.prometheus.url == "http://127.0.0.1:9090"
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(ConfigError, match=r"alertmanager.bearer_token: environment variable NOPE is not set"):
        parse_config({"alertmanager": {"bearer_token": "${NOPE}"}})


def test_secret_from_file(tmp_path) -> None:
    f = tmp_path / "pw"
    f.write_text("hunter2\n")
    cfg = parse_config({"elasticsearch": {"username": "u", "password_file": str(f)}})
    assert cfg.elasticsearch is not None and cfg.elasticsearch.basic_auth() == ("u", "hunter2")


def test_listen_must_be_host_port() -> None:
    with pytest.raises(ConfigError, match=r"server\.listen"):
        parse_config({"server": {"listen": "9108"}})


@given(st.text(max_size=12))
def test_parse_duration_never_crashes_unexpectedly(text: str) -> None:
    try:
        assert parse_duration(text) >= 0
    except ValueError as exc:
        assert str(exc)


def test_load_config_file_errors(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("watches: [\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(listy)


def test_check_config_cli(tmp_path) -> None:
    good = tmp_path / "s.yaml"
    good.write_text("prometheus: {url: http://127.0.0.1:9090}\nwatches:\n  - {name: up, query: up, every: 1m}\n")
    res = CliRunner().invoke(app, ["check-config", "--config", str(good)])
    assert res.exit_code == 0 and "ok (1 watches" in res.output
    assert "watch up: forgets a series after 7d without a value; tracks at most 50,000 series" in res.output
    bad = tmp_path / "b.yaml"
    bad.write_text("watches:\n  - {name: up, query: up, alert: {treshold: 0.9}}\n")
    res = CliRunner().invoke(app, ["check-config", "--config", str(bad)])
    assert res.exit_code == 2
    assert "watches[0].alert.treshold: unknown key (did you mean 'threshold'?)" in res.output
    assert "Traceback" not in res.output


def test_check_config_warns_of_a_for_shorter_than_the_sample_step(tmp_path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("prometheus: {url: http://127.0.0.1:9090}\nwatches:\n"
                   "  - {name: fine, query: up, every: 1m, alert: {for: 2m}}\n"
                   "  - {name: coarse, query: up, every: 5m, alert: {for: 2m}}\n"
                   "  - {name: scraped, query: up, every: 1m, step: 5m, alert: {for: 4m}}\n")
    res = CliRunner().invoke(app, ["check-config", "--config", str(cfg)])
    assert res.exit_code == 0 and "ok (3 watches" in res.output
    warnings = [line for line in res.output.splitlines() if line.startswith("sentinel: warning:")]
    assert [w.split(" ")[2] for w in warnings] == ["watches[1]", "watches[2]"]
    assert "alert.for 2m is under the sample step 5m" in warnings[0]
    assert load_config(cfg).watches[0].advisories() == []
