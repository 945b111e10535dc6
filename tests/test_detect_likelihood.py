"""Likelihood wrapper: causal, vectorised, checkpointable, sane on degenerate input."""

from __future__ import annotations

import numpy as np
import pytest

from sentinel.config import DetectorConfig
from sentinel.detect import persist
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.registry import build_detector
from sentinel.series import Batch

STEP = 60


def make() -> Likelihood:
    return Likelihood(build_detector(DetectorConfig(kind="guarded"), step=STEP))


def batch(values: np.ndarray, start: int = 0, names: list[str] | None = None) -> Batch:
    values = np.atleast_2d(values)
    names = names or [str(i) for i in range(values.shape[0])]
    ts = (start + np.arange(values.shape[1], dtype=np.int64)) * STEP
    return Batch.from_rows([{"s": n} for n in names], ts, values, step=STEP)


def noisy(n_series: int = 4, n: int = 900, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(10.0, 1.0, (n_series, n)) + np.sin(np.arange(n) / 30.0)
    if n > 700:
        x[:, 700] += 25.0  # one clear spike per series
    x[1, n // 2 :] += 8.0  # a level shift in one series
    x[-1, 50:80] = np.nan  # a gap
    return x


def test_causal_prefix_scores_never_change() -> None:
    x = noisy()
    full = make().process(batch(x)).score
    part = make().process(batch(x[:, :500])).score
    np.testing.assert_array_equal(part, full[:, :500])


def test_chunks_equal_one_pass() -> None:
    x = noisy()
    full = make().process(batch(x)).score
    det = make()
    a = det.process(batch(x[:, :333])).score
    b = det.process(batch(x[:, 333:], start=333)).score
    np.testing.assert_array_equal(np.hstack([a, b]), full)


def test_batch_of_series_equals_each_alone() -> None:
    x = noisy(n_series=5)
    together = make().process(batch(x)).score
    for i in range(5):
        alone = make().process(batch(x[i], names=[str(i)])).score[0]
        np.testing.assert_allclose(alone, together[i], rtol=0, atol=1e-12, equal_nan=True)


def test_spike_reported_once_and_level_shift_once() -> None:
    x = noisy()
    s = make().process(batch(x)).score
    reported = s >= 0.99
    assert reported[:, 700].all()  # the spike crosses the a-priori decision level decide_at
    assert not reported[:, :150].any()  # warm-up
    assert reported[1, 450:470].sum() == 1  # refractory: one event, one report
    stray = reported.sum() - reported[:, 700].sum() - 1
    assert stray <= 0.01 * reported[:, 150:].size  # q is learned: stray reports are rare, not absent


def test_scores_are_nan_only_where_inner_is() -> None:
    x = noisy()
    inner = build_detector(DetectorConfig(kind="guarded"), step=STEP).process(batch(x))
    wrapped = make().process(batch(x))
    np.testing.assert_array_equal(np.isnan(wrapped.score), np.isnan(inner.score))
    np.testing.assert_array_equal(wrapped.expected, inner.expected)
    np.testing.assert_array_equal(wrapped.upper, inner.upper)
    ok = ~np.isnan(wrapped.score)
    assert ((wrapped.score[ok] >= 0) & (wrapped.score[ok] <= 1)).all()


def test_members_pass_through() -> None:
    x = noisy(n_series=2, n=300)
    inner = Ensemble(step=STEP).process(batch(x))
    wrapped = Likelihood(Ensemble(step=STEP)).process(batch(x))
    assert inner.members and wrapped.members and set(wrapped.members) == set(inner.members)
    for k, v in inner.members.items():
        np.testing.assert_array_equal(wrapped.members[k], v)


@pytest.mark.parametrize("kind", ["constant", "nan", "huge"])
def test_degenerate_inputs(kind: str) -> None:
    n = 600
    x = np.full(n, 5.0)
    if kind == "nan":
        x[:] = np.nan
    if kind == "huge":
        x = np.random.default_rng(3).normal(0, 1, n)
        x[500] = 1e300
    s = make().process(batch(x)).score[0]
    if kind == "nan":
        assert np.isnan(s).all()
        return
    ok = ~np.isnan(s)
    assert ok[200:].all() and ((s[ok] >= 0) & (s[ok] <= 1)).all()
    if kind == "constant":
        assert not (s >= 0.99).any()
    else:
        assert s[500] >= 0.99


def test_checkpoint_round_trip(tmp_path) -> None:
    x = noisy()
    full = make().process(batch(x)).score
    det = make()
    first = det.process(batch(x[:, :450])).score
    persist.save(det, tmp_path)
    again = persist.load(tmp_path)
    assert isinstance(again, Likelihood) and again.get_params() == det.get_params()
    rest = again.process(batch(x[:, 450:], start=450)).score
    np.testing.assert_array_equal(np.hstack([first, rest]), full)


def test_learn_without_score_matches_process() -> None:
    x = noisy(n=400)
    a, b = make(), make()
    a.process(batch(x[:, :300]))
    b.learn(batch(x[:, :300]))
    tail = batch(x[:, 300:], start=300)
    np.testing.assert_array_equal(a.process(tail).score, b.process(tail).score)


@pytest.mark.parametrize("bad", [{"q": 0.3}, {"q": 1.0}, {"eta": 0.0}, {"env_decay": 1.0}, {"env_gain": 0.5},
                                 {"n_warm": -1}, {"start": -1.0}, {"decide_at": 0.4}, {"decide_at": 1.0}])
def test_bad_params_rejected(bad: dict) -> None:
    with pytest.raises(ValueError, match="likelihood needs"):
        Likelihood(Ensemble(step=STEP), **bad)


def rhythm_change(n_series: int = 3, seed: int = 0) -> np.ndarray:
    """A steady 4-step rhythm over the series' usual levels that turns into a 2-step one at step 1200."""
    rng = np.random.default_rng(seed)
    x = np.tile([10.0, 20.0, 30.0, 40.0], 400)[None, :].repeat(n_series, 0) + rng.normal(0, 0.5, (n_series, 1600))
    x[:, 1200:] = np.tile([10.0, 40.0], 200) + rng.normal(0, 0.5, (n_series, 400))
    return x


def test_sequence_channel_reports_a_new_rhythm_of_ordinary_values() -> None:
    x = rhythm_change()
    with_seq = make().process(batch(x)).score
    without = Likelihood(build_detector(DetectorConfig(kind="guarded"), step=STEP), sequence=False).process(batch(x))
    assert (with_seq[:, 1200:1220] >= 0.99).any(axis=1).all()  # each series: reported within 20 steps
    assert not (with_seq[:, 300:1200] >= 0.99).any()  # the old rhythm, once learned, is never news
    assert (with_seq[:, 1220:] >= 0.99).sum() <= 3  # one event, not a run of reports
    assert (without.score[:, 1200:1220] >= 0.99).sum() < (with_seq[:, 1200:1220] >= 0.99).sum()


def test_below_the_decision_level_only_reports_cross_it() -> None:
    x = noisy()
    det = make()
    s = det.process(batch(x)).score
    ok = ~np.isnan(s)
    # scores are either reports (>= decide_at) or at most 10**-1.998 below 1: nothing sits in between
    top = s[ok][s[ok] >= 0.9899]
    assert ((top >= 0.99) | (top <= 1 - 10**-1.998 + 1e-12)).all()


def test_reports_clear_the_margin() -> None:
    x = noisy(seed=4)
    for margin in (0.0, 0.2, 1.0):
        det = Likelihood(build_detector(DetectorConfig(kind="guarded"), step=STEP), margin=margin, margin_seq=margin,
                         novelty=False, young_rank=0.0)  # novelty reports at nov_rel, whatever the margins;
        # a young model's reports rank lower (tests/test_detect_young.py): D = 2 + Lrel needs that off
        s = det.process(batch(x)).score
        reported = s[s >= 0.99]
        assert len(reported) > 0  # the spike at 700 is far beyond every margin here
        assert (reported > 1 - 10 ** -(2 + margin)).all()  # D = 2 + Lrel with Lrel > margin


def test_likelihood_kind_is_the_wrapper_and_cannot_be_nested() -> None:
    det = build_detector(DetectorConfig(kind="likelihood"), step=STEP)
    assert isinstance(det, Likelihood)
    with pytest.raises(ValueError, match="not already a likelihood"):
        Likelihood(det)
