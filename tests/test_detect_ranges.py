"""The forgetting range shared by the novelty channel, its rise and ceiling checks and the sequence model."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from sentinel.detect import ranges

finite = st.floats(-1e12, 1e12)


def test_no_range_yet_starts_at_the_value() -> None:
    assert ranges.widened(math.nan, math.nan, 3.0, 0.1) == (3.0, 3.0)


def test_an_extreme_counts_at_once_and_the_other_end_moves_in() -> None:
    assert ranges.widened(0.0, 10.0, 12.0, 0.1) == (1.0, 12.0)
    assert ranges.widened(0.0, 10.0, 5.0, 0.1) == (1.0, 9.0)


def test_n_values_forget_n_times_rounded_as_width_times_forget_times_n() -> None:
    """The ceiling check learns once per block of ``n`` values; its rounding is ``(width * forget) * n``."""
    lo, hi, forget, n = 0.1, 0.7, 2e-5, 24
    d = (hi - lo) * forget * n
    assert ranges.widened(lo, hi, 0.4, forget, n) == (lo + d, hi - d)
    assert ranges.widened(lo, hi, 0.4, forget, 1) == ranges.widened(lo, hi, 0.4, forget)


@given(finite, finite, finite, st.floats(0.0, 0.49), st.integers(1, 100))
def test_the_range_holds_the_value_and_stays_inside_the_old_one_widened(
        a: float, b: float, x: float, forget: float, n: int) -> None:
    lo, hi = min(a, b), max(a, b)
    new_lo, new_hi = ranges.widened(lo, hi, x, forget, n)
    assert new_lo <= x <= new_hi
    assert min(lo, x) <= new_lo and new_hi <= max(hi, x)
