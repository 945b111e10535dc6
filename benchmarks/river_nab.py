"""Does river's HalfSpaceTrees serve as a detector (or ensemble member) on NAB?

    python benchmarks/river_nab.py [--lags 1 4]

Issue 4 suggests river models "where they serve", HalfSpaceTrees for one.
This scores every NAB file with river's own per-point pipeline,
``MinMaxScaler | HalfSpaceTrees(n_trees=25, height=8, window_size=250)``,
on the last ``lags`` values (score_one, then learn_one: causal), and reports
the three NAB profiles at the corpus-optimised threshold (the most
favourable reading), with its speed.  Writes ``benchmarks/results/river_nab.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from river import anomaly, compose, preprocessing

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nab import DEFAULT_NAB, ROOT, truth_for
from nab_scoring import PROFILES, best_threshold


def hst_scores(values: np.ndarray, lags: int) -> np.ndarray:
    model = compose.Pipeline(
        preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(n_trees=25, height=8, window_size=250, seed=42)
    )
    out = np.empty(len(values))
    window = [float(values[0])] * lags
    for i, x in enumerate(values.tolist()):
        window = [*window[1:], x]
        features = {f"lag{j}": v for j, v in enumerate(window)}
        out[i] = model.score_one(features)
        model.learn_one(features)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nab", type=Path, default=DEFAULT_NAB)
    ap.add_argument("--lags", type=int, nargs="+", default=[1, 4])
    args = ap.parse_args()
    windows = json.loads((args.nab / "labels" / "combined_windows.json").read_text())
    paths = sorted((args.nab / "data").glob("*/*.csv"))
    truths = [truth_for(p, f"{p.parent.name}/{p.name}", windows) for p in paths]
    series = [pd.read_csv(p)["value"].to_numpy(float) for p in paths]
    report: dict = {"model": "MinMaxScaler | HalfSpaceTrees(n_trees=25, height=8, window_size=250)", "runs": []}
    for lags in args.lags:
        t0 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # MinMaxScaler on a constant start: 0/0
            scores = [hst_scores(v, lags) for v in series]
        cpu = time.process_time() - t0
        run = {"lags": lags, "points_per_cpu_second": round(sum(map(len, series)) / cpu),
               "optimised_threshold": {name: round(float(best_threshold(truths, scores, prof)[1]), 1)
                                       for name, prof in PROFILES.items()}}
        report["runs"].append(run)
        print(f"lags={lags}: {run['optimised_threshold']}  ({run['points_per_cpu_second']} points/s)")
    out = ROOT / "benchmarks" / "results" / "river_nab.json"
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
