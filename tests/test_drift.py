"""The drift check and the ``drift`` alert: a slow ramp or a lost daily cycle pages while it acts.

Before the check (``benchmarks/shapes.py``) a ramp of 8 noise sd over 6 h
alerted on 0.00-0.01 of series: the baseline and the guard follow it, so no
run of high scores outlasts ``for``.  End to end, the default detector and
the embedded default's alert settings must raise a ``drift`` alert on a
ramp and on a daily cycle that stops, and none on clean twins (white noise,
a daily cycle, an AR(1) wander).  The detector's batch, one-step and
checkpointed paths must agree exactly, and a checkpoint from before the
check (detector or policy) must restore.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.signal import lfilter

from sentinel.alerting import drift as policy_drift
from sentinel.alerting.policy import Policy
from sentinel.alerting.render import alert_labels
from sentinel.config import AlertPolicyConfig, DetectorConfig, WatchConfig
from sentinel.config.values import Deviation
from sentinel.defaults import embedded_config
from sentinel.detect import drift, persist
from sentinel.detect.base import OnlineDetector
from sentinel.detect.registry import build_detector
from sentinel.detect.scores import Scores
from sentinel.series import Batch
from tests.older_checkpoint import restored_without

STEP = 60
DAY = 1440  # steps
DAYS = 9
ONSET = 8 * DAY + 60  # 01:00 on the ninth day: a strong daily cycle's profile has had a week


def default() -> OnlineDetector:
    return build_detector(DetectorConfig(kind="default"), step=STEP)


def batch(x: np.ndarray, start: int = 0) -> Batch:
    x = np.atleast_2d(x)
    return Batch.from_rows([{"s": str(i)} for i in range(len(x))], (start + np.arange(x.shape[1])) * STEP, x,
                           step=STEP)


def fleet_of_series() -> tuple[np.ndarray, list[str]]:
    """Clean twins and incidents, 9 days at 1-minute steps (the incidents from 01:00 on day 9)."""
    rng = np.random.default_rng(5)
    t = np.arange(DAYS * DAY)
    cycle = 20 * np.sin(2 * np.pi * t / DAY)
    ramp = np.clip((t - ONSET) / 360, 0, 1) * 8  # 8 noise sd over 6 h, then held
    ar = lfilter([1.0], [1.0, -0.97], rng.normal(0, 1, t.size)) * np.sqrt(1 - 0.97**2)  # marginal sd 1
    frozen = np.where(t >= ONSET, cycle[ONSET] - cycle, 0.0)
    rows = {
        "clean": 100 + rng.normal(0, 1, t.size),
        "clean daily": 100 + cycle + rng.normal(0, 1, t.size),
        "clean ar1": 100 + ar,
        "ramp": 100 + ramp + rng.normal(0, 1, t.size),
        "ramp daily": 100 + cycle + ramp + rng.normal(0, 1, t.size),
        "cycle loss": 100 + cycle + frozen + rng.normal(0, 1, t.size),
    }
    return np.array(list(rows.values())), list(rows)


def alerts(x: np.ndarray) -> list[tuple[int, str, str, int]]:
    """(row, kind, status, step) of every alert transition of the default detector and the embedded policy."""
    alert = next(w.alert for w in embedded_config().watches if w.query is not None and w.alert.for_ > 0)
    policy = Policy(alert.model_copy(update={"direction": "both", "min_deviation": Deviation()}), watch="w")
    det, out = default(), []
    for a in range(0, x.shape[1], DAY):
        b = batch(x[:, a:a + DAY], a)
        out += [(int(e.labels[0][1]), e.kind, e.status, e.at // STEP) for e in policy.update(b, det.process(b))]
    return out


def test_a_ramp_and_a_lost_cycle_page_while_they_act_and_clean_twins_do_not() -> None:
    x, names = fleet_of_series()
    got = alerts(x)
    drifts: dict[str, int] = {}
    for r, kind, status, at in got:
        if kind == "drift" and status == "firing":
            drifts.setdefault(names[r], at)
    assert set(drifts) == {"ramp", "ramp daily", "cycle loss"}, got
    assert all(ONSET < at < ONSET + 360 for at in drifts.values()), drifts  # the ramp is still rising
    assert not [names[r] for r, kind, _, _ in got if kind == "drift" and names[r].startswith("clean")]


def test_the_alert_says_it_drifted_and_resolves_once_the_new_level_is_normal() -> None:
    t = np.arange(12 * DAY)
    x = 100 + np.clip((t - ONSET) / 360, 0, 1) * 8 + np.random.default_rng(2).normal(0, 1, t.size)
    alert = AlertPolicyConfig.model_validate({"for": "2m", "drift": "15m"})
    policy, det, events = Policy(alert, watch="w"), default(), []
    for a in range(0, t.size, DAY):
        b = batch(x[None, a:a + DAY], a)
        events += [e for e in policy.update(b, det.process(b)) if e.kind == "drift"]
    fired, resolved = events  # one episode: it fires while rising and settles once the level is the new normal
    assert fired.status == "firing" and resolved.status == "resolved" and resolved.starts_at == fired.starts_at
    assert "drifted up" in fired.summary and "held in the past days (about 10" in fired.description  # about 100
    assert ONSET + 360 < resolved.at // STEP < ONSET + 3 * DAY, (fired.at // STEP, resolved.at // STEP)
    assert alert_labels(fired.labels, fired.watch, fired.kind, fired.severity, {})["alertname"] == "SentinelDrift"


def scripted(cond: list[float], **cfg: object) -> list[tuple[str, int]]:
    """(status, step) of the drift alert over one series whose drift condition is ``cond``."""
    n = len(cond)
    x = np.where(np.isnan(cond), np.nan, 7.0)[None, :]
    calm = np.where(np.isnan(x), np.nan, 0.5)  # never a score breach
    scores = Scores(calm, np.full((1, n), 7.0), np.full((1, n), 6.0), np.full((1, n), 8.0),
                    drift=np.array([cond], dtype=float))
    policy = Policy(AlertPolicyConfig.model_validate({"for": "2m", "drift": "3m", **cfg}), watch="w")
    b = Batch.from_rows([{"a": "1"}], np.arange(n) * STEP, x, step=STEP)
    return [(e.status, e.at // STEP) for e in policy.update(b, scores) if e.kind == "drift"]


def test_policy_holds_the_condition_for_the_drift_duration_and_the_harmful_way() -> None:
    nan = float("nan")
    assert scripted([0, 2, 2, 2, 2, 0, 0, 0, 0]) == [("firing", 4), ("resolved", 8)]  # 3 minutes on, 3 off
    assert scripted([0, 2, 2, 2, 0, 2]) == []  # never held 3 minutes
    assert scripted([0, 2, nan, 2, 2, nan, 0, 0, 0, 0]) == [("firing", 4), ("resolved", 9)]  # missing: hold
    assert scripted([0, -2, -2, -2, -2], direction="up") == []
    assert scripted([0, -2, -2, -2, -2], direction="down") == [("firing", 4)]
    assert scripted([0, 2, 2, 2, 2], min_deviation={"value": 3}) == []  # an excess of 2 is too small
    assert scripted([0, 2, 2, 2, 2], drift=None) == []  # off
    assert scripted([0, 2, 2, 2, 2, 2], **{"for": "4m"}) == [("firing", 5)]  # at least `for`


def stepwise(det: OnlineDetector, x: np.ndarray, start: int) -> np.ndarray:
    """The condition from ``score`` then ``learn`` one column at a time (a watch's one-step cycles)."""
    cols = []
    for k in range(x.shape[1]):
        b = batch(x[:, k:k + 1], start + k)
        s = det.score(b)
        assert s.drift is not None
        cols.append(s.drift[:, 0])
        det.learn(b)
    return np.stack(cols, axis=1)


def test_batch_one_step_and_a_checkpoint_agree(tmp_path: Path) -> None:
    x, _ = fleet_of_series()
    x = x[[0, 3], :ONSET + 300]  # 5 h into the ramp
    x[0, 100:110] = np.nan
    whole = default().process(batch(x)).drift
    assert whole is not None and (whole[1, -60:] > 0).all() and (whole[0] == 0).sum() == x.shape[1] - 10
    cut = ONSET + 120
    det = default()
    det.process(batch(x[:, :cut]))
    persist.save(det, tmp_path / "det")
    rest = persist.load(tmp_path / "det").process(batch(x[:, cut:], cut)).drift
    assert rest is not None
    np.testing.assert_array_equal(rest, whole[:, cut:])
    np.testing.assert_array_equal(stepwise(persist.load(tmp_path / "det"), x[:, cut:], cut), whole[:, cut:])


def test_a_detector_checkpoint_from_before_the_check_restores_and_starts_it_fresh(tmp_path: Path) -> None:
    x, _ = fleet_of_series()
    det = default()
    det.process(batch(x[:, :DAY]))
    for k in drift.KEYS:
        del det.state_[k]  # what a checkpoint written before the check holds
    persist.save(det, tmp_path / "det")
    again = persist.load(tmp_path / "det")
    out = again.process(batch(x[:, DAY:2 * DAY], DAY)).drift
    assert out is not None and (out == 0).all()  # nothing to say yet
    assert set(drift.KEYS) <= set(again.state_) and np.isfinite(again.state_["dr.r1"]).all()  # fresh, learning
    assert again.state_["dr.pf"].shape == (len(x), drift.HOURS)


def test_a_policy_checkpoint_from_before_the_drift_alert_restores(tmp_path: Path) -> None:
    w = WatchConfig(name="tasks", query="agent_task_rate", every=300, alert={"drift": "15m"})
    fresh = restored_without(tmp_path, w, policy_drift.STATE)
    assert set(policy_drift.STATE) <= set(fresh.policy.state_) and not fresh.policy.state_["drift"].any()


def test_off_by_parameter() -> None:
    det = build_detector(DetectorConfig(kind="default", params={"drift": False}), step=STEP)
    assert det.process(batch(np.ones((1, 10)))).drift is None
    assert not any(k.startswith("dr.") for k in det.state_)


@pytest.mark.parametrize("bad", ["soon", -60])
def test_a_bad_drift_setting_is_a_config_error(bad: object) -> None:
    with pytest.raises(ValueError, match="drift"):
        AlertPolicyConfig.model_validate({"drift": bad})


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 300),
                  elements=st.sampled_from([0.0, 1.0, -1.0, 1e300, -1e300, np.nan, 2.5])))
def test_any_input_gives_a_finite_excess_or_nan(x: np.ndarray) -> None:
    p = drift.Params(0.2, 0.05, 0.05, 1e-3, 2.0, 0.1, 1.0, 0.5, 3, 6, STEP)  # warm after 6 values: it judges
    a = drift.arrays(drift.init_state(1))
    out = np.empty(len(x))
    for n, v in enumerate(x):
        out[n] = drift.step(a, p, 0, n * 600, v, 4.0, n, False)
        assert drift.step(a, p, 0, n * 600, v, 4.0, n, True) == out[n] or np.isnan(out[n])  # judged before learning
    assert (np.isnan(out) == np.isnan(x)).all()
    assert np.isfinite(out[~np.isnan(x)]).all()
