"""The decision layer's inline log/exp (:mod:`sentinel.detect.decades`) and the novelty channel's counted phase.

The layer replaced libm's ``log`` and ``expm1`` by inline versions and the
rise and ceiling checks' per-value integer divisions by counters the batch
pass carries along; these check both against what they replace.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.detect import decades, novelty
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard
from sentinel.detect.likelihood import Likelihood


@given(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False))
@settings(max_examples=300, deadline=None)
def test_ln_matches_libm_to_an_ulp_or_two(x: float) -> None:
    want = math.log(x)
    assert abs(decades.ln(x) - want) <= 3 * math.ulp(want) + 1e-300


def test_ln_keeps_relative_precision_next_to_one() -> None:
    """``L = -log10(1 - score)`` of a tiny inner score is ``log1p`` of it, not a cancellation."""
    for eps in (1e-16, 1e-12, 1e-8, 1e-4, 3e-3):
        for x in (1.0 - eps, 1.0 + eps):
            assert abs(decades.ln(x) - math.log(x)) <= 2 * abs(math.log(x)) * 2.0**-52, x
    assert decades.ln(1.0) == 0.0 and math.isnan(decades.ln(math.nan))


def test_exp10_neg_matches_pow_over_the_decades_the_layer_uses() -> None:
    d = np.concatenate([np.linspace(0.0, 20.0, 2001), [1e-12, 1e-6, 0.999 * 2, 2.001]])
    got = np.array([decades.exp10_neg(v) for v in d])
    np.testing.assert_allclose(got, 10.0**-d, rtol=2e-14, atol=0)
    assert decades.exp10_neg(0.0) == 1.0 and math.isnan(decades.exp10_neg(math.nan))


def test_the_counted_phase_is_the_divided_one() -> None:
    """``advanced`` (what a batch carries along) equals ``phase`` (what the one-step path divides) at every count."""
    det = Likelihood(Guard(Ensemble(step=300)), step=300)
    lp = det.params
    assert lp.rise and lp.ceil and lp.ceil_m == 24
    kc = np.zeros(1, dtype=np.int64)
    la = det._kernel_args({**det._init_state(1), "lk.kc": kc})[0]
    ph = novelty.phase(la, lp, 0)
    for count in range(1, 200):
        ph = novelty.advanced(lp, ph)
        kc[0] = count
        assert ph == novelty.phase(la, lp, 0) == (count % (lp.rise_k - 1), count % 24, count // 24), count
