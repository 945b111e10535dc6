"""The policy: threshold, for, hysteresis, direction, minimum deviation, absence."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.alerting import peak
from sentinel.alerting.policy import Policy
from sentinel.config import AlertPolicyConfig, WatchConfig
from sentinel.detect.scores import Scores
from sentinel.series import Batch
from tests.older_checkpoint import restored_without

STEP = 60


def run(scores: list[float], values: list[float] | None = None, expected: float = 10.0, **cfg):
    n = len(scores)
    if values is None:  # outside the band (9 .. 11) exactly when the score is high
        values = [20.0 if sc >= 0.95 else 10.0 for sc in scores]
    vals = np.array([values], dtype=float)
    batch = Batch.from_rows([{"agent": "a"}], timestamps=np.arange(n) * STEP, values=vals, step=STEP)
    sc = Scores(np.array([scores], dtype=float), np.full((1, n), expected), np.full((1, n), expected - 1),
                np.full((1, n), expected + 1))
    policy = Policy(AlertPolicyConfig.model_validate(cfg), watch="w")
    return [(e.status, e.at // STEP) for e in policy.update(batch, sc)], policy


def test_fires_at_threshold_and_resolves_below() -> None:
    events, _ = run([0.5, 0.995, 0.995, 0.2])
    assert events == [("firing", 1), ("resolved", 3)]


def test_for_requires_sustained_breach() -> None:
    events, _ = run([0.999, 0.1, 0.999, 0.999, 0.999, 0.1], **{"for": "2m"})
    assert events == [("firing", 4), ("resolved", 5)]


def test_hysteresis_keeps_firing_between_levels() -> None:
    events, _ = run([0.999, 0.97, 0.96, 0.93], hysteresis=0.05)
    assert events == [("firing", 0), ("resolved", 3)]


def test_episode_lasts_while_value_stays_outside_band() -> None:
    # the detector flags the start of an event and lowers the score of its rest (refractory):
    # the alert still becomes due after `for`, and resolves when the value is back in the band
    events, _ = run([0.999, 0.2, 0.2, 0.2, 0.2], values=[20.0, 20.0, 20.0, 20.0, 10.0], **{"for": "2m"})
    assert events == [("firing", 2), ("resolved", 4)]
    # a value outside the band with a low score does not open an episode on its own
    assert run([0.2, 0.2], values=[20.0, 20.0])[0] == []


def test_flagged_early_fires_once_deviation_is_big_enough() -> None:
    # expected 10, band 9 .. 11; 20% = 2: the score flags 11.5 (too small a move), the value keeps
    # growing outside the band while the score falls back, and the alert fires at 12.5
    events, _ = run([0.999, 0.3, 0.3, 0.1], values=[11.5, 11.8, 12.5, 10.0], min_deviation="20%")
    assert events == [("firing", 2), ("resolved", 3)]


def test_resolve_after_waits() -> None:
    events, _ = run([0.999, 0.1, 0.1, 0.1], resolve_after="2m")
    assert events == [("firing", 0), ("resolved", 3)]


def test_direction_and_min_deviation() -> None:
    assert run([0.999] * 2, values=[5.0, 5.0], direction="up")[0] == []
    assert run([0.999] * 2, values=[5.0, 5.0], direction="down")[0] == [("firing", 0)]
    # 20% of expected 10 = 2: a deviation of 1 is ignored, of 3 alerts
    assert run([0.999] * 2, values=[11.0, 11.0], min_deviation="20%")[0] == []
    assert run([0.999] * 2, values=[13.0, 13.0], min_deviation="20%")[0] == [("firing", 0)]
    assert run([0.999] * 2, values=[13.0, 13.0], min_deviation=5)[0] == []


def test_missing_data_holds_state_and_absent_alert() -> None:
    nan = float("nan")
    events, _ = run([0.999, nan, nan, 0.1], values=[20.0, nan, nan, 10.0])
    assert events == [("firing", 0), ("resolved", 3)]
    events, _ = run([0.1, nan, nan, nan, 0.1], values=[20.0, nan, nan, nan, 20.0], absent_for="2m")
    assert events == [("firing", 2), ("resolved", 4)]


def test_state_carries_across_batches_and_series_order() -> None:
    cfg = AlertPolicyConfig.model_validate({"for": "1m"})
    policy = Policy(cfg, watch="w")

    def batch(t0: int, labels: list[str], score: list[float]):
        b = Batch.from_rows([{"agent": a} for a in labels], timestamps=[t0], values=[[20.0]] * len(labels), step=STEP)
        s = np.array(score)[:, None]
        return b, Scores(s, np.full_like(s, 10.0), np.full_like(s, 9.0), np.full_like(s, 11.0))

    assert policy.update(*batch(0, ["a", "b"], [0.999, 0.1])) == []
    events = policy.update(*batch(60, ["b", "a"], [0.1, 0.999]))
    assert [(e.status, dict(e.labels)["agent"]) for e in events] == [("firing", "a")]
    assert policy.firing() == [(("agent", "a"),)]


def test_event_carries_evidence() -> None:
    _, policy = run([0.1])
    n = 2
    b = Batch.from_rows([{"agent": "a"}], timestamps=[600, 660], values=[[25.0, 25.0]], step=STEP)
    sc = Scores(np.full((1, n), 0.9999), np.full((1, n), 10.0), np.full((1, n), 8.0), np.full((1, n), 12.0),
                members={"seasonal": np.full((1, n), 0.9999), "change": np.full((1, n), 0.3)})
    ev = policy.update(b, sc)[0]
    assert (ev.value, ev.expected, ev.lower, ev.upper, ev.members) == (25.0, 10.0, 8.0, 12.0, ["seasonal"])
    assert "above its expected range" in ev.summary and "band 8 .. 12" in ev.description


def test_events_carry_the_episodes_peak_score_and_its_members() -> None:
    """The detector reports a shift at its start, then lowers the score while the value stays above the band:
    the alert fires after `for` and resolves later, both carrying the report's score and members, not the
    calm score at those moments."""
    values = [10, 25, 25, 25, 25, 10, 10]
    score = [0.1, 0.9995, 0.4, 0.0, 0.0, 0.0, 0.0]
    seasonal = [0.1, 0.9995, 0.2, 0.0, 0.0, 0.0, 0.0]
    change = [0.1, 0.3, 0.9999, 0.0, 0.0, 0.0, 0.0]  # above the threshold after the peak: not the peak's member
    n = len(values)
    b = Batch.from_rows([{"agent": "a"}], timestamps=np.arange(n) * STEP, values=[values], step=STEP)
    sc = Scores(np.array([score]), np.full((1, n), 10.0), np.full((1, n), 8.0), np.full((1, n), 12.0),
                members={"seasonal": np.array([seasonal]), "change": np.array([change])})
    policy = Policy(AlertPolicyConfig.model_validate({"for": "2m"}), watch="w")
    fired, resolved = policy.update(b, sc)
    assert (fired.status, fired.at // STEP, resolved.status, resolved.at // STEP) == ("firing", 3, "resolved", 5)
    assert (fired.score, fired.members) == (0.9995, ["seasonal"])
    assert (resolved.score, resolved.members) == (0.9995, ["seasonal"])
    assert "peak score 0.9995" in fired.description and "flagged by seasonal" in fired.description


def test_a_policy_checkpoint_from_before_the_episode_peak_restores(tmp_path) -> None:
    fresh = restored_without(tmp_path, WatchConfig(name="lat", query="agent_task_latency_p95", every=300),
                             peak.STATE)
    assert np.isnan(fresh.policy.state_["peak_score"]).all() and (fresh.policy.state_["peak_members"] == 0).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=40))
def test_transitions_alternate(scores: list[float]) -> None:
    events, _ = run(scores, **{"for": "1m"})
    statuses = [s for s, _ in events]
    assert all(a != b for a, b in itertools.pairwise(statuses))
    assert not statuses or statuses[0] == "firing"


def test_a_series_the_source_stops_returning_goes_absent_and_comes_back() -> None:
    """A real Prometheus leaves a series with no sample in the range out of the result: the policy still
    knows it, so it goes absent at its last value + absent_for, and is back at its next value."""
    policy = Policy(AlertPolicyConfig.model_validate({"absent_for": "5m"}), watch="w")

    def batch(agents: list[str], t0: int, n: int) -> tuple[Batch, Scores]:
        b = Batch.from_rows([{"agent": a} for a in agents], timestamps=t0 + np.arange(n) * STEP,
                            values=np.full((len(agents), n), 10.0), step=STEP)
        shape = (len(agents), n)
        return b, Scores(np.full(shape, 0.1), np.full(shape, 10.0), np.full(shape, 9.0), np.full(shape, 11.0))

    assert policy.update(*batch(["a", "b"], 0, 3)) == []  # both seen last at 120
    gone = policy.update(*batch(["a"], 180, 10))  # "b" is not returned at all from 180 on
    assert [(e.kind, e.status, dict(e.labels)["agent"], e.at) for e in gone] == [("absent", "firing", "b", 420)]
    assert "has sent no data for 5m" in gone[0].description
    assert policy.update(*batch(["a"], 780, 2)) == []  # still absent: no second firing
    [back] = policy.update(*batch(["a", "b"], 900, 1))
    assert (back.kind, back.status, back.starts_at, back.at) == ("absent", "resolved", 420, 900)
    assert "after 13m without" in back.description
