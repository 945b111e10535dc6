"""Forecast accuracy on NAB realAWSCloudwatch: rolling-origin MASE and interval coverage.

For every series, origins every 12 hours from day 4 on (day 2 for the one
series shorter than 6 days; history at each origin:
the last 7 days at most, as ForecastConfig.history), forecast 24 h ahead
with sentinel's Forecaster (model chosen per fit by its own rolling-origin
validation) and with seasonal-naive (daily period), and score the windows
1 h, 6 h and 24 h ahead:

- relative MAE = MAE(sentinel) / MAE(seasonal-naive) on the same targets:
  the "MASE against seasonal-naive" of the issue (below 1: beats it);
- classic MASE (Hyndman): MAE / in-sample MAE of the one-day seasonal-naive
  on the history at the origin, for reference;
- empirical coverage of the 80 % and 95 % intervals.

Files with duplicate or off-grid timestamps are averaged into 5-minute bins
(that is how ec2_disk_write_bytes_1ef3de and ec2_network_in_5abac7 arrive).

    python benchmarks/forecast_accuracy.py [--stride-hours 12] [--files N]
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sentinel.forecast import Forecaster

DATA = Path("/work/shared/bench/nab/data/realAWSCloudwatch")
OUT = Path(__file__).resolve().parent / "results"
STEP = 300
HORIZONS = {"1h": 12, "6h": 72, "24h": 288}
DAY = 288


def load(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (s) and values on a 5-minute grid, NaN where a bin is empty."""
    df = pd.read_csv(path)
    t = pd.to_datetime(df["timestamp"]).to_numpy().astype("datetime64[s]").astype(np.int64)
    bins = (t // STEP) * STEP
    s = pd.Series(df["value"].to_numpy(float)).groupby(bins).mean()
    grid = np.arange(s.index[0], s.index[-1] + 1, STEP)
    return grid, s.reindex(grid).to_numpy()


def evaluate(path: str, stride: int) -> dict:
    t, y = load(path)
    h = max(HORIZONS.values())
    first = 4 * DAY if len(y) >= 6 * DAY else 2 * DAY  # iio_us-east-1 has only 4.3 days
    origins = range(first - 1, len(y) - h, stride)
    err = {k: [] for k in HORIZONS}
    ref = {k: [] for k in HORIZONS}
    scale = []
    cover = {(k, lvl): [] for k in HORIZONS for lvl in (0.8, 0.95)}
    methods: dict[str, int] = {}
    fit_s = []
    for o in origins:
        lo = max(0, o + 1 - 7 * DAY)
        ht, hy = t[lo : o + 1], y[lo : o + 1]
        f = Forecaster(level=0.95)
        t0 = time.perf_counter()
        f.fit(ht, hy, h * STEP)
        fit_s.append(time.perf_counter() - t0)
        methods[f.method_] = methods.get(f.method_, 0) + 1
        p80, p95 = f.path(0.8), f.path(0.95)
        actual = y[o + 1 : o + 1 + h]
        j = np.arange(h)
        snaive = y[o + 1 + j - DAY * (j // DAY + 1)]
        scale.append(np.nanmean(np.abs(hy[DAY:] - hy[:-DAY])) if len(hy) > DAY else np.nan)
        for k, n in HORIZONS.items():
            a = actual[:n]
            ok = np.isfinite(a) & np.isfinite(snaive[:n])
            err[k].append(np.abs(a - f.yhat_[:n])[ok])
            ref[k].append(np.abs(a - snaive[:n])[ok])
            for lvl, p in ((0.8, p80), (0.95, p95)):
                cover[(k, lvl)].append(((a >= p.lower[:n]) & (a <= p.upper[:n]))[ok])
    row: dict = {"series": Path(path).stem, "origins": len(fit_s), "fit_seconds_mean": float(np.mean(fit_s))}
    row["methods"] = methods
    for k in HORIZONS:
        e = np.concatenate(err[k])
        r = np.concatenate(ref[k])
        row[f"rel_mae_{k}"] = float(e.mean() / r.mean()) if r.mean() > 0 else float("nan")
        per_origin_mase = [ei.mean() / s for ei, s in zip(err[k], scale, strict=True) if s > 0]
        row[f"mase_{k}"] = float(np.mean(per_origin_mase)) if per_origin_mase else float("nan")
        for lvl in (0.8, 0.95):
            row[f"cov{int(lvl * 100)}_{k}"] = float(np.concatenate(cover[(k, lvl)]).mean())
    return row


def summarise(rows: list[dict]) -> dict:
    out: dict = {"series": len(rows)}
    for k in HORIZONS:
        rel = np.array([r[f"rel_mae_{k}"] for r in rows])
        out[f"rel_mae_{k}_median"] = float(np.nanmedian(rel))
        out[f"rel_mae_{k}_below_1"] = int((rel < 1).sum())
        out[f"mase_{k}_median"] = float(np.nanmedian([r[f"mase_{k}"] for r in rows]))
        for lvl in (80, 95):
            cov = np.array([r[f"cov{lvl}_{k}"] for r in rows])
            out[f"cov{lvl}_{k}_mean"] = float(cov.mean())
            out[f"cov{lvl}_{k}_within_5pts"] = int((np.abs(cov - lvl / 100) <= 0.05).sum())
    out["fit_seconds_mean"] = float(np.mean([r["fit_seconds_mean"] for r in rows]))
    return out


def markdown(rows: list[dict], summary: dict) -> str:
    cols = [f"{m}_{k}" for k in HORIZONS for m in ("rel_mae", "cov80", "cov95")]
    lines = ["| series | " + " | ".join(cols) + " | chosen (most often) |", "|---" * (len(cols) + 2) + "|"]
    for r in rows:
        top = max(r["methods"], key=r["methods"].get)
        lines.append(f"| {r['series']} | " + " | ".join(f"{r[c]:.2f}" for c in cols) + f" | {top} |")
    lines.append("")
    lines += [f"- {k}: {v:.3f}" if isinstance(v, float) else f"- {k}: {v}" for k, v in summary.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stride-hours", type=float, default=12.0)
    ap.add_argument("--files", type=int, default=0, help="only the first N files (0: all)")
    args = ap.parse_args()
    files = sorted(glob.glob(str(DATA / "*.csv")))
    if args.files:
        files = files[: args.files]
    stride = int(args.stride_hours * 3600 // STEP)
    rows = []
    for path in files:
        row = evaluate(path, stride)
        rows.append(row)
        print(
            f"{row['series']:40s} " + " ".join(f"{k}={row[f'rel_mae_{k}']:.2f}/{row[f'cov80_{k}']:.2f}/"
                                               f"{row[f'cov95_{k}']:.2f}" for k in HORIZONS),
            flush=True,
        )
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    OUT.mkdir(exist_ok=True)
    (OUT / "forecast_accuracy.json").write_text(json.dumps({"summary": summary, "series": rows}, indent=1))
    (OUT / "forecast_accuracy.md").write_text(markdown(rows, summary))


if __name__ == "__main__":
    main()
