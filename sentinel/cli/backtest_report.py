"""Reporting a backtest: truth windows, NAB-style scores, the alert list (with each
alert's expected value, band, deviation and the members that fired), the JSON report and the PNG.

The NAB scorer itself lives in ``benchmarks/nab_scoring.py`` (one
implementation for the benchmark and for backtests); it is imported from
there when sentinel runs from a checkout, and NAB-style scores are reported
as unavailable otherwise.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer

from sentinel.series import format_labels, labels_key

if TYPE_CHECKING:
    from sentinel.alerting.event import AlertEvent
    from sentinel.cli.backtest import Replay


def truth_from_windows(timestamps: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """Boolean mask of the grid steps inside any ``[start, end]`` window (inclusive).

    >>> truth_from_windows(np.arange(0, 600, 60), [(120, 240)]).astype(int).tolist()
    [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    """
    mask = np.zeros(len(timestamps), dtype=bool)
    for a, b in windows:
        mask |= (timestamps >= a) & (timestamps <= b)
    return mask


def windows_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive row ranges of the True runs of ``mask``.

    >>> windows_of(np.array([0, 1, 1, 0, 1], dtype=bool))
    [(1, 2), (4, 4)]
    """
    m = np.r_[False, mask.astype(bool), False]
    edges = np.flatnonzero(m[1:] != m[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _scorer() -> Any:
    """benchmarks/nab_scoring.py as a module, or None when sentinel is not run from a checkout."""
    try:
        import benchmarks.nab_scoring as mod  # type: ignore[import-not-found]

        return mod
    except ImportError:
        pass
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "nab_scoring.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("sentinel_nab_scoring", path)
    if spec is None or spec.loader is None:
        return None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the file executes
    spec.loader.exec_module(mod)
    return mod


def nab_scores(windows: list[list[tuple[int, int]]], detections: np.ndarray) -> dict[str, float] | None:
    """Normalised NAB scores per profile, each series scored as one NAB file; None without labels.

    ``detections`` is (series, time) boolean: a row is a detection.  Series
    without windows still count (their detections are false positives).
    """
    nab = _scorer()
    if nab is None or not any(windows):
        return None
    files = [nab.FileTruth.build(detections.shape[1], w) for w in windows]
    out = {}
    for name, prof in nab.PROFILES.items():
        raw = sum(f.score(d, prof) for f, d in zip(files, detections, strict=True))
        null = sum(f.null(prof) for f in files)
        perfect = sum(f.perfect(prof) for f in files)
        out[name] = float(nab.normalise(raw, null, perfect))
    return out


def pick_series(r: Replay, truth: np.ndarray | None, series: str | None) -> int:
    """The row to plot: the one ``series`` (``name=value,...``) names, else the one with most alerts."""
    b = r.batch
    if series:
        want = labels_key(dict(kv.split("=", 1) for kv in series.split(",") if "=" in kv))
        hits = [i for i, lb in enumerate(b.labels) if set(want) <= set(lb)]
        if not hits:
            raise ValueError(f"--series {series!r} matches none of the {b.n_series} series")
        return hits[0]
    counts = np.zeros(b.n_series)
    rows = {k: i for i, k in enumerate(b.labels)}
    for e in r.events:
        counts[rows[e.labels]] += e.status == "firing"
    if truth is not None:
        counts += 1e-6 * truth.sum(1)
    return int(np.argmax(counts))


def plot_replay(r: Replay, truth: np.ndarray | None, path: Path, i: int) -> None:
    """PNG of series row ``i``: value, expected band, alerts (red) and truth windows (green); score below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b, s = r.batch, r.scores
    t = b.timestamps.astype("datetime64[s]")
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(12, 6), sharex=True, height_ratios=[3, 1])
    ax.fill_between(t, s.lower[i], s.upper[i], color="tab:blue", alpha=0.15, label="band")
    ax.plot(t, s.expected[i], color="tab:blue", lw=1, label="expected")
    ax.plot(t, b.values[i], color="black", lw=0.8, label="value")
    if truth is not None:
        for k, (a, z) in enumerate(windows_of(truth[i])):
            for axis in (ax, ax2):
                axis.axvspan(t[a], t[z], color="tab:green", alpha=0.2, label="truth" if k == 0 and axis is ax else None)
    firing: dict[int, int] = {}
    spans = []
    for e in r.events:
        if e.labels != b.labels[i]:
            continue
        if e.status == "firing":
            firing[e.starts_at] = e.at
        elif e.starts_at in firing:
            spans.append((firing.pop(e.starts_at), e.at))
    spans += [(a, b.end) for a in firing.values()]
    for k, (a, z) in enumerate(spans):
        for axis in (ax, ax2):
            axis.axvspan(np.datetime64(a, "s"), np.datetime64(max(z, a + b.step), "s"), color="tab:red", alpha=0.25,
                         label="alert" if k == 0 and axis is ax else None)
    # a week of 1-minute scores is a solid block at plot width: show the max per pixel-sized bucket
    k = max(1, b.n_steps // 2000)
    cut = b.n_steps // k * k
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        peak = np.nanmax(s.score[i, :cut].reshape(-1, k), axis=1) if cut else s.score[i]
    ax2.plot(t[:cut:k] if cut else t, peak, color="tab:purple", lw=0.8)
    ax2.axhline(r.watch.alert.threshold, color="tab:red", ls="--", lw=0.8)
    ax2.set_ylim(0, 1.02)
    ax2.set_ylabel("score" if k == 1 else f"score (max of {k})")
    ax.set_title(f"{r.watch.name} {format_labels(b.labels[i])}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_report(r: Replay, truth: np.ndarray | None, fleet: Any) -> dict[str, Any]:
    b = r.batch
    firing = [e for e in r.events if e.status == "firing"]
    out: dict[str, Any] = {
        "watch": r.watch.name, "from": int(b.timestamps[0]), "to": int(b.end + b.step), "step": b.step,
        "series": b.n_series, "steps": b.n_steps, "seconds": round(r.seconds, 3),
        "samples_per_second": round(b.n_series * b.n_steps / max(r.seconds, 1e-9)),
        "alerts": len(firing),
        "events": [{"status": e.status, "at": e.at, "labels": dict(e.labels), "score": e.score,
                    "value": e.value, "expected": e.expected, "lower": e.lower, "upper": e.upper,
                    "deviation": e.value - e.expected, "deviation_bands": _bands(e),
                    "members": e.members} for e in r.events],
    }
    if truth is not None:
        onsets = np.zeros(b.values.shape, dtype=bool)
        rows = {k: i for i, k in enumerate(b.labels)}
        for e in firing:
            onsets[rows[e.labels], (e.at - b.timestamps[0]) // b.step] = True
        windows = [windows_of(t) for t in truth]
        out["nab"] = {
            "alerts": nab_scores(windows, onsets),
            "score_over_threshold": nab_scores(windows, r.scores.score >= r.watch.alert.threshold),
        }
    if fleet is not None:
        from sentinel.evaluate import evaluate
        from sentinel.sources.simulated import parse_query

        incidents = fleet.incidents(int(b.timestamps[0]), b.end + b.step)
        ev = evaluate(r.events, incidents, {r.watch.name: parse_query(r.watch.query or "")[0]},
                      n_series=b.n_series, duration=b.n_steps * b.step)
        relevant = [o for o in ev.outcomes if any(s == parse_query(r.watch.query or "")[0]
                                                  for s, _ in o.incident.signals)]
        out["incidents"] = {
            "affecting_this_watch": len(relevant), "detected": sum(o.detected for o in relevant),
            "delays_s": [o.delay for o in relevant if o.detected],
            "false_alarms": len(ev.false_alarms), "related_alerts": len(ev.related),
            "false_alarms_per_series_week": round(ev.false_alarms_per_series_week, 3),
        }
    return out


def _bands(e: AlertEvent) -> float:
    """The deviation in half-band widths (1.0 = on the band's edge): how far outside, unit-free."""
    half = (e.upper - e.expected) if e.value >= e.expected else (e.expected - e.lower)
    return float((e.value - e.expected) / half) if half > 0 else float("nan")


def print_report(rep: dict[str, Any], r: Replay) -> None:
    from datetime import UTC, datetime

    from sentinel.series import format_labels

    def iso(t: int) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")

    typer.echo(f"{rep['watch']}: {rep['series']} series x {rep['steps']} steps ({iso(rep['from'])} .. "
               f"{iso(rep['to'])} UTC), {rep['samples_per_second']:,} samples/s, {rep['alerts']} alert(s)")
    for e in r.events[:50]:
        typer.echo(f"  {iso(e.at)}  {e.status:<8} {format_labels(e.labels)}  score {e.score:.4f}  "
                   f"value {e.value:.4g} expected {e.expected:.4g} [{e.lower:.4g}, {e.upper:.4g}] "
                   f"deviation {e.value - e.expected:+.4g} ({_bands(e):+.1f} bands)"
                   + (f"  members {','.join(e.members)}" if e.members else ""))
    if len(r.events) > 50:
        typer.echo(f"  ... {len(r.events) - 50} more (use --json)")
    for name, scores in rep.get("nab", {}).items():
        if scores is not None:
            what = "alert onsets" if name == "alerts" else "every row with score >= threshold"
            typer.echo(f"NAB-style ({what}): " + ", ".join(f"{k} {v:.1f}" for k, v in scores.items()))
    if "incidents" in rep:
        inc = rep["incidents"]
        typer.echo(f"incidents on this watch: {inc['detected']}/{inc['affecting_this_watch']} detected, "
                   f"{inc['false_alarms']} false alarm(s) ({inc['false_alarms_per_series_week']}/series-week)")
