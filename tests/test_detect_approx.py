"""The calibrators' libm-free log2/exp2 (sentinel.detect.approx) against numpy, and the p-values built on them."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.detect import approx
from sentinel.detect.calibrate import TailCalibrator


def test_log2_matches_numpy_over_the_normal_range() -> None:
    rng = np.random.default_rng(0)
    x = np.r_[np.exp2(rng.uniform(-1020, 1020, 20_000)), 1.0, 2.0, 0.5, 0.15, 200.0, np.nextafter(1.0, 2.0),
              np.nextafter(1.0, 0.0), 1.0 + 1.0 / 64, 2.0 - 1e-16]
    got = np.array([approx.log2(v) for v in x])
    assert np.max(np.abs(got - np.log2(x))) < 2e-13


def test_exp2_matches_numpy_and_clamps() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[rng.uniform(-1000, 1000, 20_000), 0.0, -0.0, 1.0, -1.0, 1e-17, -3.5, 1.0 / 64, -1.0 / 64, -1000.0]
    got = np.array([approx.exp2(v) for v in y])
    assert np.max(np.abs(got / np.exp2(y) - 1.0)) < 1e-14
    assert approx.exp2(-5000.0) == 2.0**-1000 and approx.exp2(5000.0) == 2.0**1000


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1e-6, max_value=1e6), st.integers(min_value=0, max_value=3))
def test_pvalue_is_the_exact_log_log_interpolation(z: float, seed: int) -> None:
    """The calibrator's p-value is the libm formula (bin by comparison, log, pow) to 1e-12 relative."""
    cal = TailCalibrator(tail_power=0.5)
    st_ = cal.init_state(1)
    rng = np.random.default_rng(seed)
    for r in rng.standard_t(3, 3000):
        cal.learn(st_, np.array([r]), np.ones(1))
    c = cal.consts
    tail = st_["cal.tail"][0, 0].astype(np.float64)
    nb, inc = c.n_bins, st_["cal.inc"][0, 0]
    k = int(np.sum(cal.edges[1:] <= z))
    lo, hi = tail[k], tail[min(k + 1, nb - 1)]
    prior = (1 + z / 2) ** -4.0
    if lo <= 0:
        emp = 0.0
    elif k == nb - 1:
        emp = lo * (1 + z / 2) ** -0.5 * (1 + cal.edges[-1] / 2) ** 0.5
    elif hi <= 0:
        emp = lo * prior / (1 + cal.edges[k] / 2) ** -4.0
    elif k == 0:
        emp = lo + float(np.float32(hi - lo)) * min(z / cal.edges[1], 1.0)
    else:
        frac = (np.log(z) - np.log(cal.edges[k])) / (np.log(cal.edges[k + 1]) - np.log(cal.edges[k]))
        emp = lo * float(np.float32(hi / lo)) ** frac
    total = float(np.float32(tail[0] + tail[nb]))
    w = cal.prior_weight
    q = (emp + 0.5 * w * prior * inc) / (total + w * inc)
    expected = 2 * min(q, 1 - q)
    # within 1e-9 of an edge the bin may be either neighbour: the same tail up to float32 rounding
    at_edge = np.min(np.abs(z / cal.edges[1:] - 1.0)) < 1e-9
    assert abs(cal.pvalue(st_, np.array([z]))[0] / expected - 1.0) < (1e-6 if at_edge else 1e-12)
