"""A log watch reads a count only once its interval is over (a real Elasticsearch node, no mocks).

A log watch's count at ``t`` is the number of lines in ``[t, t + step)``.  The runner used to read up to
the grid point at or before ``now``, so the last count of every cycle held only the seconds of its interval
that had passed (11 of 60 lines, measured), and the cursor moved past it for good: every group looked like
it had nearly stopped logging, every cycle.
"""

from __future__ import annotations

import time

import pytest
from elasticsearch import helpers

from sentinel.config import Config, WatchConfig
from sentinel.sources.elasticsearch import ElasticsearchSource
from sentinel.watch import WatchRunner, aligned_end
from tests.es_service import ElasticsearchServer, elasticsearch  # noqa: F401  (fixture)


def test_a_metric_watch_reads_the_sample_at_now_and_a_log_watch_waits_for_its_interval_to_end() -> None:
    m = WatchConfig(name="m", query="up", every="1m")
    logs = WatchConfig(name="l", logs={"index": "x"}, every="1m")
    late = WatchConfig(name="late", logs={"index": "x"}, every="1m", delay="30s")
    now = 1_000_000_030  # 10 s after the grid point 1_000_000_020
    assert aligned_end(now, m) == 1_000_000_080  # the sample at 1_000_000_020 exists
    assert aligned_end(now, logs) == 1_000_000_020  # its interval runs to 1_000_000_080
    assert aligned_end(now + 50, logs) == 1_000_000_080
    assert aligned_end(now + 50, late) == 1_000_000_020  # and `delay` still waits for late shippers


@pytest.mark.services
def test_every_count_a_log_watch_reads_is_its_whole_interval(elasticsearch: ElasticsearchServer) -> None:  # noqa: F811
    client = elasticsearch.client()
    index = "logs-buckets"
    client.indices.create(index=index, mappings={"properties": {
        "@timestamp": {"type": "date"}, "message": {"type": "text"},
        "service": {"properties": {"name": {"type": "keyword"}}}}})
    now = float(int(time.time()) // 60 * 60 + 25)  # 25 s into a minute: that minute's count is not complete

    def lines(t0: int, t1: int) -> None:  # one line per second, as a steady service logs
        helpers.bulk(client, ({"_index": index, "_source": {"@timestamp": t * 1000, "message": "ok",
                                                             "service": {"name": "api"}}} for t in range(t0, t1)),
                     refresh=True)

    lines(int(now) - 900, int(now))
    cfg = Config.model_validate({"elasticsearch": {"url": elasticsearch.url}, "watches": [
        {"name": "lg", "logs": {"index": index, "group_by": ["service.name"], "templates": False}, "every": "1m"}]})
    runner = WatchRunner(cfg.watches[0], ElasticsearchSource(cfg.elasticsearch), warmup=600)
    first = runner.cycle(now)
    assert first is not None
    assert first.batch.values.tolist() == [[60.0] * 10]  # no count of the minute still in progress
    lines(int(now), int(now) + 60)  # that minute goes on logging, and the next cycle comes
    second = runner.cycle(now + 60)
    assert second is not None
    assert second.batch.timestamps.tolist() == [int(now) - 25] and second.batch.values.tolist() == [[60.0]]
    client.indices.delete(index=index)
