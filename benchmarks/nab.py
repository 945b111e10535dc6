"""NAB benchmark: every corpus file through ``sentinel detect``, scored the NAB way.

    python benchmarks/nab.py [--nab ../shared/bench/nab] [--only SUBSTR]

The files are scored by :func:`sentinel.cli.detect.detect_files` (the body of
``sentinel detect FILE... --output-dir DIR``, in-process) into temporary CSVs
that are read back, so the numbers are those of the real command.  Reports the three NAB
profiles for (a) sentinel's default decisions (the ``anomaly`` column) and
(b) the corpus-optimised single threshold on the ``score`` column, plus a
per-file breakdown of where points are lost.  Writes
``benchmarks/results/nab.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sentinel.config import AlertPolicyConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nab_scoring import PROFILES, FileTruth, best_threshold, normalise

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NAB = ROOT.parent / "shared" / "bench" / "nab"
SCOREBOARD = {
    "ARTime": (74.9, 65.1, 80.4),
    "Numenta HTM": (70.5, 62.6, 75.2),
    "CAD OSE": (69.9, 67.0, 73.2),
    "Windowed Gaussian": (39.6, 20.9, 47.4),
}


def run_files(paths: list[Path], threshold: float | None = None,
              kind: str = "default") -> list[tuple[np.ndarray, np.ndarray]]:
    """Score the files through the detect command's body; return each file's scores and decisions."""
    from sentinel.cli.detect import detect_files

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        pairs = [(p, Path(tmp) / f"{i}.csv") for i, p in enumerate(paths)]
        detect_files(pairs, kind=kind, threshold=threshold)
        for _, dst in pairs:
            with open(dst, newline="") as fh:
                rows = list(csv.DictReader(fh))
            score = np.array([float(r["score"]) if r["score"] else np.nan for r in rows])
            out.append((score, np.array([r["anomaly"] == "1" for r in rows])))
    return out


def truth_for(path: Path, key: str, windows: dict[str, list[list[str]]]) -> FileTruth:
    ts = pd.to_datetime(pd.read_csv(path, usecols=["timestamp"])["timestamp"]).to_numpy()
    spans = []
    for start, end in windows.get(key, []):
        lo = int(np.searchsorted(ts, np.datetime64(pd.Timestamp(start)), side="left"))
        hi = int(np.searchsorted(ts, np.datetime64(pd.Timestamp(end)), side="right")) - 1
        if hi >= lo:
            spans.append((lo, hi))
    return FileTruth.build(len(ts), spans)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nab", type=Path, default=DEFAULT_NAB)
    ap.add_argument("--only", default="", help="only files whose path contains this")
    ap.add_argument("--threshold", type=float, default=None,
                    help="alert policy threshold for the decisions (default: the policy's own default)")
    ap.add_argument("--detector", default="default", help="detector kind (default, guarded, ensemble, ...)")
    ap.add_argument("--out", type=Path, default=None,
                    help="results file (default: benchmarks/results/nab.json, nab_<kind>.json for other kinds)")
    args = ap.parse_args()
    name = "nab" if args.detector == "default" else f"nab_{args.detector}"
    args.out = args.out or ROOT / "benchmarks" / "results" / f"{name}.json"

    windows = json.loads((args.nab / "labels" / "combined_windows.json").read_text())
    paths = sorted(p for p in (args.nab / "data").glob("*/*.csv") if args.only in str(p))
    keys = {str(p): f"{p.parent.name}/{p.name}" for p in paths}
    t0, c0 = time.perf_counter(), time.process_time()
    results = run_files(paths, args.threshold, args.detector)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    truths = [truth_for(p, keys[str(p)], windows) for p in paths]
    scores = [r[0] for r in results]
    decisions = [r[1] for r in results]
    rows = sum(t.rows for t in truths)

    report: dict = {"files": len(paths), "rows": rows, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
                    "detector": args.detector, "policy_threshold": args.threshold or AlertPolicyConfig().threshold,
                    "default_decisions": {}, "optimised_threshold": {}, "per_file": {}}
    for name, prof in PROFILES.items():
        raw = sum(t.score(d, prof) for t, d in zip(truths, decisions, strict=True))
        null = sum(t.null(prof) for t in truths)
        perfect = sum(t.perfect(prof) for t in truths)
        report["default_decisions"][name] = round(normalise(raw, null, perfect), 2)
        thr, best = best_threshold(truths, scores, prof)
        report["optimised_threshold"][name] = {"score": round(best, 2), "threshold": thr}
    std = PROFILES["standard"]
    thr = report["optimised_threshold"]["standard"]["threshold"]
    for p, (s, d), t in zip(paths, results, truths, strict=True):
        det_opt = np.nan_to_num(s, nan=-1.0) >= thr
        tp, fn, fp = t.counts(det_opt)
        tp_d, fn_d, fp_d = t.counts(d)
        report["per_file"][keys[str(p)]] = {
            "windows": t.n_windows,
            "optimised": {"raw": round(t.score(det_opt, std), 3), "tp": tp, "fn": fn, "fp": fp,
                          "lost": round(t.perfect(std) - t.score(det_opt, std), 3)},
            "default": {"raw": round(t.score(d, std), 3), "tp": tp_d, "fn": fn_d, "fp": fp_d,
                        "lost": round(t.perfect(std) - t.score(d, std), 3)},
        }
    report["scoreboard"] = SCOREBOARD
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not args.only and (args.threshold is None or args.detector != "default"):
        args.out.write_text(json.dumps(report, indent=1) + "\n")

    print(f"NAB: {len(paths)} files, {rows} rows, {wall:.0f}s wall, {cpu:.0f}s cpu")
    print(f"{'':28s} {'standard':>9s} {'low FP':>9s} {'low FN':>9s}")
    o = report["optimised_threshold"]
    print(f"{'sentinel (optimised thr)':28s} " + " ".join(f"{o[k]['score']:9.1f}" for k in PROFILES)
          + f"   thr={o['standard']['threshold']:.8f}")
    dflt = report["default_decisions"]
    print(f"{'sentinel (default decisions)':28s} " + " ".join(f"{dflt[k]:9.1f}" for k in PROFILES))
    for name, vals in SCOREBOARD.items():
        print(f"{name:28s} " + " ".join(f"{v:9.1f}" for v in vals))
    worst = sorted(report["per_file"].items(), key=lambda kv: -kv[1]["optimised"]["lost"])[:12]
    print("files losing most (standard, optimised threshold): lost  tp/fn/fp | default tp/fn/fp")
    for k, v in worst:
        o_, d_ = v["optimised"], v["default"]
        print(f"  {k:55s} {o_['lost']:6.2f}  {o_['tp']}/{o_['fn']}/{o_['fp']} | {d_['tp']}/{d_['fn']}/{d_['fp']}")


if __name__ == "__main__":
    main()
