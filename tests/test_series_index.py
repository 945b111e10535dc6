"""SeriesIndex: stable rows, and its memo of the last answer never changes an answer."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.series import SeriesIndex

key = st.integers(0, 6).map(lambda i: (("agent", f"a{i}"),))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(key, max_size=8).map(tuple), min_size=1, max_size=8))
def test_rows_equal_a_plain_dict_lookup(asks: list[tuple]) -> None:
    idx, plain = SeriesIndex(), {}
    for keys in asks:
        for k in keys:
            plain.setdefault(k, len(plain))
        want = [plain[k] for k in keys]
        assert idx.rows(keys).tolist() == want
        assert idx.rows(list(keys)).tolist() == want  # the same keys again, as a list: the memo
        assert idx.rows(iter(keys)).tolist() == want  # a one-shot iterable is not memoised


def test_a_caller_changing_its_rows_does_not_change_the_next_answer() -> None:
    idx = SeriesIndex()
    keys = ((("a", "1"),), (("a", "2"),))
    rows = idx.rows(keys)
    rows[:] = 99
    assert idx.rows(keys).tolist() == [0, 1]
    assert isinstance(idx.rows(keys), np.ndarray)
