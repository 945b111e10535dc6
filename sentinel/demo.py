"""``sentinel demo``: a simulated week of the agent fleet, watched and scored against ground truth.

The demo is the embedded default (:func:`sentinel.defaults.embedded_config`)
replayed as fast as the machine allows: the fleet's clean history before its
start is learned as warm-up, then every watch (the log watches on the fleet's
own logs included) runs hourly cycles over one simulated week
(the same :class:`~sentinel.watch.WatchRunner` cycles the daemon runs).
Alerts print as they fire and resolve; at the end a report compares them
with the incidents the simulator injected: detected or missed, detection
delay, false alarms per series-week on clean data, and a PNG of one caught
incident with its expected band and score.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import numpy as np

from sentinel.alerting.console import ConsoleOutput
from sentinel.alerting.event import AlertEvent
from sentinel.config import Config, WatchConfig, format_duration
from sentinel.evaluate import Evaluation, Outcome, evaluate
from sentinel.fleet.model import Fleet
from sentinel.logs.watch import LogWatch
from sentinel.series import format_labels, labels_key
from sentinel.sources.simulated import SimulatedSource
from sentinel.store import Store
from sentinel.watch import CycleResult, WatchRunner

DAY = 86400


@dataclass
class DemoReport:
    evaluation: Evaluation
    n_series: int
    seconds: float
    plot: Path | None
    summary: Path


def run_demo(
    cfg: Config,
    out_dir: Path,
    days: int = 7,
    warmup_days: int = 2,
    cycle: int = 3600,
    stream: TextIO | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_messages: int = 1000,
) -> DemoReport:
    """Replay ``days`` of the simulated fleet through every watch of ``cfg``.

    ``max_messages``: log messages sampled per log watch and (hourly) cycle.
    """
    assert cfg.simulator is not None, "the demo needs a simulator section"
    t_start = time.perf_counter()
    sim = cfg.simulator
    out_dir.mkdir(parents=True, exist_ok=True)
    db = out_dir / "sentinel.db"
    db.unlink(missing_ok=True)
    shutil.rmtree(out_dir / "models" / "logs", ignore_errors=True)  # a replay starts fresh: no templates known yet
    store = Store(db, models_dir=out_dir / "models")
    fleet = Fleet(agents=sim.agents, seed=sim.seed, step=sim.step, incident_rate=sim.incident_rate)
    source = SimulatedSource(fleet, max_messages=max_messages)
    watch_start = fleet.start  # the fleet is clean before its start: warm up there
    runners = [WatchRunner(w, source, store, warmup=warmup_days * DAY, patterns=_patterns(w, source, store))
               for w in cfg.watches]
    console = ConsoleOutput(stream)
    events: list[AlertEvent] = []
    kept: dict[str, list[CycleResult]] = {r.cfg.name: [] for r in runners}
    ends = list(range(watch_start + cycle, watch_start + days * DAY + 1, cycle))
    for i, now in enumerate(ends):
        for r in runners:
            res = r.cycle(now - 1)
            if res is None:
                continue
            if not res.warmup:
                console.emit(res.events)
                events.extend(res.events)
            kept[r.cfg.name].append(res)
        if progress:
            progress(i + 1, len(ends))
    duration = days * DAY
    incidents = fleet.incidents(watch_start, watch_start + duration)
    n_series = sum(len(r.policy.index_) for r in runners)
    ev = evaluate([_as_signal(e, cfg) for e in events], incidents, _signals(cfg), n_series, duration)
    plot = _plot_incident(ev.outcomes, kept, out_dir / "incident.png")
    summary = out_dir / "summary.json"
    summary.write_text(json.dumps(_summary(ev, n_series), indent=2))
    store.close()
    return DemoReport(ev, n_series, time.perf_counter() - t_start, plot, summary)


def at_step(cfg: Config, step: int) -> Config:
    """``cfg`` replayed at samples of at least ``step`` seconds, its alert policies asking for the same evidence.

    Each watch's interval becomes at least ``step``, and a ``for`` (and a
    density window) grows by the same factor, so an alert still needs as many
    consecutive breaching samples (or excursions in as many samples) as at the
    watch's own interval.  Kept as it was, the embedded
    default's ``for: 2m`` (chosen at 1-minute samples: a report and two more
    minutes outside the band) would mean *the next sample* at 5-minute ones:
    one report and one point outside the band fire.  Seed 7's week at 5
    minutes raised 14 false alarms that way, all gone at 1 minute, and all
    gone at 5 minutes with ``for`` scaled (same 8 / 8 incidents caught).

    >>> from sentinel.defaults import embedded_config
    >>> w = next(w for w in at_step(embedded_config(), 300).watches if w.name == "agent_task_latency_p95")
    >>> w.every, w.alert.for_
    (300, 600)
    """
    watches = []
    for w in cfg.watches:
        every = max(w.every, step)
        alert = w.alert
        if every > w.every:
            dense = alert.density
            scaled = None if dense is None else dense.model_copy(update={"within": dense.within * every // w.every})
            alert = alert.model_copy(update={"for_": alert.for_ * every // w.every, "density": scaled})
        watches.append(w.model_copy(update={"every": every, "alert": alert}))
    return cfg.model_copy(update={"watches": watches})


LOG_SIGNAL = "agent_log_error_rate"
"""What a log watch on the fleet's logs observes, in the simulator's ground truth."""


def _patterns(w: WatchConfig, source: SimulatedSource, store: Store) -> LogWatch | None:
    """The template stage of a log watch (miner state under the demo's models dir)."""
    if w.logs is None or not w.logs.templates:
        return None
    return LogWatch(w, source, state_dir=store.models_dir / "logs")


def _signals(cfg: Config) -> dict[str, str]:
    return {w.name: LOG_SIGNAL if w.logs is not None else w.query or "" for w in cfg.watches}


def _as_signal(e: AlertEvent, cfg: Config) -> AlertEvent:
    """A log watch's alert as the simulator's ground truth names it: the agent's error-log signal.

    Log series are labelled by ECS fields (``service_name`` = the agent, plus
    tool / template); incidents list ``agent_log_error_rate{agent}``.
    """
    w = next((w for w in cfg.watches if w.name == e.watch), None)
    if w is None or w.logs is None:
        return e
    agent = dict(e.labels).get("service_name", "")
    return replace(e, labels=labels_key({"agent": agent}))


def _summary(ev: Evaluation, n_series: int) -> dict[str, object]:
    return {
        "incidents": len(ev.outcomes),
        "detected": ev.detected,
        "by_kind": ev.by_kind(),
        "false_alarms": len(ev.false_alarms),
        "false_alarms_per_series_week": ev.false_alarms_per_series_week,
        "related_alerts": len(ev.related),
        "series": n_series,
    }


def format_report(rep: DemoReport) -> str:
    """The end-of-demo summary as a readable table."""
    ev = rep.evaluation
    lines = ["", "INCIDENT              AGENT       START             DETECTED  DELAY   BY"]
    for o in sorted(ev.outcomes, key=lambda o: o.incident.start):
        inc = o.incident
        start = time.strftime("%Y-%m-%d %H:%M", time.gmtime(inc.start))
        delay = format_duration(o.delay) if o.delay is not None else "-"
        by = f"{o.alert.watch}{format_labels(o.alert.labels)}" if o.alert else ""
        found = "yes" if o.detected else "MISSED"
        lines.append(f"{inc.kind:<21} {inc.agent:<11} {start}  {found:<8}  {delay:<6}  {by}")
    delays = [o.delay for o in ev.outcomes if o.delay is not None]
    lines += [
        "",
        f"incidents injected {len(ev.outcomes)}, detected {ev.detected}"
        + (f", median delay {format_duration(float(np.median(delays)))}" if delays else ""),
        f"false alarms {len(ev.false_alarms)} on {rep.n_series} series "
        f"= {ev.false_alarms_per_series_week:.3f} per series-week; {len(ev.related)} related alerts "
        "(other series of an agent during its incident)",
        f"report: {rep.summary}" + (f"; plot: {rep.plot}" if rep.plot else ""),
        f"simulated week replayed in {rep.seconds:.1f} s",
    ]
    return "\n".join(lines)


def _plot_incident(outcomes: list[Outcome], kept: dict[str, list[CycleResult]], path: Path) -> Path | None:
    """Value, expected band and score around the first detected incident."""
    caught = [o for o in outcomes if o.alert is not None and o.alert.kind == "anomaly"]
    if not caught:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for o in caught:  # the first one whose series was kept (log alerts are judged under other labels)
        inc, alert = o.incident, o.alert
        assert alert is not None
        lo, hi = inc.start - 12 * 3600, inc.end + 6 * 3600
        parts = [
            r for r in kept[alert.watch]
            if r.batch.n_steps and r.batch.end >= lo and r.batch.timestamps[0] <= hi and alert.labels in r.batch.labels
        ]
        if parts:
            break
    else:
        return None
    ts = np.concatenate([r.batch.timestamps for r in parts])
    rows = [r.batch.labels.index(alert.labels) for r in parts]

    def series(get: Callable[[CycleResult], np.ndarray]) -> np.ndarray:
        return np.concatenate([get(r)[i] for r, i in zip(parts, rows, strict=True)])

    val = series(lambda r: r.batch.values)
    exp = series(lambda r: r.scores.expected)
    low = series(lambda r: r.scores.lower)
    up = series(lambda r: r.scores.upper)
    score = series(lambda r: r.scores.score)
    keep = (ts >= lo) & (ts <= hi)
    hours = (ts[keep] - inc.start) / 3600
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[3, 1])
    ax1.fill_between(hours, low[keep], up[keep], color="tab:blue", alpha=0.2, label="expected band")
    ax1.plot(hours, exp[keep], color="tab:blue", lw=1, label="expected")
    ax1.plot(hours, val[keep], color="black", lw=0.8, label="value")
    for ax in (ax1, ax2):
        ax.axvspan(0, (inc.end - inc.start) / 3600, color="tab:red", alpha=0.1)
        ax.axvline((alert.at - inc.start) / 3600, color="tab:red", ls="--", lw=1)
    ax1.set_title(f"{inc.kind} on {inc.agent}, alert after {format_duration(o.delay or 0)}\n"
                  f"{alert.watch}{format_labels(alert.labels)}", fontsize=10)
    ax1.legend(loc="upper left", fontsize=8)
    ax2.plot(hours, score[keep], color="tab:purple", lw=0.8)
    ax2.axhline(0.99, color="grey", ls=":", lw=1)
    ax2.set_ylim(0, 1.02)
    ax2.set_ylabel("score")
    ax2.set_xlabel("hours from incident start (shaded: incident; dashed: alert)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
