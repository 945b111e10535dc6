"""Where the input is read: config sources, fetch ranges, CSV grids (session 10's hunt).

Each test failed on the code before it (except the guards of what must keep
working): a PromQL watch without a ``prometheus:`` section silently read
127.0.0.1:9090; a fetch or a backtest over an absurd range built its whole
grid (317 years at 60 s: 1.3 GB before any series); a CSV whose last row sat
decades after the others allocated its grid (12 GiB) before checking it;
``Batch.from_rows`` wrapped 1e20 to -2**63 and truncated a 60.5 s step;
``capacity-report`` answered absurd options with tracebacks.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from typer.testing import CliRunner

from sentinel.cli import app
from sentinel.config import ConfigError, PrometheusConfig, SimulatorConfig, WatchConfig, parse_config
from sentinel.defaults import embedded_config
from sentinel.series import Batch
from sentinel.sources.base import MAX_FETCH_STEPS, SourceError
from sentinel.sources.prometheus import PrometheusSource
from sentinel.sources.simulated import SimulatedSource

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def one_error(args: list[str], needle: str) -> None:
    """Exit 2 with one line on stderr, ``sentinel: error: ...`` containing ``needle``."""
    res = runner.invoke(app, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and needle in lines[0], res.output


# -- a PromQL watch names its Prometheus ---------------------------------------------------


def test_a_promql_watch_without_a_prometheus_section_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("watches: [{name: lat, query: up}, {name: err, query: errors}]\n")
    one_error(["check-config", "-c", str(cfg)], "watch 'lat' (and 1 more) has a PromQL `query` but there is no "
                                                 "`prometheus:` section")


@pytest.mark.parametrize("doc", [
    {"prometheus": {}, "watches": [{"name": "w", "query": "up"}]},  # the local default, said explicitly
    {"simulator": {}, "watches": [{"name": "w", "query": "agent_task_rate"}]},  # the embedded fleet's signals
    {"watches": []},
])
def test_configs_that_say_where_to_read_still_load(doc: dict) -> None:
    parse_config(doc)


def test_the_embedded_default_and_the_example_still_load() -> None:
    embedded_config()
    res = runner.invoke(app, ["check-config", "-c", str(ROOT / "examples" / "sentinel.yaml")])
    assert res.exit_code == 0, res.output


# -- one fetch has a bounded span ----------------------------------------------------------


def test_a_prometheus_fetch_over_centuries_is_refused_before_any_request() -> None:
    source = PrometheusSource(PrometheusConfig(url="http://127.0.0.1:1", retries=0), registry=CollectorRegistry())
    w = WatchConfig(name="w", query="up", every=60)
    with pytest.raises(SourceError, match=r"watch 'w': .* is 166,666,666 steps of 60s, more than one fetch"):
        source.fetch(w, 1_700_000_040 - 10_000_000_000, 1_700_000_040)
    with pytest.raises(SourceError, match="cannot connect"):  # a fetch inside the bound does go out
        source.fetch(w, 1_700_000_040 - 60 * MAX_FETCH_STEPS, 1_700_000_040)


def test_a_simulated_fetch_over_centuries_is_refused() -> None:
    source = SimulatedSource.__new__(SimulatedSource)  # the bound comes before the fleet is touched
    with pytest.raises(SourceError, match="more than one fetch may span"):
        source.fetch(WatchConfig(name="w", query="agent_task_rate", every=60), 0, 10_000_000_000)


def test_a_warm_up_longer_than_one_fetch_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"watches\[0\] \(w\): the warm-up \(prometheus.backfill\) is 2,592,000 "):
        parse_config({"prometheus": {"backfill": "30d"}, "watches": [{"name": "w", "query": "up", "every": 1}]})
    with pytest.raises(ConfigError, match=r"the warm-up \(simulator.warmup\)"):
        parse_config({"simulator": SimulatorConfig(warmup=30 * 86400).model_dump(),
                      "watches": [{"name": "w", "query": "agent_task_rate", "every": 1}]})


def test_a_backtest_over_decades_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "s.yaml"
    cfg.write_text("prometheus: {url: 'http://127.0.0.1:1', retries: 0}\nwatches: [{name: w, query: up}]\n")
    one_error(["backtest", "-c", str(cfg), "--from", "0", "--to", "1700000000", "--plot", "", "-q"],
              "the replay spans 28,334,773 steps of 60s")  # with the default 1d warm-up


def test_a_csv_backtest_from_1970_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "s.csv"
    f.write_text("timestamp,value\n" + "".join(f"{1_700_000_000 + 60 * i},{i % 7}\n" for i in range(100)))
    one_error(["backtest", "--csv", str(f), "--from", "0", "--plot", "", "-q"],  # ran for minutes, 28M steps
              "the replay spans 28,333,433 steps of 60s")


# -- a CSV's grid is checked before it is built ---------------------------------------------


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def test_a_csv_with_a_row_decades_later_fails_cleanly_without_gigabytes(tmp_path: Path) -> None:
    f = tmp_path / "far.csv"
    f.write_text("timestamp,value\n0,1\n60,2\n120,3\n99999999960,4\n")  # 1.7e9 steps of 60 s
    code = ("import sys\nfrom sentinel.detect.csvio import CSVError, read_series_csv\n"
            "try:\n    read_series_csv(sys.argv[1])\nexcept CSVError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(f)], capture_output=True, text=True, timeout=120,
                          preexec_fn=_limit_memory, cwd=ROOT)
    assert proc.returncode == 0 and "gaps too large for a 60s step" in proc.stdout, proc.stderr[-500:]


# -- Batch.from_rows: the library's way in --------------------------------------------------


@pytest.mark.parametrize("timestamps, step", [
    ([1e20], 60),  # cast to -2**63 and accepted
    ([2**63 - 1], 60),  # one step later overflows
    ([2**64], 60),  # OverflowError, not ValueError
    ([1_700_000_000_000, 1_700_000_060_000], None),  # milliseconds
])
def test_timestamps_that_are_not_unix_seconds_are_refused(timestamps: list, step: int | None) -> None:
    with pytest.raises(ValueError, match="within ±1e\\+11"):
        Batch.from_rows([{}], timestamps, [[1.0] * len(timestamps)], step=step)


@pytest.mark.parametrize("step", [60.5, True, float("nan"), float("inf"), 10**30, 0, -60, "x"])
def test_a_step_that_is_not_whole_seconds_is_refused(step: object) -> None:
    with pytest.raises(ValueError, match="step must be"):  # 60.5 was truncated to 60, True read as 1
        Batch.from_rows([{}], [0], [[1.0]], step=step)  # type: ignore[arg-type]


def test_whole_float_and_numpy_steps_are_still_accepted() -> None:
    assert Batch.from_rows([{}], [0], [[1.0]], step=60.0).step == 60
    assert Batch.from_rows([{}], [0], [[1.0]], step=np.int64(300)).step == 300


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(-(2**65), 2**65), st.floats(allow_nan=True, allow_infinity=True)),
                min_size=1, max_size=5),
       st.one_of(st.none(), st.integers(-(2**65), 2**65), st.floats()))
def test_from_rows_gives_a_batch_of_the_given_times_or_a_value_error(timestamps: list, step: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an int64 cast of 1e20 only warned
        try:
            b = Batch.from_rows([{}], timestamps, [[0.0] * len(timestamps)], step=step)  # type: ignore[arg-type]
        except ValueError:
            return
    assert b.timestamps.tolist() == [int(t) for t in timestamps] and isinstance(b.step, int) and b.step > 0


# -- capacity-report options ------------------------------------------------------------------


@pytest.mark.parametrize("args, needle", [
    (["--agents", "0"], "agents must be an integer in 1..10000"),  # a ValueError traceback
    (["--horizon", "1000w"], "--horizon 1000w is 2,016,000 steps of 300s"),  # 4.9 GB, then a MemoryError
    (["--days", "100000"], "--days 100000 is 28,800,000 steps of 300s"),
])
def test_capacity_report_refuses_absurd_options_in_one_line(args: list[str], needle: str, tmp_path: Path) -> None:
    one_error(["capacity-report", *args, "--out", str(tmp_path)], needle)


# -- forecast horizons ---------------------------------------------------------------------------


def test_a_forecast_horizon_of_millions_of_steps_is_a_value_error_not_a_memory_error() -> None:
    from sentinel.forecast.forecaster import Forecaster

    ts = 1_700_000_000 + 300 * np.arange(600)
    with pytest.raises(ValueError, match="horizon 1000000000000s is 3333333333 steps of 300s; at most 100000"):
        Forecaster().forecast(ts, 50 + np.sin(np.arange(600) / 20), 10**12)  # asked numpy for 24.8 GiB


def test_a_watch_forecasting_millions_of_steps_ahead_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"watches\[0\]: forecast.horizon 7000d is 10,080,000 steps of 60s"):
        parse_config({"prometheus": {}, "watches": [{"name": "w", "query": "up", "forecast": {"horizon": "1000w"}}]})
