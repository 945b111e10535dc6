"""Incident-shape power curves: detection rate and delay by shape x size x base family, false alarms on clean twins.

Why: NAB and the fleet simulator give one score each; neither says how
detection depends on an incident's *shape and size*.  Here every incident is
synthetic with exact ground truth (:mod:`_shapes`): five families of clean
base series (daily seasonal + Gaussian noise; the same with a weekend dip;
Poisson counts with a daily rate; AR(1); flat with routine spikes), sampled
every minute (the embedded default's watches run ``every: 1m``) for an 8-day
warm-up and 2 scored days, starting on a Thursday.  Each base series gets a
clean twin (itself) and one incident per (shape, magnitude) cell, at a
random time in the first scored day; magnitudes are in units of the series'
own noise (robust sd of its residual), or the noise factor k for
``variance``.

All series of a family go through one default detector
(``build_detector(DetectorConfig(kind="default"), step=60)``) side by side, a
day per ``process`` call, and are decided two ways:

- **reports**: the detector's default decisions, score >= 0.99 (the alert
  policy's threshold in the embedded default, sentinel/defaults.py);
- **alerts**: the real :class:`~sentinel.alerting.policy.Policy` with the
  embedded default's alert settings (threshold 0.99, ``for: 2m``,
  hysteresis, the ``stuck`` alert), but ``direction: both`` and no
  ``min_deviation``: these series have no units, and the defaults' relative
  floors depend on the level.  An alert is a firing ``anomaly`` or ``stuck``
  alert (a flatline is a stuck condition, not a score breach).  The policy
  runs from the first day (it learns each series' routine excursions outside
  the band, as a running watch would); only alerts in the scored days count.

A detection is a report (or a firing alert) in ``[onset, onset + window)``
(the window per shape is in :data:`_shapes.SHAPES`); the delay is from onset
to the first one.  Two reference figures per cell: *while acting* counts only
detections before the incident ends (a flatline caught when it unsticks, or a
variance burst caught as it stops, is not caught while it acts), and *chance*
applies the same windows to the clean twins (a long window collects routine
reports: a rate near the chance rate means the shape was not seen).  False
alarms are report episodes (runs of score >= 0.99) and firing alerts on the
clean twins over the scored days, per series-week.  Nothing here tunes
anything: it is a measurement of the shipped default.

    python benchmarks/shapes.py            # 40 series per cell, ~1.4k series x 14.4k steps per family
    python benchmarks/shapes.py --quick    # 10 series per cell
    python benchmarks/shapes.py --families weekly --warmup-days 15 --tag warmup15   # two weekends learned

Writes benchmarks/results/shapes.json and shapes.md and prints the wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sentinel.alerting.policy import Policy
from sentinel.config import AlertPolicyConfig, DetectorConfig
from sentinel.config.values import Deviation
from sentinel.defaults import embedded_config
from sentinel.detect.registry import build_detector
from sentinel.series import Batch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shapes import CYCLIC, DAY, FAMILIES, SHAPES, STEP, inject, make_base

OUT = Path(__file__).parent / "results" / "shapes.json"
WARMUP_DAYS = 8
SCORED_DAYS = 2
THRESHOLD = 0.99
ALERT_KINDS = ("anomaly", "stuck", "drift")
"""The policy's alerts on a series' values (``absent`` is off here: these series never go silent)."""


def policy_config() -> AlertPolicyConfig:
    """The embedded default's alert settings (threshold, for, hysteresis), any direction, no deviation floor."""
    alert = next(w.alert for w in embedded_config().watches if w.query is not None and w.alert.for_ > 0)
    return alert.model_copy(update={"direction": "both", "min_deviation": Deviation(), "absent_for": None})


def cells(family: str) -> list[tuple[str, float]]:
    """(shape, magnitude) cells for a family (no cycle loss where there is no cycle)."""
    out = []
    for name, spec in SHAPES.items():
        if name == "cycle_loss" and family not in CYCLIC:
            continue
        out += [(name, m) for m in spec.magnitudes] or [(name, float("nan"))]
    return out


def run_family(family: str, n: int, seed: int, warmup_days: int = WARMUP_DAYS) -> dict[str, Any]:
    """Clean twins + every cell of one family through one detector and one policy; per-cell figures."""
    steps = (warmup_days + SCORED_DAYS) * DAY // STEP
    warm = warmup_days * DAY // STEP
    base = make_base(family, n, steps, seed)
    rng = np.random.default_rng([seed, 99, FAMILIES.index(family)])
    grid = cells(family)
    onsets = rng.integers(warm, warm + DAY // STEP, (len(grid), n))
    values = np.concatenate([base.values] + [inject(base, s, m, onsets[c]) for c, (s, m) in enumerate(grid)])
    labels = tuple((("row", str(i)),) for i in range(values.shape[0]))
    det = build_detector(DetectorConfig(kind="default"), step=STEP)
    policy = Policy(policy_config(), watch="shapes")
    reports = np.zeros((values.shape[0], steps - warm), dtype=bool)
    fired: list[tuple[int, int]] = []  # (row, column after the warm-up) of each firing alert
    per_chunk = DAY // STEP
    t0 = time.perf_counter()
    for a in range(0, steps, per_chunk):
        b = min(a + per_chunk, steps)
        batch = Batch(base.timestamps[a:b], np.ascontiguousarray(values[:, a:b]), labels, STEP)
        scores = det.process(batch)
        events = policy.update(batch, scores)  # from the first day: the policy learns routine excursions
        if a >= warm:
            reports[:, a - warm:b - warm] = scores.score >= THRESHOLD
            fired += [(int(e.labels[0][1]), (e.at - int(base.timestamps[warm])) // STEP)
                      for e in events if e.status == "firing" and e.kind in ALERT_KINDS]
    seconds = time.perf_counter() - t0
    by_row: dict[int, list[int]] = {}
    for row, col in fired:
        by_row.setdefault(row, []).append(col)
    week_factor = 7 / SCORED_DAYS / n
    episodes = reports[:n, 1:] & ~reports[:n, :-1]
    out: dict[str, Any] = {
        "series": int(values.shape[0]), "steps": steps, "seconds": round(seconds, 1),
        "noise_sd_rel_level_median": float(np.median(base.sigma / base.mean.mean(axis=1))),
        "false_reports_per_series_week": round(float((episodes.sum() + reports[:n, 0].sum()) * week_factor), 3),
        "false_alerts_per_series_week": round(sum(len(by_row.get(i, [])) for i in range(n)) * week_factor, 3),
        "false_alert_hours": sorted(round(col * STEP / 3600, 1) for i in range(n) for col in by_row.get(i, [])),
        "cells": [],
    }
    for c, (shape, mag) in enumerate(grid):
        spec, onset, rows = SHAPES[shape], onsets[c] - warm, n * (c + 1) + np.arange(n)
        win = spec.window // STEP
        during = win if spec.duration is None else min(win, spec.duration // STEP)  # while it still acts
        rep, alert = _detections(reports, by_row, rows, onset, win)
        rep_in, alert_in = _detections(reports, by_row, rows, onset, during)
        rep0, alert0 = _detections(reports, by_row, np.arange(n), onset, win)  # the clean twins, same windows
        out["cells"].append({
            "shape": shape, "magnitude": None if np.isnan(mag) else mag, "n": n,
            "report_rate": round(len(rep) / n, 3),
            "report_median_delay_s": float(np.median(rep)) if len(rep) else None,
            "alert_rate": round(len(alert) / n, 3),
            "alert_median_delay_s": float(np.median(alert)) if len(alert) else None,
            "report_chance": round(len(rep0) / n, 3), "alert_chance": round(len(alert0) / n, 3),
            "report_rate_during": round(len(rep_in) / n, 3), "alert_rate_during": round(len(alert_in) / n, 3),
        })
    return out


def _detections(reports: np.ndarray, by_row: dict[int, list[int]], rows: np.ndarray, onset: np.ndarray,
                win: int) -> tuple[np.ndarray, np.ndarray]:
    """Delays (s) of the first report and of the first firing alert in ``[onset, onset + win)``, rows that had one."""
    rel = np.arange(reports.shape[1])[None, :] - onset[:, None]
    hit = reports[rows] & (rel >= 0) & (rel < win)
    has = hit.any(axis=1)
    rep = (hit.argmax(axis=1) - onset)[has] * STEP
    alert = [min(d) * STEP for row, t0 in zip(rows.tolist(), onset.tolist(), strict=True)
             if (d := [col - t0 for col in by_row.get(row, []) if 0 <= col - t0 < win])]
    return rep, np.array(alert, dtype=np.int64)


def _pooled(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (shape, magnitude) over the families that have it: rates pooled, delays as the median of medians."""
    keys: dict[tuple[str, float | None], list[dict[str, Any]]] = {}
    for fam in results.values():
        for cell in fam["cells"]:
            keys.setdefault((cell["shape"], cell["magnitude"]), []).append(cell)
    rows = []
    for (shape, mag), cs in keys.items():
        n = sum(c["n"] for c in cs)
        med = [c["report_median_delay_s"] for c in cs if c["report_median_delay_s"] is not None]
        amed = [c["alert_median_delay_s"] for c in cs if c["alert_median_delay_s"] is not None]
        rows.append({
            "shape": shape, "magnitude": mag, "n": n,
            "report_rate": round(sum(c["report_rate"] * c["n"] for c in cs) / n, 3),
            "report_median_delay_s": float(np.median(med)) if med else None,
            "alert_rate": round(sum(c["alert_rate"] * c["n"] for c in cs) / n, 3),
            "alert_median_delay_s": float(np.median(amed)) if amed else None,
            **{k: round(sum(c[k] * c["n"] for c in cs) / n, 3)
               for k in ("report_chance", "alert_chance", "report_rate_during", "alert_rate_during")},
        })
    return rows


def _minutes(s: float | None) -> str:
    return "-" if s is None else f"{s / 60:.0f}"


def markdown(result: dict[str, Any]) -> str:
    """The short table: per shape x magnitude, rate (and median delay in minutes) per family, reports | alerts."""
    fams = list(result["families"])
    head = "| shape | size | all: reports / alerts | while acting | chance | " + " | ".join(fams) + " |"
    lines = [
        f"Shapes benchmark: {result['series_per_cell']} series per cell and family, step {STEP}s, "
        f"{result['warmup_days']} d warm-up, wall {result['wall_seconds']} s. "
        "Cells: detection rate (median delay, min); "
        "per family: reports (score >= 0.99) / alerts (policy, for 2m: anomaly or stuck alerts). Chance: the same "
        "windows on the clean twins (what a detector that ignored the incident would score). While acting: only "
        "detections before the incident ends (a flatline caught when it unsticks is not).", "",
        head, "|" + "---|" * (5 + len(fams)),
    ]
    per_fam = {f: {(c["shape"], c["magnitude"]): c for c in result["families"][f]["cells"]} for f in fams}
    for row in result["pooled"]:
        key = (row["shape"], row["magnitude"])
        size = "-" if row["magnitude"] is None else f"{row['magnitude']:g}"
        allc = (f"{row['report_rate']:.2f} ({_minutes(row['report_median_delay_s'])}) / "
                f"{row['alert_rate']:.2f} ({_minutes(row['alert_median_delay_s'])})")
        famc = [f"{per_fam[f][key]['report_rate']:.2f} / {per_fam[f][key]['alert_rate']:.2f}"
                if key in per_fam[f] else "n/a" for f in fams]
        chance = f"{row['report_chance']:.2f} / {row['alert_chance']:.2f}"
        acting = f"{row['report_rate_during']:.2f} / {row['alert_rate_during']:.2f}"
        lines.append(f"| {row['shape']} | {size} | {allc} | {acting} | {chance} | " + " | ".join(famc) + " |")
    lines += ["", "False alarms on the clean twins, per series-week (reports / alerts): " + ", ".join(
        f"{f} {result['families'][f]['false_reports_per_series_week']:.2f} / "
        f"{result['families'][f]['false_alerts_per_series_week']:.2f}" for f in fams) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=40, help="series per (family, shape, magnitude) cell")
    ap.add_argument("--quick", action="store_true", help="10 series per cell")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    ap.add_argument("--warmup-days", type=int, default=WARMUP_DAYS,
                    help="days of clean history before the 2 scored days (8: one weekend learned; 15: two)")
    ap.add_argument("--tag", default="", help="write results/shapes_<TAG>.json/.md instead of shapes.json/.md")
    args = ap.parse_args()
    n = 10 if args.quick else args.series
    if n < 1 or args.warmup_days < 1:
        ap.error("--series and --warmup-days must be at least 1")
    t0 = time.perf_counter()
    results = {}
    for fam in args.families:
        results[fam] = run_family(fam, n, args.seed, args.warmup_days)
        print(json.dumps({"family": fam, **{k: v for k, v in results[fam].items() if k != "cells"}}), flush=True)
    result = {
        "step_s": STEP, "warmup_days": args.warmup_days, "scored_days": SCORED_DAYS, "threshold": THRESHOLD,
        "policy": policy_config().model_dump(mode="json", by_alias=True), "seed": args.seed,
        "series_per_cell": n, "wall_seconds": round(time.perf_counter() - t0, 1),
        "shapes": {k: {"window_s": s.window, "unit": s.unit} for k, s in SHAPES.items()},
        "pooled": _pooled(results), "families": results,
    }
    out = OUT.with_name(f"shapes_{args.tag}.json") if args.tag else OUT
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    md = markdown(result)
    out.with_suffix(".md").write_text(md)
    print(md)
    print(f"wall {result['wall_seconds']} s -> {out}")


if __name__ == "__main__":
    main()
