"""Throughput of the default online detector, and river's HalfSpaceTrees as the per-point reference.

    python benchmarks/throughput.py [--steps 60] [--sizes 1000,10000,100000]

For each fleet size the default detector (guarded seasonal ensemble) first
warms up on 4 hours of 5-minute data, then scores and learns ``--steps``
more steps; samples per second per core are counted in CPU time of this
process (numpy runs single-threaded here), wall time is reported beside it.
State bytes per series are the learned arrays divided by the series count.
River's HalfSpaceTrees scores and learns one point at a time on the same kind
of data in the same run; the ratio is what vectorising over series buys.
Writes ``benchmarks/results/throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sentinel.config import DetectorConfig
from sentinel.detect import build_detector
from sentinel.series import Batch

ROOT = Path(__file__).resolve().parents[1]
STEP = 300


def fleet(n: int, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(steps) * STEP
    base = rng.uniform(10, 1000, (n, 1))
    daily = 1 + 0.3 * np.sin(2 * np.pi * t / 86400 + rng.uniform(0, 6.3, (n, 1)))
    return base * daily * (1 + 0.05 * rng.standard_normal((n, steps)))


def bench_sentinel(n: int, steps: int) -> dict:
    warm = 48
    values = fleet(n, warm + steps)
    labels = [{"series": str(i)} for i in range(n)]
    ts = 1_700_000_000 + np.arange(warm + steps, dtype=np.int64) * STEP
    det = build_detector(DetectorConfig(kind="default"), step=STEP)
    det.process(Batch.from_rows(labels, ts[:warm], values[:, :warm], step=STEP))
    b = Batch.from_rows(labels, ts[warm:], values[:, warm:], step=STEP)
    c0, w0 = time.process_time(), time.perf_counter()
    det.process(b)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    samples = n * steps
    return {
        "series": n, "steps": steps, "samples": samples,
        "samples_per_s_per_core": round(samples / cpu), "samples_per_s_wall": round(samples / wall),
        "state_bytes_per_series": round(det.state_bytes() / n, 1),
    }


def bench_river_hst(points: int) -> dict:
    from river import anomaly, preprocessing

    values = fleet(1, points, seed=1)[0]
    model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=0)
    c0 = time.process_time()
    for v in values.tolist():
        x = {"value": v}
        model.score_one(x)
        model.learn_one(x)
    cpu = time.process_time() - c0
    return {"points": points, "samples_per_s_per_core": round(points / cpu)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--hst-points", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "throughput.json")
    args = ap.parse_args()
    hst = bench_river_hst(args.hst_points)
    rows = [bench_sentinel(int(n), args.steps) for n in args.sizes.split(",")]
    for r in rows:
        r["ratio_vs_river_hst"] = round(r["samples_per_s_per_core"] / hst["samples_per_s_per_core"], 1)
    report = {"detector": "default", "step_seconds": STEP, "sentinel": rows, "river_half_space_trees": hst,
              "goal": {"samples_per_s_per_core": 5_000_000, "state_bytes_per_series": 4096, "at_series": 100_000}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"river HalfSpaceTrees (per point): {hst['samples_per_s_per_core']:,} samples/s/core")
    print(f"{'series':>8s} {'samples/s/core':>15s} {'samples/s wall':>15s} {'state B/series':>15s} {'x HST':>7s}")
    for r in rows:
        print(f"{r['series']:8d} {r['samples_per_s_per_core']:15,d} {r['samples_per_s_wall']:15,d} "
              f"{r['state_bytes_per_series']:15.0f} {r['ratio_vs_river_hst']:7.0f}")


if __name__ == "__main__":
    main()
