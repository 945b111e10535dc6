"""Whatever an "Elasticsearch" answers (a proxy, a stub, a broken node), a log watch gets data or one SourceError line.

Before: a body without ``aggregations`` or ``hits``, a non-object body, a non-numeric bucket key or ``sort``
value escaped the source as a KeyError / TypeError / ValueError traceback.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from sentinel.config import ElasticsearchConfig, WatchConfig
from sentinel.sources.base import SourceError
from sentinel.sources.elasticsearch import ElasticsearchSource

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["aggregations", "g", "h", "now", "buckets", "key", "doc_count", "from", "hits", "sort", "_source", "message",
         "after_key", "x"]), inner, max_size=4),
    max_leaves=16,
)


class _Stub:
    """An Elasticsearch client whose every search answers ``body``."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def search(self, **_: Any) -> Any:
        return self.body

    def open_point_in_time(self, **_: Any) -> dict[str, str]:
        return {"id": "pit"}

    def close_point_in_time(self, **_: Any) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


WATCHES = [WatchConfig(name="grouped", logs={"index": "x-*", "group_by": ["service.name"]}, every=60),
           WatchConfig(name="plain", logs={"index": "x-*"}, every=60)]


def _source(body: Any, reg: CollectorRegistry) -> ElasticsearchSource:
    return ElasticsearchSource(ElasticsearchConfig(url="http://127.0.0.1:9"), registry=reg, client=_Stub(body))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(_json)
def test_any_answer_is_data_or_one_source_error(body: Any) -> None:
    for w in WATCHES:
        src = _source(body, CollectorRegistry())
        for call in (src.fetch, src.sample):
            try:
                call(w, 0, 600)
            except SourceError as exc:
                assert "\n" not in str(exc)


MALFORMED = [[], "oops", {}, {"aggregations": None}, {"aggregations": {"g": {"buckets": [{"key": None}]}}},
             {"hits": {"hits": [{"sort": ["x"], "_source": {"message": "m"}}]}}]


@pytest.mark.parametrize("body", MALFORMED)
def test_malformed_answers_are_counted(body: Any) -> None:
    reg = CollectorRegistry()
    with pytest.raises(SourceError, match=r"did not answer the (counts|sample) query like Elasticsearch"):
        src = _source(body, reg)
        src.fetch(WATCHES[0], 0, 600) if "hits" not in str(body) else src.sample(WATCHES[0], 0, 600)
    assert reg.get_sample_value("sentinel_source_errors_total",
                                {"source": "elasticsearch", "watch": "grouped", "reason": "bad_response"}) == 1
