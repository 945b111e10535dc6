"""Hostile but realistic input at every public edge: one-line errors or documented treatment, never a traceback.

Each test here failed on the code before it was written (session 9's bad-input
hunt); the bytes properties guard the CSV readers against any file at all.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import ConfigError, parse_config, parse_duration
from sentinel.series import Batch

runner = CliRunner()


def invoke(*args: str):
    res = runner.invoke(app, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


def one_error(res, needle: str) -> None:
    """Exit 2 with exactly one line on stderr, ``sentinel: error: ...`` containing ``needle``."""
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sentinel: error:") and needle in lines[0], res.stderr


def series_csv(path: Path, values: np.ndarray, step: int = 300) -> Path:
    ts = 1_700_000_000 + step * np.arange(len(values))
    path.write_text("timestamp,value\n" + "".join(f"{t},{float(v)!r}\n" for t, v in zip(ts, values, strict=True)))
    return path


def watch_config(**watch: object) -> dict:
    return {"simulator": {"agents": 2}, "watches": [{"name": "w", "query": "agent_queue_depth", **watch}]}


# -- config -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [float("inf"), 1e300, "1ms", "0.4"])
def test_absurd_durations_are_config_errors(value: object) -> None:
    with pytest.raises(ConfigError, match=r"watches\[0\]\.every"):
        parse_config(watch_config(every=value))


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_duration_of_any_float_is_an_int_or_a_value_error(value: float) -> None:
    try:
        assert 0 <= parse_duration(value) <= 100 * 365 * 86400
    except ValueError as exc:
        assert str(exc)


@pytest.mark.parametrize("detector", [{"kind": "nope"}, {"kind": "default", "params": {"bogus": 1}},
                                      {"kind": "default", "params": {"half_life": "x"}}])
def test_detector_kind_and_params_are_checked_at_load(detector: dict) -> None:
    with pytest.raises(ConfigError, match=r"watches\[0\]\.detector"):
        parse_config(watch_config(detector=detector))


@pytest.mark.parametrize("watch", [{"step": 0}, {"alert": {"min_deviation": float("nan")}},
                                   {"alert": {"min_deviation": "-20%"}},
                                   {"detector": None, "forecast": {"horizon": 0, "limit": 1}},
                                   {"detector": None, "forecast": {"limit": float("nan")}}])
def test_values_that_silently_disable_a_watch_are_errors(watch: dict) -> None:
    with pytest.raises(ConfigError, match=r"watches\[0\]"):
        parse_config(watch_config(**watch))


@pytest.mark.parametrize("section", ["prometheus", "alertmanager", "elasticsearch", "grafana"])
@pytest.mark.parametrize("url", ["not a url", "localhost:9090", "ftp://x", "http://h:99999", "${VAR UNSET}"])
def test_connection_urls_are_checked_at_load(section: str, url: str) -> None:
    with pytest.raises(ConfigError, match=rf"{section}\.url: .* is not an http\(s\) URL"):
        parse_config({section: {"url": url}})


def test_check_config_names_an_unknown_detector_kind(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("simulator: {agents: 2}\nwatches:\n  - {name: w, query: agent_queue_depth, every: .inf}\n")
    one_error(invoke("check-config", "--config", str(cfg)), "every")
    cfg.write_text("simulator: {agents: 2}\nwatches:\n  - {name: w, query: up, detector: {kind: nope}}\n")
    one_error(invoke("check-config", "--config", str(cfg)), "unknown detector kind 'nope'")


# -- library boundary ---------------------------------------------------------------------------------------------


def test_batch_refuses_two_series_with_one_label_set() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        Batch.from_rows([{"a": "1"}, {"a": "1"}], [0, 60], [[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("ts", [[0.0, 60.5, 120.0], np.array([0.0, np.nan, 120.0])])
def test_batch_refuses_fractional_or_nan_timestamps(ts: object) -> None:
    with pytest.raises(ValueError, match="whole Unix seconds"):
        Batch.from_rows([{"a": "1"}], ts, [[1.0, 2.0, 3.0]])  # type: ignore[arg-type]


def test_batch_still_takes_integral_float_timestamps() -> None:
    assert Batch.from_rows([{}], np.array([0.0, 60.0]), [[1.0, 2.0]]).timestamps.tolist() == [0, 60]


# -- commands ----------------------------------------------------------------------------------------------------


def test_logs_parse_and_detect_refuse_to_overwrite_their_input(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("user 1 logged in\nuser 2 logged in\n")
    one_error(invoke("logs", "parse", str(log), "-o", str(tmp_path / "." / "app.log")), "is the input file")
    assert log.read_text() == "user 1 logged in\nuser 2 logged in\n"
    data = series_csv(tmp_path / "a.csv", np.arange(10.0))
    before = data.read_text()
    one_error(invoke("detect", str(data), "--output-dir", str(tmp_path)), "is the input file")
    one_error(invoke("detect", str(data), "-o", str(data)), "is the input file")
    assert data.read_text() == before


def test_forecast_of_values_near_the_float_limit_is_one_line(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = series_csv(tmp_path / "h.csv", rng.normal(0, 1e307, 300))
    one_error(invoke("forecast", str(data), "--horizon", "1h", "--limit", "1e308"), "rescale")
    fine = series_csv(tmp_path / "f.csv", np.linspace(0, 9e149, 300) + rng.normal(0, 1e147, 300))
    res = invoke("forecast", str(fine), "--horizon", "1h", "--json")
    assert res.exit_code == 0 and not res.stderr, res.stderr
    assert np.isfinite([r["yhat"] for r in json.loads(res.stdout)["forecast"]]).all()


def test_capacity_report_names_the_file_it_cannot_forecast(tmp_path: Path) -> None:
    series_csv(tmp_path / "ok.csv", np.arange(300.0))
    series_csv(tmp_path / "yearly.csv", np.arange(20.0), step=365 * 86400)
    res = invoke("capacity-report", "--csv-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 0 and res.stderr.startswith(f"sentinel: warning: {tmp_path / 'yearly.csv'}: skipped: ")
    (tmp_path / "ok.csv").unlink()
    res = invoke("capacity-report", "--csv-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert res.stderr.splitlines()[-1].endswith("no usable .csv file (1 skipped, see the warnings above)")
    one_error(invoke("capacity-report", "--csv-dir", str(tmp_path), "--headroom", "nan%"), "--headroom")


def test_simulate_and_demo_report_unwritable_outputs(tmp_path: Path) -> None:
    one_error(invoke("simulate", "--openmetrics", str(tmp_path / "no" / "x.om"), "--days", "0.01", "--agents", "1"),
              "No such file")
    one_error(invoke("simulate", "--incidents", str(tmp_path), "--days", "0.01", "--agents", "1"), "Is a directory")
    one_error(invoke("simulate", "--openmetrics", str(tmp_path / "x.om"), "--days", "inf"), "--days")
    afile = tmp_path / "f"
    afile.write_text("")
    one_error(invoke("demo", "--out", str(afile), "--days", "1", "--agents", "1"), "--out")
    one_error(invoke("demo", "--every", "0"), "--every")


def test_backtest_plot_path_is_a_file_and_the_json_survives_a_failed_plot(tmp_path: Path) -> None:
    data = series_csv(tmp_path / "a.csv", np.arange(50.0))
    one_error(invoke("backtest", "--csv", str(data), "-q", "--plot", str(tmp_path)), "is a directory")
    res = invoke("backtest", "--csv", str(data), "-q", "--plot", str(tmp_path / "noext"))
    assert res.exit_code == 0 and (tmp_path / "noext.png").exists() and "noext.png" in res.stdout
    spikes = np.r_[np.arange(50.0), 1e308, np.arange(50.0), -1e308, np.arange(50.0)]  # matplotlib: singular matrix
    report = tmp_path / "r.json"
    res = invoke("backtest", "--csv", str(series_csv(tmp_path / "s.csv", spikes)), "-q",
                 "--plot", str(tmp_path / "s.png"), "--json", str(report))
    assert res.exit_code == 2 and "cannot plot" in res.stderr, res.output
    assert json.loads(report.read_text())["steps"] == len(spikes)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), command=st.sampled_from(["detect", "forecast", "backtest"]))
def test_any_bytes_as_a_csv_is_a_result_or_one_error_line(tmp_path: Path, data: bytes, command: str) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    extra = {"detect": ["-o", str(tmp_path / "out.csv")], "forecast": ["--horizon", "1h"],
             "backtest": ["-q", "--plot", ""]}[command]
    res = invoke(command, *(["--csv"] if command == "backtest" else []), str(src), *extra)
    assert res.exit_code in (0, 2), res.output
    if res.exit_code == 2:
        lines = res.stderr.strip().splitlines()
        assert lines[-1].startswith("sentinel: error:") and len(lines[-1]) < 400, res.stderr
        assert all(ln.startswith("sentinel: warning:") for ln in lines[:-1]), res.stderr


def test_a_single_row_is_not_called_irregular(tmp_path: Path) -> None:
    from sentinel.detect.csvio import read_series_csv

    one = tmp_path / "one.csv"
    one.write_text("timestamp,value\n2024-01-01 00:00:00,5\n2024-01-01 00:00:00,6\n")
    data = read_series_csv(one)
    assert data.grid.tolist() == [1704067200] and data.grid_values.tolist() == [6.0]
    assert not any("irregular" in w for w in data.warnings), data.warnings


def test_a_prometheus_answer_with_one_label_set_twice_is_a_source_error() -> None:
    """A broken proxy's answer: before, two series over the cap raised StopIteration, under it shared one model."""
    from prometheus_client import CollectorRegistry

    from sentinel.config import WatchConfig
    from sentinel.sources.base import SourceError
    from sentinel.sources.prometheus_decode import MatrixDecoder

    decoder = MatrixDecoder(default_cap=3, registry=CollectorRegistry())
    watch = WatchConfig(name="w", query="up", every=60)
    for n in (2, 4):
        answer = [{"metric": {"a": "1"}, "values": [[0, "1"]]}] * n
        with pytest.raises(SourceError, match=r'two series labelled \{a="1"\}'):
            decoder.decode(watch, [answer], np.arange(0, 600, 60))


def test_batch_detector_kinds_on_a_csv_are_one_line_errors(tmp_path: Path) -> None:
    data = series_csv(tmp_path / "a.csv", np.arange(50.0))
    for kind in ("stl", "multivariate"):  # detect: KeyError traceback before
        one_error(invoke("detect", str(data), "-o", str(tmp_path / "o.csv"), "--detector", kind), "online kinds")
    one_error(invoke("backtest", "--csv", str(data), "-q", "--plot", "", "--detector", "multivariate"), "agent")


@settings(max_examples=60, deadline=None)
@example(values=[0.0, 0.0, 0.0, 2.2549155249398113e154], step=60)  # overflowed the error model before
@given(values=st.lists(st.floats(allow_infinity=False), max_size=40), step=st.sampled_from([60, 3600]))
def test_forecaster_on_any_floats_is_finite_or_a_value_error(values: list[float], step: int) -> None:
    from sentinel.forecast import Forecaster

    ts = 1_700_000_000 + step * np.arange(len(values))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning is the first sign of an inf/NaN forecast
        try:
            fc = Forecaster().forecast(ts, np.array(values, dtype=float), 3600)
        except ValueError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
    assert np.isfinite(np.r_[fc.yhat, fc.lower, fc.upper]).all()


def test_a_reload_with_an_unknown_detector_kind_is_refused_and_the_daemon_keeps_running(tmp_path: Path) -> None:
    """Before, the config passed validation and ``reconfigure`` raised ValueError out of the daemon's loop."""
    import yaml

    from sentinel.daemon import Daemon

    doc = {"simulator": {"agents": 2, "warmup": "1h"}, "server": {"listen": "127.0.0.1:0"},
           "store": {"path": str(tmp_path / "s.db"), "models_dir": str(tmp_path / "models")},
           "watches": [{"name": "q", "query": "agent_queue_depth", "every": "1m"}]}
    path = tmp_path / "sentinel.yaml"
    path.write_text(yaml.safe_dump(doc))
    d = Daemon(parse_config(doc), config_path=path)
    d.start(schedule=False, serve=False)
    try:
        doc["watches"][0]["detector"] = {"kind": "nope"}
        path.write_text(yaml.safe_dump(doc))
        assert not d.reload()
        assert d.registry.get_sample_value("sentinel_config_reload_errors_total") == 1
        assert d.slots["q"].cfg.detector is not None and d.slots["q"].cfg.detector.kind == "default"
    finally:
        d.stop()


def test_run_refuses_a_models_dir_it_cannot_write_before_learning(tmp_path: Path) -> None:
    """A models_dir under a regular file used to warn only at the first checkpoint: hours of learning lost."""
    (tmp_path / "file").write_text("x")
    cfg = tmp_path / "s.yaml"
    cfg.write_text(json.dumps(watch_config() | {"store": {"path": str(tmp_path / "s.db"),
                                                          "models_dir": str(tmp_path / "file" / "models")}}))
    one_error(invoke("run", "--config", str(cfg)), "not a writable directory")
