"""The embedded default: what ``sentinel run`` watches when there is no sentinel.yaml.

The simulated fleet (:mod:`sentinel.fleet`) runs in-process on an
accelerated clock, and there is one watch per fleet signal, with an alert
policy an SRE would accept as a starting point:

- ``direction``: only the harmful way (from the signal catalogue: latency,
  errors, queue, memory and tokens up; throughput and free disk down);
- ``min_deviation``: relative for quantities with a natural scale (latency,
  rates, memory, disk), absolute for ratios that sit near zero (error
  ratios: 5 percentage points) and for the queue (5 tasks);
- ``for``: 2 minutes.  The default ensemble absorbs a level shift within
  ~10-15 minutes, so a longer ``for`` lets most incidents slip through:
  measured over 2 simulated days (8 agents, 8 incidents), ``for: 5m``
  raised no alert at all, ``for: 2m`` raised 4, all true, none on clean series;
- ``density``: the anomaly alert also fires on 4 separate excursions
  at least 1.5 half-bands out of the band within 30 minutes, with a
  report among them (:mod:`sentinel.alerting.density`: latency that turns
  erratic breaches every few minutes, and no breach lasts ``for``).
  Measured on the shapes benchmark (its detector scores replayed through
  the policy): noise x5 / x8 for 2 h alerted 0.39 / 0.75 without it, 0.67
  / 0.98 with it, and no clean series of any family alerted more.  Without
  the depth, 4 within 30 minutes caught 0.97 / 1.00 but raised 6 false
  alarms in the simulator's three weeks and 2 in the demo, every one on
  excursions just over the band's edge.  Not on the error-log rate, a
  sparse count (about one error line a minute) where an excursion is a
  line or two more: 4 of those 6 false alarms were there;
- ``scale``: the anomaly alert also fires once a series' 30-minute mean
  deviation from its expected value has stayed beyond what its own swings
  reach (and 1.6x its usual) for 15 minutes, with a report (:mod:`sentinel.alerting.scale`:
  jitter that triples for hours, which the detector's band learns within
  the hour).  Measured on the shapes benchmark: noise x2 / x3 / x5 for 2 h
  alerted 0.06 / 0.17 / 0.67 without it, 0.30 / 0.79 / 0.99 with it, and
  no clean series of any family alerted more;
- ``absent_for`` on the task rate: a silent agent is an incident;
- ``stuck`` on every anomaly watch: one value repeated far longer than the
  series ever has (a frozen exporter, a hung agent re-reporting its last
  gauge) is an incident too.  A series that repeats routinely learns its
  runs, and a run at a bound of its range (an empty queue at night) is a
  lull, not a fault (:mod:`sentinel.detect.stuck`);
- memory and free disk get *runway* watches instead (forecast to the 2 GiB
  memory limit and to 0 bytes free: warning under 24 h, critical under 4 h).

The fleet's own logs get one log watch, ``error_logs`` (read in-process by
:mod:`sentinel.sources.simulated_logs`, the same interface as Elasticsearch):
error lines per agent and tool (a tool's error burst), per-(agent, tool,
template) rates, and new error patterns (a template never seen before, with a
masked example).  Its counts are scored count-aware
(:mod:`sentinel.detect.counts`), so sparse error counts do not page.

Alerts go to the console and the local store (no Alertmanager).

>>> cfg = embedded_config()
>>> cfg.simulator is not None and cfg.alertmanager is None
True
>>> len(cfg.watches) == len(SIGNALS) + len(LOG_WATCHES)
True
>>> next(w for w in cfg.watches if w.name == "agent_task_rate").alert.direction
'down'
"""

from __future__ import annotations

from typing import Any

from sentinel.config import Config, SimulatorConfig
from sentinel.fleet.baseline import MEMORY_LIMIT
from sentinel.fleet.signals import SIGNALS, Signal

_MIN_DEVIATION = {
    "ratio": 0.05,  # absolute: 5 percentage points of error ratio
    "quantile": "30%",
    "rate": "30%",
    "gauge": "20%",
}
_OVERRIDES: dict[str, dict[str, Any]] = {
    "agent_queue_depth": {"min_deviation": 5},
    "agent_task_rate": {"absent_for": "10m"},
    "gen_ai_tokens_per_second": {"min_deviation": "50%"},
    "agent_log_error_rate": {"min_deviation": "100%", "density": None},
}


def _watch(sig: Signal) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "threshold": 0.99, "for": "2m", "direction": sig.direction,
        "min_deviation": _MIN_DEVIATION[sig.kind], "severity": "warning", "stuck": True,
        "drift": "15m", "density": {"count": 4, "within": "30m"}, "scale": "15m",
    }
    alert.update(_OVERRIDES.get(sig.name, {}))
    return {"name": sig.name, "query": sig.name, "every": "1m", "alert": alert}


_CAPACITY: dict[str, dict[str, Any]] = {
    "process_resident_memory_bytes": {"name": "memory_runway", "limit": MEMORY_LIMIT, "direction": "up"},
    "node_filesystem_avail_bytes": {"name": "disk_runway", "limit": 0, "direction": "down"},
}
"""Capacity signals get a runway watch instead of an anomaly watch: a leak or a fill is a slow
ramp that an anomaly detector learns as normal, and the question an SRE asks is "when does it run out"."""


def _runway(signal: str, spec: dict[str, Any]) -> dict[str, Any]:
    forecast = {k: v for k, v in spec.items() if k != "name"}
    return {
        "name": spec["name"], "query": signal, "every": "5m", "detector": None,
        "forecast": {"horizon": "48h", "warn_within": "24h", "critical_within": "4h", "history": "2d", "every": "1h",
                     **forecast},
    }


LOG_WATCHES: list[dict[str, Any]] = [
    {
        "name": "error_logs", "every": "1m",
        "logs": {"index": "agent-logs-*", "query": "log.level:error", "group_by": ["service.name", "labels.tool"],
                 "max_template_series": 2000},
        "alert": {"threshold": 0.99, "for": "2m", "direction": "up", "severity": "warning"},
    },
]
"""Log watches on the fleet's own ECS logs (the same shape as an Elasticsearch log watch)."""


def embedded_config(simulator: SimulatorConfig | None = None) -> Config:
    """The default config: the simulator plus one watch per signal and the log watches (see the module doc)."""
    watches = [_runway(s.name, _CAPACITY[s.name]) if s.name in _CAPACITY else _watch(s) for s in SIGNALS.values()]
    watches += LOG_WATCHES
    return Config.model_validate({"simulator": (simulator or SimulatorConfig()).model_dump(), "watches": watches})
