"""The Elasticsearch part of ``benchmarks/logs.py --es``: query time per log-watch cycle with ~1M indexed lines."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import statistics
import time

from prometheus_client import CollectorRegistry


def es_cycle(n_lines: int) -> dict[str, float]:
    """Load ~n_lines simulator log lines into a real node and time a log watch's queries."""
    from sentinel.config import ElasticsearchConfig, WatchConfig
    from sentinel.fleet import Fleet
    from sentinel.fleet.elastic import ensure_template, write_logs
    from sentinel.sources.elasticsearch import ElasticsearchSource
    from tests.es_service import start_elasticsearch

    fleet = Fleet(agents=20, seed=5)
    per_hour = sum(1 for _ in fleet.logs(fleet.start, fleet.start + 3600))
    hours = max(1, round(n_lines / per_hour))  # the night hour is the quietest: this overshoots, islice cuts
    server = start_elasticsearch()
    try:
        client = server.client(request_timeout=120)
        t0 = time.perf_counter()
        ensure_template(client)
        lines = itertools.islice(fleet.logs(fleet.start, fleet.start + hours * 3600), n_lines)
        res = write_logs(client, lines, registry=CollectorRegistry())
        load_s = time.perf_counter() - t0
        last = client.search(index="agent-logs-*", size=1, sort=[{"@timestamp": "desc"}])["hits"]["hits"][0]
        end = int(index_time(last["_source"]["@timestamp"])) // 60 * 60
        client.options(request_timeout=600).indices.forcemerge(index="agent-logs-*", max_num_segments=1)
        src = ElasticsearchSource(ElasticsearchConfig(url=server.url, timeout=120), registry=CollectorRegistry())
        w = WatchConfig(name="bench", every=60,
                        logs={"index": "agent-logs-*", "query": "log.level:error", "group_by": ["service.name"]})
        w_all = WatchConfig(name="bench_all", every=60,
                            logs={"index": "agent-logs-*", "query": "*", "group_by": ["service.name", "labels.tool"]})
        timings: dict[str, float] = {}
        cases = {
            "counts_10m_errors": lambda: src.fetch(w, end - 600, end),
            "counts_10m_all_by_agent_tool": lambda: src.fetch(w_all, end - 600, end),
            "counts_24h_all_by_agent_tool": lambda: src.fetch(w_all, end - 86400, end),
            "sample_10m_all": lambda: src.sample(w_all, end - 600, end),
            "sample_10k_messages": lambda: src.sample(w_all, end - 86400, end),
        }
        for name, fn in cases.items():
            fn()  # warm caches once, as a running daemon would have
            runs = []
            for _ in range(5):
                t = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - t)
            timings[name + "_s"] = round(statistics.median(runs), 4)
        sampled = len(src.sample(w_all, end - 600, end).records)
        return {"lines_indexed": res.written, "failed": res.failed, "hours": hours,
                "bulk_lines_per_s": round(res.written / load_s), "lines_in_10m_cycle": sampled, **timings}
    finally:
        server.stop()
        shutil.rmtree(server.workdir.parent, ignore_errors=True)


def index_time(stamp: str) -> float:
    """Unix seconds of an ISO-8601 ``@timestamp``."""
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
