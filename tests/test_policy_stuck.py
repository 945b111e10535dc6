"""The policy's ``stuck`` alert: fires once the detector's stuck condition has held for ``for``, resolves on change.

Most tests hand the policy scores with a scripted condition (``Scores.stuck``:
1 stuck, 0 not, NaN missing) so each rule is checked alone; one runs the
default detector end to end, and one restores a checkpoint written before
the alert existed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sentinel.alerting.policy import STUCK_STATE, AlertEvent, Policy
from sentinel.alerting.render import alert_labels
from sentinel.config import AlertPolicyConfig, DetectorConfig, WatchConfig
from sentinel.defaults import embedded_config
from sentinel.detect.registry import build_detector
from sentinel.detect.scores import Scores
from sentinel.series import Batch
from tests.older_checkpoint import restored_without

STEP = 60
ON = {"for": "2m", "stuck": True}


def run(held: list[float], values: list[float] | None = None, policy: Policy | None = None,
        start: int = 0, **cfg: object) -> tuple[list[tuple[str, str, int]], Policy, list[AlertEvent]]:
    """(kind, status, step) of every transition over one series with stuck condition ``held``."""
    n = len(held)
    x = np.array([values if values is not None else [7.0] * n], dtype=float)
    batch = Batch.from_rows([{"agent": "a"}], timestamps=(start + np.arange(n)) * STEP, values=x, step=STEP)
    calm = np.where(np.isnan(x), np.nan, 0.5)  # never a score breach: only the stuck alert can fire
    scores = Scores(calm, np.full((1, n), 7.0), np.full((1, n), 6.0), np.full((1, n), 8.0),
                    stuck=np.array([held], dtype=float))
    policy = policy or Policy(AlertPolicyConfig.model_validate({**ON, **cfg}), watch="w")
    events = policy.update(batch, scores)
    return [(e.kind, e.status, e.at // STEP) for e in events], policy, events


def test_fires_after_for_and_resolves_when_the_value_changes() -> None:
    got, _, events = run([0, 0, 1, 1, 1, 1, 0, 0], values=[3, 7, 7, 7, 7, 7, 9, 8])
    assert got == [("stuck", "firing", 4), ("stuck", "resolved", 6)]  # held from 2: 2 minutes at 4
    fired, resolved = events
    assert fired.starts_at == 4 * STEP and resolved.starts_at == 4 * STEP and resolved.ends_at == 6 * STEP
    assert fired.value == 7.0 and fired.severity == "warning" and fired.labels == (("agent", "a"),)
    assert fired.summary == 'w: {agent="a"} is stuck at 7'
    assert "value 7 unchanged for 3m" in fired.description  # first seen at step 1
    assert "changed from 7 to 9 after 5m unchanged" in resolved.description
    assert alert_labels(fired.labels, fired.watch, fired.kind, fired.severity, {})["alertname"] == "SentinelStuck"


def test_for_zero_fires_at_once_and_a_short_hold_does_not_fire() -> None:
    assert run([0, 1, 0], **{"for": 0})[0] == [("stuck", "firing", 1), ("stuck", "resolved", 2)]
    assert run([0, 1, 1, 0, 1, 1, 0])[0] == []  # never held 2 minutes


def test_missing_data_holds_state() -> None:
    nan = float("nan")
    # pending across a gap: held since 1, missing at 2, fires at 3 (2 minutes after 1)
    assert run([0, 1, nan, 1, 1], values=[1, 7, nan, 7, 7])[0] == [("stuck", "firing", 3)]
    # firing across a gap: a missing value does not resolve it
    got, policy, _ = run([1, 1, 1, nan, nan, 1], values=[7, 7, 7, nan, nan, 7])
    assert got == [("stuck", "firing", 2)]
    assert run([nan, 0], values=[nan, 2], policy=policy, start=6)[0] == [("stuck", "resolved", 7)]


def test_state_carries_across_batches() -> None:
    _, policy, _ = run([0, 1, 1])
    assert run([1, 1, 0], policy=policy, start=3)[0] == [("stuck", "firing", 3), ("stuck", "resolved", 5)]


def test_off_by_config_or_without_the_condition() -> None:
    assert run([1] * 6, stuck=False)[0] == []
    assert run([1] * 6, enabled=False)[0] == []
    assert AlertPolicyConfig().stuck is False  # opt-in in a user's config
    metric = [w for w in embedded_config().watches if w.query is not None and w.detector is not None]
    assert metric and all(w.alert.stuck for w in metric)  # on in the embedded default
    x = np.full((1, 4), 7.0)
    plain = Scores(np.full((1, 4), 0.5), x, x - 1, x + 1)  # a detector without the stuck check
    policy = Policy(AlertPolicyConfig.model_validate(ON), watch="w")
    assert policy.update(Batch.from_rows([{}], np.arange(4) * STEP, x, step=STEP), plain) == []


@pytest.mark.parametrize("bad", ["maybe", 3, None, [True]])
def test_a_bad_stuck_setting_is_a_config_error_naming_it(bad: object) -> None:
    with pytest.raises(ValidationError, match="stuck"):
        AlertPolicyConfig.model_validate({"stuck": bad})


def test_anomaly_alerts_are_unchanged_by_the_stuck_alert() -> None:
    n = 8
    x = np.array([[7, 7, 20, 20, 20, 7, 7, 7]], dtype=float)
    s = np.array([[0.5, 0.5, 0.999, 0.999, 0.999, 0.5, 0.5, 0.5]])
    band = (np.full((1, n), 7.0), np.full((1, n), 6.0), np.full((1, n), 8.0))
    batch = Batch.from_rows([{"a": "1"}], np.arange(n) * STEP, x, step=STEP)
    got = {}
    for on in (False, True):
        pol = Policy(AlertPolicyConfig.model_validate({"for": "1m", "stuck": on}), watch="w")
        got[on] = [(e.kind, e.status, e.at) for e in pol.update(batch, Scores(s, *band, stuck=np.zeros((1, n))))]
    assert got[True] == got[False] == [("anomaly", "firing", 180), ("anomaly", "resolved", 300)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, float("nan")]), min_size=1, max_size=40), st.integers(0, 4))
def test_transitions_alternate_and_fire_only_after_for(held: list[float], wait: int) -> None:
    values = [float("nan") if h != h else 7.0 if h == 1 else float(k) for k, h in enumerate(held)]
    got, _, _ = run(held, values=values, **{"for": wait * STEP})
    assert [s for _, s, _ in got] == ["firing", "resolved"] * (len(got) // 2) + ["firing"] * (len(got) % 2)
    for kind, status, k in got:
        assert kind == "stuck"
        if status == "resolved":
            assert held[k] == 0
            continue
        assert held[k] == 1
        since = k  # the condition held (missing values between) from `since` to k
        while since > 0 and held[since - 1] != 0:
            since -= 1
        first = next(j for j in range(since, k + 1) if held[j] == 1)
        assert k - first >= wait


def test_the_default_detector_and_policy_alert_on_a_flatline() -> None:
    rng = np.random.default_rng(4)
    x = 100 + 10 * np.sin(np.arange(1200) * 2 * np.pi / 300) + rng.normal(0, 1, 1200)
    x[900:1000] = x[899]  # stuck for 101 values from 899
    batch = Batch.from_rows([{"agent": "a"}], np.arange(1200) * STEP, x[None, :], step=STEP)
    scores = build_detector(DetectorConfig(kind="default"), step=STEP).process(batch)
    events = Policy(AlertPolicyConfig.model_validate(ON), watch="w").update(batch, scores)
    stuck = [(e.status, e.at // STEP) for e in events if e.kind == "stuck"]
    assert stuck == [("firing", 899 + 29 + 2), ("resolved", 1000)]  # the 30th value, then 2 minutes


def test_a_checkpoint_from_before_the_stuck_alert_restores(tmp_path: Path) -> None:
    w = WatchConfig(name="tasks", query="agent_task_rate", every=300, alert={"stuck": True})
    fresh = restored_without(tmp_path, w, STUCK_STATE)
    assert set(STUCK_STATE) <= set(fresh.policy.state_) and not fresh.policy.state_["stuck"].any()
