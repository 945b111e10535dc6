"""False alarms on sparse per-group log counts, before/after the count-aware floor.

The simulated fleet's own error logs (``log.level:error`` grouped by
``service.name`` and ``labels.tool``) are replayed through the same
:class:`~sentinel.watch.WatchRunner` cycles the daemon and ``demo`` run
(hourly cycles after a 2-day warm-up on the clean history), once with the
default detector and once with :mod:`sentinel.detect.counts` on top, with
and without per-template series.  Reported per variant:

* false alarms: firing anomaly alerts on the series of the fleet's clean
  agents (``Fleet.clean_agents`` never get an incident), per series-week;
* alerts outside incidents: firing alerts on any agent outside its incidents
  (+ 1 h grace), what the demo counts as false alarms;
* caught: whether each log-visible incident (tool_error_burst,
  new_error_pattern) raised an alert on one of its agent's log series during
  the incident (+ 1 h grace), and how.

    python benchmarks/log_counts.py [--days 7] [--agents 20] [--step 300]

Writes ``benchmarks/results/log_counts.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from sentinel.config import WatchConfig
from sentinel.fleet import Fleet
from sentinel.logs.watch import LogWatch
from sentinel.sources.simulated import SimulatedSource
from sentinel.watch import WatchRunner

DAY = 86400
LOG_KINDS = ("tool_error_burst", "new_error_pattern")
OUT = Path(__file__).parent / "results" / "log_counts.json"


def _watch(step: int, counts: bool | dict[str, Any], templates: bool) -> WatchConfig:
    params: dict[str, Any] = {"counts": counts}
    return WatchConfig.model_validate({
        "name": "error_logs", "every": step,
        "logs": {"index": "agent-logs-*", "query": "log.level:error", "group_by": ["service.name", "labels.tool"],
                 "templates": templates},
        "detector": {"kind": "default", "params": params},
        "alert": {"threshold": 0.99, "for": "2m", "direction": "up", "severity": "warning"},
    })


def run(fleet: Fleet, step: int, days: int, counts: bool | dict[str, Any], templates: bool,
        max_messages: int) -> dict[str, Any]:
    """One replay; returns false alarms on clean agents and which log incidents were caught."""
    w = _watch(step, counts, templates)
    src = SimulatedSource(fleet, registry=CollectorRegistry(), max_messages=max_messages)
    with tempfile.TemporaryDirectory() as tmp:
        patterns = LogWatch(w, src, state_dir=tmp, registry=CollectorRegistry()) if templates else None
        runner = WatchRunner(w, src, warmup=2 * DAY, patterns=patterns)
        t0 = time.perf_counter()
        events = []
        for now in range(fleet.start + 3600, fleet.start + days * DAY + 1, 3600):
            res = runner.cycle(now - 1)
            if res is not None and not res.warmup:
                events.extend(e for e in res.events if e.status == "firing")
        seconds = time.perf_counter() - t0
    clean = set(fleet.clean_agents)
    series = runner.policy.index_.keys
    clean_series = [k for k in series if dict(k).get("service_name") in clean]
    fa = [e for e in events if dict(e.labels).get("service_name") in clean]
    incidents = [i for i in fleet.incidents(fleet.start, fleet.start + days * DAY) if i.kind in LOG_KINDS]
    caught = []
    for inc in incidents:
        hits = sorted((e for e in events if dict(e.labels).get("service_name") == inc.agent
                       and inc.start <= e.at <= inc.end + 3600), key=lambda e: e.at)
        caught.append({"kind": inc.kind, "agent": inc.agent, "caught": bool(hits),
                       "delay_s": hits[0].at - inc.start if hits else None,
                       "by": sorted({f"{e.kind}{'/template' if 'template_id' in dict(e.labels) else ''}"
                                     for e in hits})})
    everything = fleet.incidents(fleet.start, fleet.start + days * DAY)
    outside = [e for e in events if not any(i.agent == dict(e.labels).get("service_name")
                                            and i.start <= e.at <= i.end + 3600 for i in everything)]
    weeks = days * DAY / (7 * DAY)
    return {
        "counts_floor": counts, "templates": templates, "step": step,
        "series": len(series), "clean_series": len(clean_series),
        "false_alarms_clean": len(fa),
        "false_alarms_clean_anomaly": sum(e.kind == "anomaly" for e in fa),
        "false_alarms_per_clean_series_week": len(fa) / max(len(clean_series) * weeks, 1e-9),
        "alerts_outside_incidents": len(outside),
        "incidents": caught, "caught": sum(c["caught"] for c in caught), "seconds": round(seconds, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--step", type=int, nargs="+", default=[300, 60])
    ap.add_argument("--max-messages", type=int, default=1000, help="sampled per hourly cycle (the demo's 1000)")
    ap.add_argument("--min-count", type=float, nargs="+", default=[0, 3], help="CountFloor min_count values")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    fleet = Fleet(agents=args.agents, seed=args.seed)
    rows = []
    for step in args.step:
        for templates in (False, True):
            variants: list[bool | dict[str, Any]] = [False, *({"min_count": m} for m in args.min_count)]
            for counts in variants:
                r = run(fleet, step, args.days, counts, templates, args.max_messages)
                rows.append(r)
                floor = "off" if counts is False else f"min_count={counts['min_count']:g}"  # type: ignore[index]
                print(f"step {step:>4}s templates {templates!s:<5} count floor {floor:<13}: "
                      f"{r['series']:>4} series ({r['clean_series']} clean), false alarms on clean "
                      f"{r['false_alarms_clean']:>3} = {r['false_alarms_per_clean_series_week']:.3f}/series-week, "
                      f"outside any incident (all agents) {r['alerts_outside_incidents']:>3}; "
                      f"log incidents caught {r['caught']}/{len(r['incidents'])}; {r['seconds']} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"agents": args.agents, "seed": args.seed, "days": args.days,
                               "max_messages": args.max_messages, "runs": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
