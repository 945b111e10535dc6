"""Series churn: state, checkpoint size and pruning cost over cycles of new series (sentinel.retention).

An agent fleet churns: every new agent id is a new label set.  Each hourly
cycle (1-minute samples) brings ``--new`` series that report for that hour
only, beside ``--stable`` series that always report.  The watch runs
``--cycles`` cycles twice with the default detector and policy:

- ``never``: ``series_retention`` longer than the run, so nothing is
  forgotten -- what main does (it has no retention: every series it ever met
  stays in the detector, the policy and the checkpoint);
- ``retention``: ``series_retention`` of ``--retention`` (2h by default: one
  hour of absence tolerated), so each hour's agents are forgotten two cycles
  later.

Per cycle it records the series tracked, the learned state (detector +
policy arrays, bytes), the checkpoint written after the cycle (bytes on
disk), the cycle's wall time and its ``prune`` stage (the retention
bookkeeping and the forgetting), reported as a share of the cycle.

    python benchmarks/churn.py [--cycles 24] [--new 1000] [--stable 100] [--retention 2h]

Writes benchmarks/results/churn.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentinel import checkpoint  # noqa: E402
from sentinel.config import WatchConfig  # noqa: E402
from sentinel.config.values import MAX_DURATION, parse_duration  # noqa: E402
from sentinel.fleet import DEFAULT_START  # noqa: E402
from sentinel.watch import WatchRunner  # noqa: E402
from tests.churn import ChurnSource, churning  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "churn.json"
HOUR = 3600


def run(cycles: int, new: int, stable: int, retention: int) -> list[dict[str, float]]:
    """One run; a row per cycle."""
    w = WatchConfig.model_validate({"name": "churn", "query": "up", "every": "1h", "step": "1m",
                                    "series_retention": retention})
    runner = WatchRunner(w, ChurnSource(churning(stable, new, HOUR)), warmup=HOUR)
    t0 = (DEFAULT_START // HOUR) * HOUR
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(1, cycles + 1):
            start = time.perf_counter()
            r = runner.cycle(t0 + k * HOUR)
            wall = time.perf_counter() - start
            assert r is not None and runner.detector is not None
            checkpoint.save(Path(tmp), runner)
            rows.append({
                "cycle": k, "tracked": r.tracked, "forgotten": sum(len(v) for v in r.forgotten.values()),
                "state_bytes": runner.detector.state_bytes() + sum(a.nbytes for a in runner.policy.state_.values()),
                "checkpoint_bytes": sum(p.stat().st_size for p in Path(tmp).iterdir()),
                "cycle_seconds": wall, "prune_seconds": r.timings["prune"],
            })
            print(f"  cycle {k:3d}: {r.tracked:6d} series, checkpoint {rows[-1]['checkpoint_bytes'] / 1e6:7.1f} MB, "
                  f"cycle {wall:6.2f}s, prune {r.timings['prune'] * 1e3:6.1f} ms", flush=True)
    return rows


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    """The last cycle's size, and pruning's share of the cycles after the first (the warm-up replay)."""
    after = rows[1:] or rows
    return {"tracked": rows[-1]["tracked"], "state_mb": round(rows[-1]["state_bytes"] / 1e6, 2),
            "checkpoint_mb": round(rows[-1]["checkpoint_bytes"] / 1e6, 2),
            "cycle_seconds_median": round(sorted(r["cycle_seconds"] for r in after)[len(after) // 2], 3),
            "prune_ms_median": round(sorted(r["prune_seconds"] for r in after)[len(after) // 2] * 1e3, 2),
            "prune_ms_max": round(max(r["prune_seconds"] for r in after) * 1e3, 2),
            "prune_share_of_cycle": round(sum(r["prune_seconds"] for r in after) /
                                          sum(r["cycle_seconds"] for r in after), 5)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=24)
    ap.add_argument("--new", type=int, default=1000, help="new series per cycle (each reports for one hour)")
    ap.add_argument("--stable", type=int, default=100)
    ap.add_argument("--retention", default="2h")
    a = ap.parse_args()
    out: dict[str, object] = {"cycles": a.cycles, "new_per_cycle": a.new, "stable": a.stable,
                              "cycle": "1h of 1m samples", "retention": a.retention}
    for name, retention in (("never", MAX_DURATION), ("retention", parse_duration(a.retention))):
        print(f"{name}:", flush=True)
        rows = run(a.cycles, a.new, a.stable, retention)
        out[name] = {"summary": summary(rows), "cycles_detail": rows}
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    for name in ("never", "retention"):
        print(name, out[name]["summary"])  # type: ignore[index]


if __name__ == "__main__":
    main()
