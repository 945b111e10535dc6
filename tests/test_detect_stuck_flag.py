"""The stuck condition per point (``Scores.stuck``): held from the stuck limit until the value changes.

The stuck check (:mod:`sentinel.detect.stuck`) reports a stuck run once;
the alert policy's ``stuck`` alert needs, instead, whether the run is past
its limit at every point.  Over a calm inner detector (its surprise is
never news) with a limit of 10 values and 3 times the longest run, as in
``tests/test_detect_stuck.py``; the batch, one-step and checkpointed paths
must agree exactly, on the default detector too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sentinel.config import DetectorConfig
from sentinel.detect import persist
from sentinel.detect.base import OnlineDetector
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.registry import build_detector
from sentinel.detect.scores import Scores
from sentinel.series import Batch
from tests.scripted import Calm
from tests.test_detect_stuck import LENGTH, STEP, STUCK, N, counts, floor, noisy


def detector(**kw: object) -> Likelihood:
    """The stuck check alone (no rise or ceiling check) at 10 values and 3 x the longest run."""
    return Likelihood(Calm(), sequence=False, **{"rise_k": 0, "ceil_blocks": 0, "stuck_min": 10, "stuck_factor": 3.0,
                                                 **kw})


def batch(x: np.ndarray, start: int = 0) -> Batch:
    """Rows of ``x`` (one series per row, or one series) as a batch from column ``start``."""
    x = np.atleast_2d(x)
    return Batch.from_rows([{"s": str(i)} for i in range(len(x))], (start + np.arange(x.shape[1])) * STEP, x,
                           step=STEP)


def held(det: OnlineDetector, x: np.ndarray) -> np.ndarray:
    out = det.process(batch(x)).stuck
    assert out is not None
    return out


def stepwise(det: OnlineDetector, x: np.ndarray) -> np.ndarray:
    """The condition from ``score`` then ``learn`` one column at a time (a watch's one-step cycles)."""
    x = np.atleast_2d(x)
    cols = []
    for k in range(x.shape[1]):
        b = batch(x[:, k:k + 1], k)
        s: Scores = det.score(b)
        assert s.stuck is not None
        cols.append(s.stuck[:, 0])
        det.learn(b)
    return np.stack(cols, axis=1)


def test_the_condition_holds_from_the_limit_until_the_value_changes() -> None:
    h = held(detector(), noisy())[0]  # 0.5 from STUCK - 1 to STUCK + LENGTH - 1
    assert (h[:STUCK + 8] == 0).all()  # a run of 9 values, under the limit of 10
    assert (h[STUCK + 8:STUCK + LENGTH] == 1).all()  # from the tenth to the last of the run
    assert (h[STUCK + LENGTH:] == 0).all()  # the value changed: over
    assert held(detector(stuck_min=40), noisy())[0, STUCK + 38] == 1 and held(detector(stuck_min=40), noisy())[
        0, STUCK + 37] == 0


def test_a_run_at_the_floor_rests_but_a_new_low_is_stuck() -> None:
    assert (held(detector(), floor())[0] == 0).all()  # a count's 200 zeros: its floor, a lull
    x = noisy()
    x[STUCK - 1:STUCK + LENGTH] = -0.5  # far below the range it had shown (uniform in [0, 1]): a new low
    h = held(detector(), x)[0]
    assert (h[:STUCK + 8] == 0).all() and (h[STUCK + 8:STUCK + LENGTH] == 1).all()


def test_no_condition_without_the_check() -> None:
    for det in (detector(stuck_min=0), detector(novelty=False)):
        assert det.process(batch(noisy())).stuck is None
        assert det.score(batch(noisy()[:5])).stuck is None


def test_a_routinely_repeating_counter_stays_quiet() -> None:
    assert (held(detector(), counts())[0] == 0).all()  # runs of 30 ones, then one of 85: under 3 x 30
    assert held(detector(), counts(long=90))[0].sum() == 1  # the 90th one: 3 x 30 (less a little forgetting)
    # a sparse count on the default detector: zeros in runs of every length up to ~100, none ever 4 x the longest
    x = np.random.default_rng(3).poisson(0.05, (3, 4 * 1440)).astype(float)
    h = held(build_detector(DetectorConfig(kind="default"), step=STEP), x)
    assert np.isfinite(h).all() and (h == 0).all()


def test_missing_values_neither_extend_nor_end_a_run() -> None:
    x = noisy()
    x[STUCK + 2:STUCK + 40:2] = np.nan  # every other value missing while stuck
    h = held(detector(), x)[0]
    assert np.isnan(h[STUCK + 2]) and np.isnan(h[STUCK + 38]) and np.isfinite(h[STUCK + 1])
    assert (h[:STUCK + 15][np.isfinite(h[:STUCK + 15])] == 0).all()  # 9 values of the run before STUCK + 15
    assert h[STUCK + 15] == 1 and h[STUCK + 17] == 1  # the tenth, and the run goes on across the gaps
    assert (h[STUCK + 39:STUCK + LENGTH] == 1).all() and (h[STUCK + LENGTH:] == 0).all()


def test_batch_and_one_step_agree_on_the_default_detector_and_the_calm_one() -> None:
    rng = np.random.default_rng(11)
    x = 50 + 5 * np.sin(np.arange(N) * 2 * np.pi / 240)[None, :] + rng.normal(0, 1, (4, N))
    x[0, STUCK:STUCK + 80] = x[0, STUCK - 1]  # stuck
    x[1, STUCK + 10:STUCK + 60] = np.nan  # a gap in a stuck stretch
    x[1, STUCK:STUCK + 100] = np.where(np.isnan(x[1, STUCK:STUCK + 100]), np.nan, x[1, STUCK - 1])
    x[2] = np.round(x[2] / 5)  # a quantised gauge: repeats routinely
    default = held(build_detector(DetectorConfig(kind="default"), step=STEP), x)
    np.testing.assert_array_equal(stepwise(build_detector(DetectorConfig(kind="default"), step=STEP), x), default)
    assert default[0, STUCK + 27] == 0 and (default[0, STUCK + 28:STUCK + 80] == 1).all()  # the 30th value on
    assert np.nansum(default[1]) == 22  # 11 values before the gap, 40 after it: the 30th is STUCK + 78
    assert np.nansum(default[2:]) == 0
    np.testing.assert_array_equal(stepwise(detector(), x), held(detector(), x))


def test_a_checkpoint_keeps_the_run(tmp_path: Path) -> None:
    x = noisy()

    def default() -> OnlineDetector:
        return build_detector(DetectorConfig(kind="default"), step=STEP)

    whole = held(default(), x)[0]
    det = default()
    det.process(batch(x[:STUCK + 10]))  # eleven values into the run
    persist.save(det, tmp_path / "det")
    rest = persist.load(tmp_path / "det").process(batch(x[STUCK + 10:], STUCK + 10)).stuck
    assert rest is not None
    np.testing.assert_array_equal(rest[0], whole[STUCK + 10:])
    assert rest[0, 17] == 0 and rest[0, 18] == 1  # the 30th value of the run, counted across the restart


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 300),
                  elements=st.sampled_from([0.0, 1.0, -1.0, 1e300, np.nan, np.inf, -np.inf, 2.5])))
def test_any_input_gives_a_condition_or_nan_and_both_paths_agree(x: np.ndarray) -> None:
    h = held(detector(n_warm=5, stuck_min=2, stuck_factor=1.0), x)[0]
    finite = np.isfinite(x)  # a batch holds infinities as missing values
    assert (np.isnan(h) == ~finite).all() and np.isin(h[finite], (0.0, 1.0)).all()
    last = np.maximum.accumulate(np.where(finite, np.arange(len(x)), -1))  # the last finite value up to each
    before = np.r_[-1, last[:-1]]
    repeat = (before >= 0) & (x == x[np.maximum(before, 0)])  # equal to the last value seen before it
    assert ((h == 1) <= repeat).all()
    np.testing.assert_array_equal(stepwise(detector(n_warm=5, stuck_min=2, stuck_factor=1.0), x), h[None, :])
