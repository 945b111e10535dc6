"""Render the overview dashboard's main panels from a real Prometheus to docs/img/overview.png.

What the README picture shows is what Grafana would show: the simulated
fleet's history is backfilled into Prometheus 2.42, sentinel's real
detectors, policy and forecaster run over it (through the Prometheus
source, as the daemon would), their outputs are backfilled as the
``sentinel_*`` metrics the exporter publishes, and then the *exact* PromQL
of the committed dashboards is run with ``query_range`` and plotted.

    python scripts/render_overview.py [--agents 6] [--days 2] [--out docs/img/overview.png]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentinel.alerting.policy import Policy  # noqa: E402
from sentinel.config import load_config  # noqa: E402
from sentinel.detect import build_detector  # noqa: E402
from sentinel.fleet import Fleet  # noqa: E402
from sentinel.fleet.openmetrics import write_openmetrics  # noqa: E402
from sentinel.forecast.result import forecast_batch  # noqa: E402
from sentinel.publish import dashboards_common as c  # noqa: E402
from sentinel.publish.exporter import export_labels  # noqa: E402
from sentinel.sources.prometheus import PrometheusSource  # noqa: E402
from tests.services import backfill, openmetrics, start_prometheus  # noqa: E402

START = 1_767_571_200  # Monday 2026-01-05 00:00 UTC
STEP = 60


def query_range(url: str, expr: str, start: int, end: int, step: int) -> list[dict]:
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{url}/api/v1/query_range?{params}", timeout=120) as resp:
        return json.load(resp)["data"]["result"]


def grafana(expr: str, agent: str = ".*") -> str:
    return (expr.replace("$__rate_interval", "5m").replace("$watch", ".*").replace("$agent", agent))


def sentinel_metrics(cfg, prom_url: str, start: int, end: int) -> tuple[list[str], dict]:
    """Run every watch's detector, policy and forecaster over [start, end); OpenMetrics of the results."""
    reg = CollectorRegistry()
    source = PrometheusSource(cfg.prometheus.model_copy(update={"url": prom_url}), registry=reg)
    gauges: dict[str, list] = {c.SCORE: [], c.EXPECTED: [], c.TIME_TO_LIMIT: [], c.ALERTS_FIRING: [],
                               c.FORECAST: []}
    longest: dict = {}
    for w in cfg.watches:
        batch = source.fetch(w, start, end)
        ts = batch.timestamps
        labels = [export_labels(lb, w.name) for lb in batch.labels]
        if w.detector is not None:
            scores = build_detector(w.detector, step=w.sample_step).process(batch)
            events = Policy(w.alert, w.name).update(batch, scores)
            for s, lab in enumerate(labels):
                gauges[c.SCORE].append((lab, _pts(ts, scores.score[s])))
                for bound, arr in (("mid", scores.expected), ("lower", scores.lower), ("upper", scores.upper)):
                    gauges[c.EXPECTED].append(({**lab, "bound": bound}, _pts(ts, arr[s])))
            active = np.zeros(len(ts))
            opened: dict = {}
            for e in events:
                if e.status == "firing":
                    opened[e.labels] = e.starts_at
                else:
                    t0 = opened.pop(e.labels, e.starts_at)
                    active += (ts >= t0) & (ts < e.at)
                    longest = max(longest, {"len": e.at - t0, "watch": w.name, "labels": dict(e.labels)},
                                  key=lambda d: d.get("len", 0))
            for t0 in opened.values():
                active += ts >= t0
            gauges[c.ALERTS_FIRING].append(({"watch": w.name, "severity": w.alert.severity}, _pts(ts, active)))
        if w.forecast is not None:
            hourly = ts[(ts - ts[0]) % 3600 == 0][24:]  # one forecast per hour after a day of history
            ttl = np.full((batch.n_series, len(hourly)), np.nan)
            for k, t in enumerate(hourly):
                upto = int(np.searchsorted(ts, t, side="right"))
                bf = forecast_batch(batch.window(0, upto), w.forecast, w.name, registry=reg)
                ttl[:, k] = bf.time_to_limit
            for s, lab in enumerate(labels):
                gauges[c.TIME_TO_LIMIT].append((lab, _pts(hourly, ttl[s])))
    return [openmetrics(name, "gauge", series, eof=False) for name, series in gauges.items() if series], longest


def _pts(ts: np.ndarray, values: np.ndarray) -> list[tuple[int, float]]:
    return [(int(t), float(v)) for t, v in zip(ts, values, strict=True) if np.isfinite(v)]


def plot(prom_url: str, start: int, end: int, focus: dict, out: Path) -> None:
    overview = json.loads((ROOT / "dashboards" / "sentinel-overview.json").read_text())
    anomalies = json.loads((ROOT / "dashboards" / "sentinel-watches-anomalies.json").read_text())
    panels = {p["id"]: p for p in overview["panels"]}
    watch_panel = next(p for p in anomalies["panels"] if p["title"] == f"{focus['watch']}: actual vs expected")
    fig, axes = plt.subplots(2, 2, figsize=(15, 8.5), constrained_layout=True)
    step = 300

    def draw(ax, panel, agent=".*", styles=None, scale=1.0):
        for t in panel["targets"]:
            for row in query_range(prom_url, grafana(t["expr"], agent), start, end, step):
                x = np.array([float(v[0]) for v in row["values"]])
                y = np.array([float(v[1]) for v in row["values"]])
                legend = t["legendFormat"]
                for k, v in row["metric"].items():
                    legend = legend.replace("{{" + k + "}}", v)
                style = (styles or {}).get(t["refId"], {})
                ax.plot((x - start) / 3600, y / scale, label=legend.replace("{{agent}}", "").strip(), **style)
        ax.set_title(panel["title"])
        ax.set_xlabel("hours")
        ax.grid(alpha=0.3)

    draw(axes[0, 0], panels[6])
    axes[0, 0].legend(fontsize=7, ncol=2)
    draw(axes[0, 1], panels[7], styles={"A": {"marker": ".", "ls": "none"}})
    axes[0, 1].legend(fontsize=7, ncol=2)
    draw(axes[1, 0], panels[12], scale=3600.0)
    axes[1, 0].set_ylabel("hours left")
    axes[1, 0].set_xlim(axes[0, 0].get_xlim())
    axes[1, 0].set_ylim(bottom=0)
    axes[1, 0].legend(fontsize=7)
    grey = {"color": "grey", "lw": 1}
    draw(axes[1, 1], watch_panel, focus["labels"].get("agent", ".*"),
         {"A": {"color": "tab:blue", "lw": 1.5}, "B": {**grey, "ls": ":"}, "C": {**grey, "ls": "--"},
          "D": {**grey, "ls": "--"}})
    axes[1, 1].set_title(f"{watch_panel['title']} ({focus['labels'].get('agent', '')})")
    fig.suptitle("sentinel / overview — main panels, queried from Prometheus (simulated fleet)")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=6)
    ap.add_argument("--days", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "overview.png")
    args = ap.parse_args()
    cfg = load_config(ROOT / "examples" / "sentinel.yaml")
    end = START + int(args.days * 86400)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fleet_om = Path(tmp) / "fleet.om"
        write_openmetrics(Fleet(agents=args.agents, seed=7, step=STEP, start=START), fleet_om, START - 3600, end)
        fleet_text = fleet_om.read_text().removesuffix("# EOF\n")
        backfill(fleet_text + "# EOF\n", Path(tmp) / "p1" / "data")
        p1 = start_prometheus(Path(tmp) / "p1")
        try:
            chunks, focus = sentinel_metrics(cfg, p1.url, START, end)
        finally:
            p1.stop()
        backfill([fleet_text, *chunks, "# EOF\n"], Path(tmp) / "p2" / "data")
        p2 = start_prometheus(Path(tmp) / "p2")
        try:
            plot(p2.url, START + 86400 // 2, end, focus or {"watch": "task_latency_p95", "labels": {}}, args.out)
        finally:
            p2.stop()
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f}s (focus: {focus})")


if __name__ == "__main__":
    main()
