"""One sentinel cycle against a real Prometheus: where does the time go, and what is our overhead?

For 1k and 10k series of a gauge backfilled into a fresh Prometheus 2.42
(``promtool tsdb create-blocks-from openmetrics``), a :class:`WatchRunner`
with the default detector and the real :class:`PrometheusSource` first warms
up on 4 h of history, then runs

- ``steady``: 20 cycles of one new 60 s step each (the daemon's normal cycle);
- ``catchup``: 3 cycles of 15 new steps each (after a short outage).

Each cycle's wall time is split into *query* (the HTTP round trip through
prometheus-api-client, which includes Prometheus' own work and the client's
``json.loads``), *decode* (JSON result -> Batch), *score* (detector),
*decide* (policy) and *export* (the /metrics collector update).  sentinel's
overhead is ``(decode + score + decide + export) / query``, medians over the
cycles; the goal (DESIGN §7, issue 3) is <= 0.25 at 10k series.  Rendering
/metrics is paid per scrape, not per cycle, so it is timed apart (*render*,
one ``generate_latest``) and also reported as ``overhead_ratio_with_render``
(one scrape per cycle).  To show how much of
*query* is client-side JSON parsing, the same request is also timed raw
(HTTP only) and its body parsed with ``json.loads`` separately.

Run: ``python benchmarks/cycle_prometheus.py [--series 1000 10000]``; writes
``benchmarks/results/cycle_prometheus.json``.  Needs ``prometheus`` and
``promtool`` (scripts/install-services.sh).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import requests
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentinel.config import PrometheusConfig, WatchConfig  # noqa: E402
from sentinel.publish.exporter import ResultCollector, exposition  # noqa: E402
from sentinel.sources.prometheus import PrometheusSource  # noqa: E402
from sentinel.watch import WatchRunner  # noqa: E402
from tests.services import backfill, start_prometheus  # noqa: E402

STEP = 60
T0 = 1_700_006_400  # a multiple of 3600
WARMUP_STEPS = 240
STEADY_CYCLES = 20
CATCHUP_CYCLES, CATCHUP_STEPS = 3, 15
GOAL = 0.25


def history(n_series: int, n_steps: int, seed: int = 1) -> Iterator[str]:
    """OpenMetrics text, one chunk per series: a daily wave, per-series level, noise."""
    rng = np.random.default_rng(seed)
    ts = T0 + STEP * np.arange(n_steps)
    wave = np.sin(2 * np.pi * (ts % 86_400) / 86_400)
    yield "# TYPE bench_gauge gauge\n"
    for s in range(n_series):
        level = 100.0 + 10.0 * (s % 97)
        vals = level * (1 + 0.2 * wave) + rng.normal(0, 0.02 * level, n_steps)
        prefix = f'bench_gauge{{agent="a{s:05d}",pool="p{s % 16}"}} '
        yield "".join(f"{prefix}{v:.3f} {t}\n" for v, t in zip(vals.tolist(), ts.tolist(), strict=True))
    yield "# EOF\n"


def raw_query(url: str, query: str, start: int, end: int) -> tuple[float, float, int]:
    """HTTP-only time, json.loads time and body size of one query_range (same request as the source)."""
    params = {"query": query, "start": start, "end": end, "step": STEP}
    t0 = time.perf_counter()
    body = requests.get(f"{url}/api/v1/query_range", params=params, timeout=60).content
    t1 = time.perf_counter()
    json.loads(body)
    return t1 - t0, time.perf_counter() - t1, len(body)


def run_one(n_series: int, workdir: Path) -> dict[str, object]:
    n_steps = WARMUP_STEPS + STEADY_CYCLES + CATCHUP_CYCLES * CATCHUP_STEPS + 1
    t0 = time.perf_counter()
    backfill(history(n_series, n_steps), workdir / "data")
    backfill_s = time.perf_counter() - t0
    prom = start_prometheus(workdir)
    try:
        registry = CollectorRegistry()
        collector = ResultCollector()
        source = PrometheusSource(PrometheusConfig(url=prom.url, timeout=120), registry=registry)
        watch = WatchConfig(name="bench", query="bench_gauge", every=STEP)
        runner = WatchRunner(watch, source, warmup=WARMUP_STEPS * STEP)
        now = T0 + (WARMUP_STEPS - 1) * STEP
        t0 = time.perf_counter()
        first = runner.cycle(now)
        warmup_s = time.perf_counter() - t0
        assert first is not None and first.batch.n_series == n_series, "warm-up did not see every series"

        shapes: dict[str, dict[str, object]] = {}
        for shape, cycles, steps in (("steady", STEADY_CYCLES, 1), ("catchup", CATCHUP_CYCLES, CATCHUP_STEPS)):
            rows: list[dict[str, float]] = []
            raw: list[tuple[float, float, int]] = []
            for _ in range(cycles):
                now += steps * STEP
                start = runner.cursor + STEP if runner.cursor is not None else now
                result = runner.cycle(now)
                assert result is not None and result.batch.n_steps == steps, "cycle did not get its new steps"
                t0 = time.perf_counter()
                collector.update(result)
                t1 = time.perf_counter()
                exposition(registry, collector, None)
                rows.append({
                    "query": source.last_timings["query"],
                    "decode": source.last_timings["decode"],
                    "score": result.timings["score"],
                    "decide": result.timings["decide"],
                    "export": t1 - t0,
                    "render": time.perf_counter() - t1,
                })
                raw.append(raw_query(prom.url, watch.query or "", start, result.batch.end))
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            own = med["decode"] + med["score"] + med["decide"] + med["export"]
            shapes[shape] = {
                "cycles": cycles,
                "steps_per_cycle": steps,
                "median_seconds": {k: round(v, 5) for k, v in med.items()},
                "overhead_ratio": round(own / med["query"], 3),
                "overhead_ratio_with_render": round((own + med["render"]) / med["query"], 3),
                "raw_http_seconds": round(statistics.median(r[0] for r in raw), 5),
                "raw_json_parse_seconds": round(statistics.median(r[1] for r in raw), 5),
                "response_bytes": int(statistics.median(r[2] for r in raw)),
            }
        return {
            "series": n_series,
            "backfill_seconds": round(backfill_s, 2),
            "warmup_cycle_seconds": round(warmup_s, 2),
            "warmup_steps": WARMUP_STEPS,
            **shapes,
        }
    finally:
        prom.stop()
        source.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "cycle_prometheus.json")
    args = parser.parse_args()
    runs = []
    for n in args.series:
        with tempfile.TemporaryDirectory(prefix="sentinel-bench-") as tmp:
            run = run_one(n, Path(tmp))
        runs.append(run)
        for shape in ("steady", "catchup"):
            r = run[shape]
            assert isinstance(r, dict)
            med = r["median_seconds"]
            ms = {k: f"{v * 1e3:.1f}" for k, v in med.items()}
            print(
                f"{n:>6} series {shape:<8} ms: query {ms['query']} decode {ms['decode']} score {ms['score']} "
                f"decide {ms['decide']} export {ms['export']} | overhead {r['overhead_ratio']:.2f} x query "
                f"({r['overhead_ratio_with_render']:.2f} with a /metrics render of {ms['render']}) | raw http "
                f"{r['raw_http_seconds'] * 1e3:.1f} ms, json.loads {r['raw_json_parse_seconds'] * 1e3:.1f} ms"
            )
    biggest = max(runs, key=lambda r: int(r["series"]))  # type: ignore[arg-type]
    steady = biggest["steady"]
    assert isinstance(steady, dict)
    out = {
        "benchmark": "cycle_prometheus",
        "prometheus": "2.42 (Debian), backfilled, 127.0.0.1",
        "query": "bench_gauge (bare selector: the cheapest query, so the hardest case for the overhead ratio)",
        "step_seconds": STEP,
        "goal": f"overhead_ratio <= {GOAL} at {biggest['series']} series (steady cycle)",
        "meets_goal": steady["overhead_ratio"] <= GOAL,
        "machine": {"python": platform.python_version(), "cpus_shared": True},
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2) + "\n")
    print(f"goal {out['goal']}: {'met' if out['meets_goal'] else 'NOT met'} ({steady['overhead_ratio']}); "
          f"wrote {args.output}")


if __name__ == "__main__":
    main()
