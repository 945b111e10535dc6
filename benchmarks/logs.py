"""Logs benchmark: grouping accuracy and lines/s of template mining; query time per cycle against a real node.

``python benchmarks/logs.py`` measures, in one process:

* **grouping accuracy** (Loghub's "group accuracy": a line counts as right
  when the set of lines sharing its predicted template is exactly the set
  sharing its true template) on labelled corpora we can make here: the
  simulator's own ECS logs (ground-truth template ids from
  ``Fleet.labelled_logs``) and :mod:`logs_corpus` (HDFS-, Apache-, OpenSSH-,
  Spark-, Zookeeper-, Windows-like, key=value/JSON services, agent lines, and
  a "hard" set), for plain drain3 (defaults), drain3 with simple number/IP
  masking (drain3's own masker), and sentinel's miner;
* **speed**: lines/s through masking + mining for sentinel's miner (with and
  without its masked-line cache) and for drain3 with simple masking, as a
  ratio in the same run.

``python benchmarks/logs.py --es`` (slow: a few minutes) also starts the real
Elasticsearch node (tests/es_service.py), bulk-loads ~1M simulator log lines
through :mod:`sentinel.fleet.elastic`, and times one log watch cycle: counts
per group (composite + date_histogram) and the bounded message sample
(point in time + search_after), for a 10-minute cycle and a 24-hour backfill.

Results: benchmarks/results/logs.json (+ logs.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from prometheus_client import CollectorRegistry

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from logs_corpus import corpus, formats  # noqa: E402

from sentinel.logs.miner import LogMiner  # noqa: E402

RESULTS = HERE / "results"


def group_accuracy(pred: Sequence[object], truth: Sequence[object]) -> float:
    """Loghub grouping accuracy.

    >>> group_accuracy([1, 1, 2, 3], ["a", "a", "b", "b"])
    0.5
    """
    by_pred: dict[object, list[int]] = defaultdict(list)
    by_true: dict[object, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(pred, truth, strict=True)):
        by_pred[p].append(i)
        by_true[t].add(i)
    ok = sum(len(idx) for idx in by_pred.values() if by_true[truth[idx[0]]] == set(idx))
    return ok / len(truth) if truth else 1.0


def drain3_miner(masking: bool) -> Callable[[str], object]:
    """drain3 as shipped: defaults, optionally with drain3's masker on numbers and IPs (the usual setup)."""
    cfg = TemplateMinerConfig()
    if masking:
        cfg.masking_instructions = [
            MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
            MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
        ]
    tm = TemplateMiner(None, cfg)
    return lambda line: tm.add_log_message(line)["cluster_id"]


def sentinel_miner(cache: bool = True) -> Callable[[str], object]:
    m = LogMiner(watch="bench", max_templates=100_000, cache_size=200_000 if cache else 0,
                 registry=CollectorRegistry())
    return lambda line: m.add(line).template_id


MINERS: dict[str, Callable[[], Callable[[str], object]]] = {
    "drain3_plain": lambda: drain3_miner(False),
    "drain3_masked": lambda: drain3_miner(True),
    "sentinel": sentinel_miner,
}


def fleet_corpus(hours: int, agents: int = 8) -> tuple[list[str], list[str]]:
    """The simulator's messages and true template ids (incidents included)."""
    from sentinel.fleet import Fleet

    fleet = Fleet(agents=agents, seed=11, incident_rate=3.0)
    pairs = list(fleet.labelled_logs(fleet.start, fleet.start + hours * 3600))
    return [r["message"] for _, r in pairs], [t for t, _ in pairs]


def accuracy(corpora: dict[str, tuple[list[str], list[object]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, (lines, truth) in corpora.items():
        out[name] = {}
        for miner_name, make in MINERS.items():
            add = make()
            out[name][miner_name] = round(group_accuracy([add(x) for x in lines], truth), 4)
        print(f"  {name:12s} " + "  ".join(f"{k}={v:.3f}" for k, v in out[name].items()), flush=True)
    return out


def speed(lines: list[str], repeats: int = 3) -> dict[str, float]:
    """Best-of lines/s for each miner on the same lines (fresh miner each run)."""
    makers = {"drain3_masked": lambda: drain3_miner(True), "sentinel": sentinel_miner,
              "sentinel_nocache": lambda: sentinel_miner(cache=False)}
    rates: dict[str, float] = {}
    for _ in range(repeats):
        for name, make in makers.items():
            add = make()
            t0 = time.perf_counter()
            for x in lines:
                add(x)
            rates[name] = max(rates.get(name, 0.0), len(lines) / (time.perf_counter() - t0))
    return {k: round(v) for k, v in rates.items()}


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--es", action="store_true", help="also run the Elasticsearch query benchmark (slow)")
    ap.add_argument("--es-only", action="store_true", help="only the Elasticsearch part (keeps the other figures)")
    ap.add_argument("--es-lines", type=int, default=1_000_000)
    ap.add_argument("--speed-lines", type=int, default=200_000)
    args = ap.parse_args()
    if args.es_only:
        path = RESULTS / "logs.json"
        result = json.loads(path.read_text()) if path.exists() else {}
        print(f"Elasticsearch: loading ~{args.es_lines} lines", flush=True)
        result["elasticsearch"] = es_cycle(args.es_lines)
        print(f"  {result['elasticsearch']}", flush=True)
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        return

    print("grouping accuracy (Loghub definition)", flush=True)
    corpora: dict[str, tuple[list[str], list[object]]] = {}
    fleet_lines, fleet_truth = fleet_corpus(hours=6)
    corpora["fleet"] = (fleet_lines[:20_000], list(fleet_truth[:20_000]))
    for fmt in formats():
        lines, truth = corpus(2000, seed=3, formats={fmt})
        corpora[fmt] = (lines, list(truth))
    mixed, mixed_truth = corpus(20_000, seed=4)
    corpora["mixed"] = (mixed, list(mixed_truth))
    acc = accuracy(corpora)
    per_corpus = [c for c in corpora if c != "mixed"]
    summary = {m: round(statistics.mean(acc[c][m] for c in per_corpus), 4) for m in MINERS}
    print("  mean over corpora: " + "  ".join(f"{k}={v:.3f}" for k, v in summary.items()), flush=True)

    print(f"speed on {args.speed_lines} mixed lines", flush=True)
    speed_lines, _ = corpus(args.speed_lines, seed=5)
    rates = speed(speed_lines)
    ratio = round(rates["sentinel"] / rates["drain3_masked"], 3)
    print(f"  lines/s {rates}  sentinel / drain3_masked = {ratio}", flush=True)
    result: dict[str, object] = {
        "accuracy": acc, "accuracy_mean": summary, "lines_per_second": rates, "speed_ratio_vs_drain3_masked": ratio,
        "speed_ratio_nocache_vs_drain3_masked": round(rates["sentinel_nocache"] / rates["drain3_masked"], 3),
    }
    if args.es:
        print(f"Elasticsearch: loading ~{args.es_lines} lines", flush=True)
        result["elasticsearch"] = es_cycle(args.es_lines)
        print(f"  {result['elasticsearch']}", flush=True)
    else:
        previous = RESULTS / "logs.json"
        if previous.exists():  # keep the last (slow) node figures unless re-measured
            old = json.loads(previous.read_text()).get("elasticsearch")
            if old:
                result["elasticsearch"] = old
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "logs.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS / 'logs.json'}")


if __name__ == "__main__":
    main()
