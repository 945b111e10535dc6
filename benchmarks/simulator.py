"""Detection on the simulator's incidents: caught vs injected, delay, false alarms on clean series.

Runs the embedded default (the same watches ``sentinel run`` uses without a
config) over simulated weeks with seeds the detector was not developed on,
and scores the alerts against the simulator's ground truth with
:func:`sentinel.evaluate.evaluate`.  Writes benchmarks/results/simulator.json.

    python benchmarks/simulator.py [--seeds 101 102 103] [--agents 20] [--days 7]
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

from sentinel.config import SimulatorConfig
from sentinel.defaults import embedded_config
from sentinel.demo import run_demo

OUT = Path(__file__).parent / "results" / "simulator.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args()
    runs, kinds = [], {}
    t0 = time.perf_counter()
    for seed in args.seeds:
        cfg = embedded_config(SimulatorConfig(agents=args.agents, seed=seed))
        with tempfile.TemporaryDirectory() as tmp, open(os.devnull, "w") as quiet:
            rep = run_demo(cfg, Path(tmp), days=args.days, stream=quiet)
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
        print(json.dumps(runs[-1]))
    by_kind = {
        kind: {"injected": v["injected"], "detected": v["detected"],
               "median_delay_s": float(np.median(v["delays_s"])) if v["delays_s"] else None}
        for kind, v in sorted(kinds.items())
    }
    total_fa = sum(r["false_alarms"] for r in runs)
    series_weeks = sum(r["series"] for r in runs) * args.days / 7
    result = {
        "agents": args.agents, "days": args.days, "seeds": args.seeds,
        "incidents": sum(r["incidents"] for r in runs), "detected": sum(r["detected"] for r in runs),
        "false_alarms_per_series_week": round(total_fa / series_weeks, 4),
        "by_kind": by_kind, "runs": runs, "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
