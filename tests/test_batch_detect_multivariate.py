"""The per-agent multivariate detector catches "everything slightly off" that per-series scores miss."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sentinel.alerting.policy import Policy
from sentinel.config import AlertPolicyConfig
from sentinel.detect.multivariate import AgentMultivariateDetector
from sentinel.detect.stl import STLDetector
from sentinel.series import Batch

STEP, HIST, NEW, AGENTS, METRICS = 300, 4032, 288, 12, 5
SHIFT = slice(100, 160)


@pytest.fixture(scope="module")
def fleet() -> tuple[dict[str, Batch], dict[str, Batch]]:
    """5 metrics x 12 agents; in the new day agent a0 has every metric +1.5 sigma for 5 hours."""
    rng = np.random.default_rng(3)
    ts = np.arange(HIST + NEW) * STEP
    sig = {}
    for k in range(METRICS):
        base = 10 + k + (k + 1) * np.sin(2 * np.pi * ts / 86400)[None, :]
        x = base + rng.normal(size=(AGENTS, len(ts)))
        w = np.arange(HIST, HIST + NEW)[SHIFT]
        x[0, w] = base[0, w] + 1.5 + rng.normal(0, 0.2, len(w))
        sig[f"m{k}"] = Batch.from_rows([{"agent": f"a{i}"} for i in range(AGENTS)], ts, x)
    return {k: b.window(0, HIST) for k, b in sig.items()}, {k: b.window(HIST, None) for k, b in sig.items()}


def test_all_slightly_off_is_caught_when_no_series_is(fleet: tuple[dict[str, Batch], dict[str, Batch]]) -> None:
    hist, new = fleet
    per_series = max(STLDetector().fit(hist[k]).score(new[k]).score[0, SHIFT].max() for k in hist)
    assert per_series < 0.99  # no single series of the agent crosses the threshold

    det = AgentMultivariateDetector().fit(hist)
    batch, scores = det.score_agents(new)
    assert batch.labels[0] == (("agent", "a0"),) and batch.n_series == AGENTS
    assert scores.score[0, SHIFT].max() >= 0.999
    assert (scores.score[0, SHIFT] >= 0.99).mean() > 0.5
    assert (scores.score[1:] >= 0.99).mean() < 0.03  # the other agents stay calm
    assert set(scores.members or {}) == {f"m{k}" for k in range(METRICS)}

    events = Policy(AlertPolicyConfig(threshold=0.99), watch="agents").update(batch, scores)
    fired = [e for e in events if e.status == "firing"]
    assert any(e.labels == (("agent", "a0"),) and HIST + SHIFT.start <= e.at // STEP <= HIST + SHIFT.stop
               for e in fired)


def test_one_batch_of_features_works() -> None:
    rng = np.random.default_rng(0)
    ts = np.arange(600) * 60
    labels = [{"agent": f"a{i}", "metric": m} for i in range(6) for m in ("cpu", "mem", "lat")]
    b = Batch.from_rows(labels, ts, rng.normal(size=(18, 600)))
    det = AgentMultivariateDetector().fit(b.window(0, 500))
    out, s = det.score_agents(b.window(500, None))
    assert out.n_series == 6 and s.score.shape == (6, 100)
    assert np.isfinite(s.score).all()


def test_new_agent_and_missing_metric() -> None:
    rng = np.random.default_rng(1)
    ts = np.arange(400) * 60
    a = Batch.from_rows([{"agent": f"a{i}"} for i in range(4)], ts, rng.normal(size=(4, 400)))
    b = Batch.from_rows([{"agent": f"a{i}"} for i in range(4)], ts, rng.normal(size=(4, 400)))
    det = AgentMultivariateDetector().fit({"x": a.window(0, 300), "y": b.window(0, 300)})
    late = Batch.from_rows([{"agent": "a9"}, {"agent": "a1"}], ts[300:], rng.normal(size=(2, 100)))
    out, s = det.score_agents({"x": late})  # y is missing entirely, a9 is new
    assert {lb[0][1] for lb in out.labels} == {"a1", "a9"}
    assert np.isfinite(s.score).all()


def test_bad_inputs() -> None:
    ts = np.arange(100) * 60
    a = Batch.from_rows([{"agent": "a"}], ts, np.zeros((1, 100)))
    with pytest.raises(ValueError, match="time grid"):
        AgentMultivariateDetector().fit({"x": a, "y": a.window(0, 50)})
    with pytest.raises(ValueError, match="label 'agent'"):
        AgentMultivariateDetector().fit(Batch.from_rows([{"host": "h"}], ts, np.zeros((1, 100))))
    with pytest.raises(TypeError):
        AgentMultivariateDetector().fit({})
    with pytest.raises(RuntimeError, match="not fitted"):
        AgentMultivariateDetector().score(a)
    with pytest.raises(ValueError, match="smoothing"):
        AgentMultivariateDetector(smoothing=0).fit(a)


@pytest.mark.parametrize("case", ["constant", "all_missing", "one_agent", "five_steps"])
def test_degenerate_inputs_never_crash(case: str) -> None:
    rng = np.random.default_rng(0)
    n = 5 if case == "five_steps" else 300
    agents = 1 if case == "one_agent" else 4
    x, y = rng.normal(size=(agents, n)), rng.normal(size=(agents, n))
    if case == "constant":
        y[:] = 3.0
    if case == "all_missing":
        y[:] = np.nan
    labels = [{"agent": f"a{i}"} for i in range(agents)]
    ts = np.arange(n) * 60
    inputs = {"x": Batch.from_rows(labels, ts, x), "y": Batch.from_rows(labels, ts, y)}
    later = {k: Batch(b.timestamps + n * 60, b.values, b.labels, b.step) for k, b in inputs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn: a singular covariance is expected here
        _, s = AgentMultivariateDetector().fit(inputs).score_agents(later)
    assert s.score.shape == (agents, n)
    assert np.isfinite(s.score).all() and (s.score >= 0).all() and (s.score <= 1).all()


def test_forgetting_an_agent_leaves_the_others_scores_bit_identical() -> None:
    rng = np.random.default_rng(2)
    ts = np.arange(600) * 60
    labels = [{"agent": f"a{i}", "metric": m} for i in range(5) for m in ("cpu", "mem")]
    b = Batch.from_rows(labels, ts, rng.normal(size=(10, 600)))
    kept = b.select(np.arange(2, 10))  # a0's two series are gone
    ref, det = AgentMultivariateDetector().fit(b.window(0, 500)), AgentMultivariateDetector().fit(b.window(0, 500))
    det.forget(b.labels[:2])
    assert len(det.agents_) == 4 and det.last_ewma_.shape[0] == 4 and len(det.stl_[""].index_) == 8
    ours, theirs = det.advance(kept.window(500, None)), ref.advance(b.window(500, None))
    for name in ("score", "expected", "lower", "upper"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name)[2:])
    back = det.series_view(b.window(500, None).select([0]))  # a0 comes back: unknown to this fit
    assert np.isnan(back.expected).all()


def test_an_agent_that_joined_after_the_fit_keeps_its_ewma_while_one_of_its_series_reports() -> None:
    """Before: forgetting one series of an agent the fit never saw dropped the agent (its EWMA restarted),
    though its other series still reported; forgetting a gone series must change nothing else."""
    rng = np.random.default_rng(4)
    ts = np.arange(700) * 60
    b = Batch.from_rows([{"agent": f"a{i}", "metric": m} for i in range(5) for m in ("cpu", "mem")], ts,
                        rng.normal(size=(10, 700)))
    fit_on = b.select(np.arange(8)).window(0, 500)  # a4 joins after the fit
    det, ref = AgentMultivariateDetector().fit(fit_on), AgentMultivariateDetector().fit(fit_on)
    det.advance(b.window(500, 600))
    ref.advance(b.window(500, 600))
    det.forget([b.labels[8]])  # a4's cpu is gone, its mem still reports
    assert len(det.agents_) == 5 and det.last_ewma_.shape[0] == 5
    rest = b.select(np.r_[0:8, 9]).window(600, None)
    ours, theirs = det.advance(rest), ref.advance(rest)
    np.testing.assert_array_equal(ours.score, theirs.score)
    det.forget([b.labels[9]])  # nothing of a4 is left
    assert (("agent", "a4"),) not in det.agents_ and det.last_ewma_.shape[0] == 4


def test_a_model_saved_before_it_kept_its_series_still_advances_and_forgets(tmp_path) -> None:
    from sentinel.detect import persist

    rng = np.random.default_rng(5)
    b = Batch.from_rows([{"agent": f"a{i}", "metric": "cpu"} for i in range(4)], np.arange(600) * 60,
                        rng.normal(size=(4, 600)))
    det = AgentMultivariateDetector().fit(b.window(0, 500))
    persist.save(det, tmp_path)
    assert persist.load(tmp_path).series_.keys == det.series_.keys == list(b.labels)
    vars(det).pop("series_")  # as an older sentinel saved it
    det.advance(b.window(500, None))
    det.forget(b.labels[:1])
    assert det.series_.keys == list(b.labels[1:]) and len(det.agents_) == 3
