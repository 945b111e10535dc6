"""Sequence novelty model: vectorised, missing-value safe, forgets, rejects bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.detect.sequence import SequenceModel


def run(m: SequenceModel, x: np.ndarray) -> np.ndarray:
    st_ = m.init_state(x.shape[0])
    return np.stack([m.step(st_, x[:, j]) for j in range(x.shape[1])], axis=1)


def test_series_are_independent() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (4, 300))
    x[2, 100:150] = np.nan
    together = run(SequenceModel(), x)
    for i in range(4):
        np.testing.assert_allclose(run(SequenceModel(), x[i : i + 1])[0], together[i], equal_nan=True)


def test_known_rhythm_is_unsurprising_and_a_new_one_is_not() -> None:
    x = np.tile([1.0, 2.0, 3.0, 4.0], 300)[None, :]
    x[0, 1000:] = np.tile([1.0, 4.0], 100)
    s = run(SequenceModel(), x)[0]
    assert np.nanmax(s[600:1000]) < 0.2
    assert s[1000:1004].max() > 2.0
    assert s[-50:].max() < s[1000:1004].max()  # the new rhythm is learned


def test_missing_values_score_missing_and_teach_nothing() -> None:
    m = SequenceModel()
    st_ = m.init_state(1)
    for v in np.tile([1.0, 2.0], 50):
        m.step(st_, np.array([v]))
    before = {k: v.copy() for k, v in st_.items()}
    assert np.isnan(m.step(st_, np.array([np.nan]))[0])
    for k in before:
        np.testing.assert_array_equal(st_[k], before[k])


@settings(max_examples=20, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(1e308)), min_size=1, max_size=60))
def test_any_input_gives_finite_or_missing_surprise(values: list[float]) -> None:
    x = np.array(values, dtype=np.float64)[None, :]
    with np.errstate(all="ignore"):
        s = run(SequenceModel(), np.where(np.isfinite(x), x, np.nan))
    assert (np.isnan(s) | (np.isfinite(s) & (s >= 0))).all()


@pytest.mark.parametrize("bad", [{"bins": 1}, {"order": 0}, {"bins": 8, "order": 4}, {"decay": 0.0},
                                 {"prior": 0.0}, {"shrink": 1.0}])
def test_bad_params_rejected(bad: dict) -> None:
    with pytest.raises(ValueError, match="sequence model needs"):
        SequenceModel(**bad)
