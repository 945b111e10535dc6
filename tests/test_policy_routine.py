"""The policy's routine excursions: `for` lengthens to the series' own unalerted runs outside the band.

Why: a band-held episode (one report, then values outside the band) assumed
a value outside the band is rare unless the event goes on.  On a series
whose bursts last a few samples (disk or network counters, heavy-tailed tool
latencies) one report at a routine burst's first sample became an alert
under ``for: 2m`` (shapes benchmark, clean ``spiky`` twins: 1.57 false
alerts per series-week, every one a 3-sample burst).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sentinel.alerting.policy import Policy
from sentinel.alerting.routine import CAP as ROUTINE_CAP
from sentinel.alerting.routine import HALF_LIFE as ROUTINE_HALF_LIFE
from sentinel.alerting.routine import STATE
from sentinel.config import AlertPolicyConfig, WatchConfig
from sentinel.detect.scores import Scores
from sentinel.series import Batch
from tests.older_checkpoint import restored_without

STEP = 60
BURST = 3  # samples of a routine burst


def series(n: int, bursts: list[int], reported: list[int], length: int = BURST) -> tuple[np.ndarray, np.ndarray]:
    """Values (band 9 .. 11 around 10), ``length``-sample bursts to 20 at ``bursts``; score 0.999 at ``reported``."""
    x = np.full(n, 10.0)
    s = np.full(n, 0.1)
    for b in bursts:
        x[b:b + length] = 20.0
    s[reported] = 0.999
    return x, s


def fired(x: np.ndarray, s: np.ndarray, t0: int = 0, policy: Policy | None = None, **cfg: object) -> list[int]:
    """Steps at which the anomaly alert fires (one policy over the whole run, or ``policy`` continued)."""
    n = len(x)
    batch = Batch.from_rows([{"agent": "a"}], timestamps=t0 + np.arange(n) * STEP, values=x[None, :], step=STEP)
    sc = Scores(s[None, :], np.full((1, n), 10.0), np.full((1, n), 9.0), np.full((1, n), 11.0))
    p = policy or Policy(AlertPolicyConfig.model_validate({"for": "2m", **cfg}), watch="w")
    return [(e.at - t0) // STEP for e in p.update(batch, sc) if e.status == "firing"]


def test_a_report_at_a_routine_burst_does_not_alert() -> None:
    # bursts of 3 samples every 100 steps, unreported; then one reported at its first sample
    x, s = series(1000, bursts=list(range(50, 950, 100)), reported=[950])
    x[950:953] = 20.0
    assert fired(x, s) == []  # the old policy fired at 952 (report + 2 samples outside the band)


def test_the_same_report_alerts_on_a_series_without_bursts() -> None:
    x, s = series(1000, bursts=[950], reported=[950])
    assert fired(x, s) == [952]  # plain `for: 2m`: the third sample of the breach


def test_a_lasting_shift_still_alerts_one_sample_after_the_routine_burst_length() -> None:
    x, s = series(1000, bursts=list(range(50, 950, 100)), reported=[950])
    x[950:] = 20.0
    assert fired(x, s) == [953]  # outlasted the 3-sample routine run (the old policy: 952)


def test_a_report_just_inside_the_band_before_a_routine_burst_does_not_alert() -> None:
    # the clean spiky twins' false alert: a report one sample before a routine 3-sample burst opens the
    # episode inside the band; the burst then holds it, and timed from the report it outlasted the
    # routine run by a sample (the old policy fired at 952); timed from the run outside, it did not
    x, s = series(1000, bursts=list(range(50, 950, 100)), reported=[949])
    x[950:953] = 20.0
    assert fired(x, s) == []
    x[950:] = 20.0  # the same start, lasting: it alerts once the run outside outlasts the routine one
    assert fired(x, s) == [953]


def test_a_breach_inside_the_band_keeps_its_own_start() -> None:
    # high scores inside the band (no run outside) are timed from the report, as before
    x, s = series(1000, bursts=list(range(50, 950, 100)), reported=list(range(950, 960)))
    assert fired(x, s) == [953]


def test_bursts_above_the_band_do_not_delay_a_drop_below_it() -> None:
    x, s = series(1000, bursts=list(range(50, 950, 100)), reported=[950])
    x[950:] = 0.0
    assert fired(x, s) == [952]  # plain `for`: the routine runs were above the band


def test_single_sample_excursions_keep_for() -> None:
    x, s = series(1000, bursts=list(range(50, 950, 100)), reported=[950], length=1)
    x[950:] = 20.0
    assert fired(x, s) == [952]


def test_runs_that_alerted_or_lasted_too_long_are_not_routine() -> None:
    # a reported 10-sample event alerts: it must not teach the policy to wait 10 samples
    x, s = series(1000, bursts=[100], reported=[100], length=10)
    x[950:] = 20.0
    s[950] = 0.999
    assert fired(x, s) == [102, 952]
    # an unreported excursion longer than ROUTINE_CAP x for is an event the detector missed, not routine
    x, s = series(1000, bursts=[100], reported=[950], length=ROUTINE_CAP * 2 + 2)
    x[950:] = 20.0
    assert fired(x, s) == [952]


def test_the_routine_length_fades_with_its_half_life() -> None:
    # 180 s learned; a reported 3-sample burst a third of a half-life later is still routine (180 * 0.5**(1/3) s
    # = 143 s > for), one half-life later it is not (90 s < for): the burst's third sample alerts again
    for delay, expect in ((ROUTINE_HALF_LIFE // 3, []), (ROUTINE_HALF_LIFE, [52])):
        policy = Policy(AlertPolicyConfig.model_validate({"for": "2m"}), watch="w")
        x, s = series(200, bursts=[50], reported=[])
        assert fired(x, s, policy=policy) == []
        x, s = series(100, bursts=[50], reported=[50])
        assert fired(x, s, t0=200 * STEP + delay, policy=policy) == expect


def test_missing_values_hold_a_run() -> None:
    x, s = series(1000, bursts=list(range(50, 950, 100)), reported=[950])
    x[51::100][:9] = np.nan  # each routine burst has a gap: still one 3-sample run
    x[950:953] = 20.0
    assert fired(x, s) == []


def test_for_zero_is_unchanged() -> None:
    x, s = series(1000, bursts=list(range(50, 950, 100)), reported=[950])
    assert fired(x, s, **{"for": "0s"}) == [950]


def test_a_checkpoint_from_before_routine_runs_restores_with_them_fresh(tmp_path: Path) -> None:
    """Upgrading keeps firing alerts: the policy state a checkpoint lacks starts fresh instead of being refused."""
    fresh = restored_without(tmp_path, WatchConfig(name="tasks", query="agent_task_rate", every=300), STATE)
    assert set(STATE) <= set(fresh.policy.state_)
    assert (fresh.policy.state_["routine"] == 0).all() and not fresh.policy.state_["in_run"].any()
