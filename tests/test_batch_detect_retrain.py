"""Periodic retraining (detector kind ``stl``): causal, chunk-independent, bounded, checkpointed, validated."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel import checkpoint
from sentinel.config import ConfigError, DetectorConfig, WatchConfig, parse_config
from sentinel.detect import build_detector, persist
from sentinel.detect.retrain import FITS, Retrained, check_params
from sentinel.detect.scores import Scores
from sentinel.detect.stl import STLDetector
from sentinel.fleet import Fleet
from sentinel.series import Batch
from sentinel.sources.simulated import SimulatedSource
from sentinel.watch import WatchRunner

STEP = 600
DAY = 86400
HOURS6 = 6 * 3600


def stream(n: int = 4, days: float = 5, seed: int = 0, start: int = 10 * DAY) -> Batch:
    """Daily cycles, noise, a spike and a gappy series, on a 10-minute grid."""
    rng = np.random.default_rng(seed)
    ts = start + np.arange(int(days * DAY // STEP), dtype=np.int64) * STEP
    x = 20 + 5 * np.sin(2 * np.pi * ts / DAY)[None, :] + rng.normal(0, 1, (n, len(ts)))
    x[0, -30] += 15
    x[1, ::7] = np.nan
    return Batch.from_rows([{"agent": f"a{i}"} for i in range(n)], ts, x)


def fresh(**kw: object) -> Retrained:
    params = {"retrain": "6h", "window": "4d", "min_history": "2d", **kw}
    return Retrained(step=STEP, **check_params(params))


def same(a: Scores, b: Scores) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True)
               for k in ("score", "expected", "lower", "upper"))


def close(a: Scores, b: Scores) -> bool:
    """Equal up to float rounding (window sums of different chunks are summed in a different order)."""
    return all(np.allclose(getattr(a, k), getattr(b, k), rtol=1e-9, atol=1e-9, equal_nan=True)
               and np.array_equal(np.isnan(getattr(a, k)), np.isnan(getattr(b, k)))
               for k in ("score", "expected", "lower", "upper"))


def cat(parts: list[Scores]) -> Scores:
    return Scores(*(np.concatenate([getattr(p, k) for p in parts], axis=1)
                    for k in ("score", "expected", "lower", "upper")))


def chunks(b: Batch, cuts: list[int]) -> list[Batch]:
    edges = [0, *sorted(set(cuts)), b.n_steps]
    return [b.window(lo, hi) for lo, hi in itertools.pairwise(edges) if hi > lo]


@pytest.fixture(scope="module")
def whole() -> tuple[Batch, Retrained, Scores]:
    b = stream()
    det = fresh()
    return b, det, det.process(b)


def test_scores_only_after_enough_history_then_on_schedule(whole: tuple[Batch, Retrained, Scores]) -> None:
    b, det, s = whole
    first_fit = int(b.timestamps[0]) + 2 * DAY
    before = b.timestamps < first_fit
    assert np.isnan(s.score[:, before]).all()
    assert np.isfinite(s.score[0, ~before]).all()
    assert det.fit_at_ is not None and det.fit_at_ % HOURS6 == 0
    assert det.fit_at_ == (int(b.timestamps[-1]) // HOURS6) * HOURS6  # the last boundary before the end
    after = s.score[:, ~before]
    assert abs((after[np.isfinite(after)] >= 0.99).mean() - 0.01) < 0.01 and s.score[0, -30] > 0.999


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, 719), max_size=6))
def test_any_chunking_gives_the_same_scores(whole: tuple[Batch, Retrained, Scores], cuts: list[int]) -> None:
    """Causal and chunk-independent: a cycle boundary never changes a score (hence earlier scores never move)."""
    b, _, s = whole
    det = fresh()
    assert close(cat([det.process(part) for part in chunks(b, cuts)]), s)


def test_window_is_bounded_and_rolls() -> None:
    det = fresh(window="3d")
    b = stream(days=5)
    det.process(b)
    assert det.state_["r.window"].shape == (4, 3 * DAY // STEP)
    hist = det._history(int(b.timestamps[-1]) + STEP)
    assert hist is not None and hist.n_steps == 3 * DAY // STEP  # exactly the last three days
    assert np.array_equal(hist.values, b.values[:, -hist.n_steps:], equal_nan=True)


def test_a_series_absent_from_a_cycle_is_missing_not_stale() -> None:
    det = fresh(window="2d")
    b = stream(days=3)
    det.process(b.window(0, 300))
    det.process(b.window(300, None).select([0, 2, 3]))  # a1 stops reporting
    hist = det._history(int(b.timestamps[-1]) + STEP)
    assert hist is not None and hist.labels[1] == (("agent", "a1"),)
    assert np.isfinite(hist.values[1, : 300 - 144]).any() and np.isnan(hist.values[1, 300 - 144:]).all()
    det.process(stream(days=5).window(432, None).select([0, 2, 3]))  # two more days without a1
    later = det._history(int(stream(days=5).timestamps[-1]) + STEP)
    assert later is not None and (("agent", "a1"),) not in later.labels  # no points left: no longer fitted


def test_new_series_joins_at_a_refit_after_enough_history() -> None:
    b = stream(n=3, days=6)
    newcomer = Batch.from_rows([{"agent": "new"}], b.timestamps, b.values[2:3])
    det = fresh()
    det.process(b.window(0, 3 * 144).select([0, 1]))
    s = det.process(Batch(b.timestamps[3 * 144:], np.vstack([b.values[:2, 3 * 144:], newcomer.values[:, 3 * 144:]]),
                          (*b.labels[:2], newcomer.labels[0]), STEP))
    new_row = s.score[2]
    joined = np.flatnonzero(np.isfinite(new_row))
    assert len(joined) and np.isnan(new_row[: joined[0]]).all()
    t_join = int(b.timestamps[3 * 144 + joined[0]])
    assert t_join % HOURS6 == 0 and t_join - int(b.timestamps[3 * 144]) >= DAY // 2  # quarter of min_history


def test_stale_and_repeated_points_are_ignored(whole: tuple[Batch, Retrained, Scores]) -> None:
    b = stream(days=3)
    det = fresh()
    det.process(b)
    fit_at, window = det.fit_at_, det.state_["r.window"].copy()
    again = det.process(b.window(b.n_steps - 10, None))
    assert np.isnan(again.score).all() and det.fit_at_ == fit_at
    assert np.array_equal(det.state_["r.window"], window, equal_nan=True)


def test_checkpoint_round_trip_scores_identically_and_does_not_refit(tmp_path: object) -> None:
    b = stream(days=5)
    cut = int(np.searchsorted(b.timestamps, (int(b.timestamps[0]) // HOURS6 + 13) * HOURS6)) + 5  # just past a refit
    det = fresh()
    det.process(b.window(0, cut))
    persist.save(det, tmp_path / "m")  # type: ignore[operator]
    again = persist.load(tmp_path / "m")  # type: ignore[operator]
    assert isinstance(again, Retrained) and again.fit_at_ == det.fit_at_
    card = persist.read_card(tmp_path / "m")  # type: ignore[operator]
    assert card is not None and card["fit"]["fitted_series"] == 4 and card["fit"]["model"] == "stl"
    before = FITS.labels("stl", "ok")._value.get()
    nxt = b.window(cut, cut + 20)  # stays before the next boundary
    assert same(again.process(nxt), det.process(nxt))
    assert FITS.labels("stl", "ok")._value.get() == before  # neither refitted
    rest = b.window(cut + 20, None)
    assert same(again.process(rest), det.process(rest))
    assert again.fit_at_ == det.fit_at_ and again.fit_at_ > int(b.timestamps[cut])


def test_watch_runner_cycles_and_checkpoint_restart(tmp_path: object) -> None:
    """The daemon's path: a WatchRunner on the simulator, checkpointed and restarted mid-stream."""
    fleet = Fleet(agents=3, seed=5)
    w = WatchConfig.model_validate({"name": "lat", "query": "agent_task_latency_p95", "every": "1m",
                                    "detector": {"kind": "stl", "params": {"window": "3d", "min_history": "1d"}}})
    a = WatchRunner(w, SimulatedSource(fleet), warmup=2 * DAY)
    assert isinstance(a.detector, Retrained)
    first = a.cycle(fleet.start)
    assert first is not None and np.isfinite(first.scores.score[:, -1]).all()
    for i in range(1, 30):
        a.cycle(fleet.start + 60 * i)
    d = tmp_path / "ckpt"  # type: ignore[operator]
    checkpoint.save(d, a)
    b = WatchRunner(w, SimulatedSource(fleet), warmup=2 * DAY)
    assert checkpoint.load(d, b) == a.cursor
    for i in range(30, 90):
        ra, rb = a.cycle(fleet.start + 60 * i), b.cycle(fleet.start + 60 * i)
        assert ra is not None and rb is not None and same(ra.scores, rb.scores)


def test_registry_and_step_checks() -> None:
    det = build_detector(DetectorConfig(kind="stl", params={"retrain": "2h", "trend_window": "12h"}), step=60)
    assert isinstance(det, Retrained) and det.retrain == 7200 and det.params == {"trend_window": 43200}
    with pytest.raises(ValueError, match="points per series"):
        build_detector(DetectorConfig(kind="stl", params={"window": "30d"}), step=1)
    lazy = build_detector(DetectorConfig(kind="stl"))  # step learned from the first batch
    lazy.process(stream(days=1))
    assert lazy.step == STEP
    with pytest.raises(ValueError, match="differs"):
        lazy.process(Batch.from_rows([{"agent": "a0"}], [0, 60], [[1.0, 2.0]]))


@pytest.mark.parametrize(("params", "message"), [
    ({"retrain": "soon"}, "retrain: 'soon' is not a duration"),
    ({"retrain": 0}, "retrain: 0 must be a positive duration"),
    ({"band_prob": 2}, "band_prob must be a probability"),
    ({"robust_iter": 1.5}, "robust_iter must be an integer"),
    ({"method": "prophet"}, "method must be 'fast' or 'statsmodels'"),
    ({"periods": "daily"}, "periods must be 'auto' or a list of durations"),
    ({"window": "1d"}, "min_history (172800s) is longer than window"),
    ({"guard": {}}, "unknown parameter(s) ['guard']"),
])
def test_bad_params_are_one_line_config_errors(params: dict[str, object], message: str) -> None:
    doc = {"simulator": {}, "watches": [{"name": "w", "query": "agent_task_latency_p95",
                                         "detector": {"kind": "stl", "params": params}}]}
    with pytest.raises(ConfigError) as err:
        parse_config(doc)
    (problem,) = err.value.problems
    assert problem.startswith("watches[0].detector: detector 'stl': ") and message in problem and "\n" not in problem


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["retrain", "window", "min_history", "periods", "min_cycles", "weekly_bins",
                                        "trend_window", "band_prob", "robust_iter", "method", "bogus"]),
                       st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                                 st.text(max_size=6), st.lists(st.integers(-3, 10**5), max_size=3)),
                       max_size=4))
def test_junk_params_never_raise_anything_but_value_error(params: dict[str, object]) -> None:
    try:
        det = Retrained(step=3600, **check_params(params))  # the edge check, then the step-dependent one
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    assert 0 < det.min_history <= det.window and det.retrain > 0


def test_stl_advance_in_chunks_equals_one_piece() -> None:
    b = stream(days=5)
    hist, new = b.window(0, 3 * 144), b.window(3 * 144, None)
    one = STLDetector().fit(hist)
    whole = one.advance(new)
    many = STLDetector().fit(hist)
    parts = [many.advance(p) for p in chunks(new, [1, 2, 50, 51, 200])]
    assert close(cat(parts), whole)
    assert same(STLDetector().fit(hist).score(new), whole)  # score() = advance() from the fit's end
    with pytest.raises(ValueError, match="not after the last scored"):
        many.advance(new.window(0, 3))


def agents_fleet(days: float = 3.5, agents: int = 8, seed: int = 3) -> tuple[Batch, slice]:
    """One Batch of agents x 4 metrics (``__name__`` + ``agent``, as a Prometheus selector over several metric
    names returns them); on the last day agent a0 has every metric +1.3 sigma for 6 hours."""
    rng = np.random.default_rng(seed)
    ts = 10 * DAY + np.arange(int(days * DAY // STEP), dtype=np.int64) * STEP
    labels, rows = [], []
    shift = slice(len(ts) - 100, len(ts) - 64)
    for k, name in enumerate(("latency", "tokens", "errors", "queue")):
        base = 10 + k + (k + 1) * np.sin(2 * np.pi * ts / DAY)
        for a in range(agents):
            x = base + rng.normal(size=len(ts))
            if a == 0:
                x[shift] += 1.3
            labels.append({"__name__": name, "agent": f"a{a}"})
            rows.append(x)
    return Batch.from_rows(labels, ts, np.array(rows)), shift


MV = {"window": "3d", "min_history": "2d", "retrain": "12h", "max_fit_samples": 300}


def test_multivariate_kind_scores_every_series_with_its_agents_score(tmp_path: object) -> None:
    b, shift = agents_fleet()
    det = build_detector(DetectorConfig(kind="multivariate", params=MV), step=STEP)
    s = det.process(b)
    a0 = np.array([dict(lb)["agent"] == "a0" for lb in b.labels])
    assert (s.score[a0][:, shift] >= 0.99).mean() > 0.5  # every metric of a0 carries a0's alarm
    assert (s.score[~a0][:, 2 * 144:] >= 0.99).mean() < 0.03  # the other agents stay calm
    assert np.array_equal(s.score[a0][0, shift], s.score[a0][1, shift])  # one agent, one score
    assert set(s.members or {}) == {"latency", "tokens", "errors", "queue"}
    assert np.isfinite(s.expected[:, shift]).all()  # each series' own STL expectation and band
    # causal and chunk-independent, and a checkpoint continues where it was saved
    half = build_detector(DetectorConfig(kind="multivariate", params=MV), step=STEP)
    first = cat([half.process(p) for p in chunks(b.window(0, 400), [300, 301])])
    loaded = persist.load(persist.save(half, tmp_path / "mv.npz"))  # type: ignore[operator]
    assert close(cat([first, loaded.process(b.window(400, None))]), s)


def test_multivariate_params_are_checked() -> None:
    with pytest.raises(ValueError, match=r"smoothing must be a number in \(0, 1\]"):
        check_params({"smoothing": 0}, "multivariate")
    with pytest.raises(ValueError, match="stl: unknown parameter"):
        check_params({"stl": {"bogus": 1}}, "multivariate")
    with pytest.raises(ValueError, match="stl: band_prob must be"):
        check_params({"stl": {"band_prob": 5}}, "multivariate")
    assert check_params({"stl": {"trend_window": "12h"}, "agent_label": "pod"}, "multivariate")["params"] == {
        "agent_label": "pod", "stl": {"trend_window": 43200}}


@pytest.mark.parametrize(("watch", "message"), [
    ({"every": "1s", "detector": {"kind": "stl", "params": {"window": "14d"}}}, "points per series (at most 100000)"),
    ({"every": "1h", "detector": {"kind": "multivariate", "params": {"min_history": "2h"}}}, "at least 4 steps"),
    ({"logs": {"index": "x"}, "query": None, "detector": "stl"}, "scores metric watches"),
])
def test_watch_level_checks_name_the_watch(watch: dict[str, object], message: str) -> None:
    doc = {"simulator": {}, "elasticsearch": {}, "watches": [{"name": "w", "query": "up", **watch}]}
    with pytest.raises(ConfigError) as err:
        parse_config(doc)
    (problem,) = err.value.problems
    assert problem.startswith("watches[0]: ") and message in problem


def test_forgotten_series_leave_the_window_and_the_fit_and_the_rest_score_the_same() -> None:
    b = stream(n=4, days=5)
    det, ref = fresh(), fresh()
    det.process(b.window(0, 400))
    ref.process(b.window(0, 400).select([1, 2, 3]))
    assert det.model_ is not None and len(det.model_.index_) == 4
    det.forget([b.labels[0]])  # a0 is gone (sentinel.retention)
    assert det.state_["r.window"].shape[0] == 3 and len(det.model_.index_) == 3
    assert same(det.process(b.window(400, None).select([1, 2, 3])), ref.process(b.window(400, None).select([1, 2, 3])))
