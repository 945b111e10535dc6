"""Detection on the simulator's incidents: caught vs injected, delay, false alarms on clean series.

Runs the embedded default (the same watches ``sentinel run`` uses without a
config) over simulated weeks with seeds the detector was not developed on,
and scores the alerts against the simulator's ground truth with
:func:`sentinel.evaluate.evaluate`.  Writes benchmarks/results/simulator.json.

``--detector KIND`` (e.g. ``stl``) puts that detector kind on every metric
anomaly watch (runway and log watches are unchanged) and runs the default detector on
the same seeds in the same process for comparison; it writes
benchmarks/results/simulator_<KIND>.json with both.

    python benchmarks/simulator.py [--seeds 101 102 103] [--agents 20] [--days 7]
    python benchmarks/simulator.py --detector stl --warmup-days 14 [--params '{"retrain": "6h", "window": "14d"}']
    python benchmarks/simulator.py --warmup-days 14 --seeds 101 102 --agents 10 --tag warmup14   # long history
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from sentinel.config import Config, DetectorConfig, SimulatorConfig
from sentinel.defaults import embedded_config
from sentinel.demo import run_demo

OUT = Path(__file__).parent / "results" / "simulator.json"


def with_detector(cfg: Config, kind: str, params: dict[str, object]) -> Config:
    """``cfg`` with detector ``kind`` on every metric watch that has a detector (log watches keep theirs)."""
    det = DetectorConfig(kind=kind, params=params)
    watches = [w.model_copy(update={"detector": det}) if w.detector is not None and w.query is not None else w
               for w in cfg.watches]
    return cfg.model_copy(update={"watches": watches})


def run(args: argparse.Namespace, kind: str, params: dict[str, object]) -> dict[str, object]:
    """All seeds through one detector kind; the summary and per-run figures."""
    runs, kinds = [], {}
    t0 = time.perf_counter()
    for seed in args.seeds:
        cfg = with_detector(embedded_config(SimulatorConfig(agents=args.agents, seed=seed)), kind, params)
        with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as quiet:
            rep = run_demo(cfg, Path(tmp), days=args.days, warmup_days=args.warmup_days, stream=quiet)
        ev = rep.evaluation
        runs.append({
            "seed": seed, "incidents": len(ev.outcomes), "detected": ev.detected,
            "false_alarms": len(ev.false_alarms), "series": rep.n_series,
            "false_alarms_per_series_week": round(ev.false_alarms_per_series_week, 4),
            "false_alarms_by_watch": dict(sorted(Counter(e.watch for e in ev.false_alarms).items())),
            "seconds": round(rep.seconds, 1),
        })
        for o in ev.outcomes:
            k = kinds.setdefault(o.incident.kind, {"injected": 0, "detected": 0, "delays_s": []})
            k["injected"] += 1
            if o.delay is not None:
                k["detected"] += 1
                k["delays_s"].append(o.delay)
        print(json.dumps({"detector": kind, **runs[-1]}))
    by_kind = {
        kind: {"injected": v["injected"], "detected": v["detected"],
               "median_delay_s": float(np.median(v["delays_s"])) if v["delays_s"] else None}
        for kind, v in sorted(kinds.items())
    }
    total_fa = sum(r["false_alarms"] for r in runs)
    series_weeks = sum(r["series"] for r in runs) * args.days / 7
    return {
        "agents": args.agents, "days": args.days, "warmup_days": args.warmup_days, "seeds": args.seeds,
        "incidents": sum(r["incidents"] for r in runs), "detected": sum(r["detected"] for r in runs),
        "false_alarms_per_series_week": round(total_fa / series_weeks, 4),
        "by_kind": by_kind, "runs": runs, "wall_seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--warmup-days", type=int, default=2, help="clean history learned before the scored days")
    ap.add_argument("--detector", default="default", help="detector kind for the anomaly watches (e.g. stl)")
    ap.add_argument("--params", default="{}", help="the kind's params as JSON")
    ap.add_argument("--no-default", action="store_true", help="skip the default-detector comparison run")
    ap.add_argument("--tag", default="",
                    help="suffix of the result file (simulator_<TAG>.json, or simulator_<KIND>_<TAG>.json)")
    args = ap.parse_args()
    params = json.loads(args.params)
    if args.detector == "default":
        result = run(args, "default", params)
        out = OUT.with_name(f"simulator_{args.tag}.json") if args.tag else OUT
    else:
        result = {"detector": args.detector, "params": params, args.detector: run(args, args.detector, params)}
        if not args.no_default:
            result["default"] = run(args, "default", {})
        out = OUT.with_name(f"simulator_{args.detector}{'_' + args.tag if args.tag else ''}.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    short = {k: v for k, v in result.items() if k != "runs"}
    for kind in (args.detector, "default"):
        if isinstance(short.get(kind), dict):
            short[kind] = {k: v for k, v in short[kind].items() if k != "runs"}
    print(json.dumps(short, indent=2))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
