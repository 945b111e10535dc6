"""Score alert events against ground-truth incidents.

Used by ``sentinel demo``, ``sentinel backtest`` on the simulator and the
simulator benchmark.  The rules an on-call engineer would apply:

- an incident is **detected** when an alert fires on one of the series it
  changes (or, for a silent agent, any ``absent`` alert of that agent)
  between its start and its end plus a grace period; the **delay** is the
  time from its start to the first such alert;
- an alert that fires on a series of the same agent during the incident is
  *related* (a consequence, e.g. queue growth in a traffic surge), not false;
- every other firing alert is a **false alarm**; their rate is reported per
  series-week of clean data.

>>> from sentinel.alerting.event import AlertEvent
>>> class Inc:  # anything shaped like sentinel.fleet.incidents.Incident
...     kind, start, end, agent = "latency_regression", 1000, 2000, "agent-01"
...     signals = (("lat", (("agent", "agent-01"),)),)
>>> ev = [AlertEvent("firing", "lat_watch", (("agent", "agent-01"),), 1300, 1300),
...       AlertEvent("firing", "lat_watch", (("agent", "agent-02"),), 5000, 5000)]
>>> r = evaluate(ev, [Inc()], {"lat_watch": "lat"}, n_series=10, duration=604800)
>>> r.detected, r.outcomes[0].delay, len(r.false_alarms)
(1, 300, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sentinel.alerting.event import AlertEvent

WEEK = 7 * 86400


@dataclass
class Outcome:
    """One incident and whether (and how fast) an alert caught it."""

    incident: Any
    delay: int | None = None
    alert: AlertEvent | None = None

    @property
    def detected(self) -> bool:
        return self.delay is not None


@dataclass
class Evaluation:
    outcomes: list[Outcome]
    false_alarms: list[AlertEvent]
    n_series: int
    duration: int
    related: list[AlertEvent] = field(default_factory=list)

    @property
    def detected(self) -> int:
        return sum(o.detected for o in self.outcomes)

    @property
    def false_alarms_per_series_week(self) -> float:
        return len(self.false_alarms) / max(self.n_series * self.duration / WEEK, 1e-9)

    def by_kind(self) -> dict[str, dict[str, float]]:
        """Per incident kind: injected, detected, median delay (s)."""
        out: dict[str, dict[str, float]] = {}
        for kind in sorted({o.incident.kind for o in self.outcomes}):
            group = [o for o in self.outcomes if o.incident.kind == kind]
            delays = [o.delay for o in group if o.delay is not None]
            out[kind] = {
                "injected": len(group),
                "detected": len(delays),
                "median_delay_s": float(np.median(delays)) if delays else float("nan"),
            }
        return out


def _agent(labels: Sequence[tuple[str, str]]) -> str | None:
    return dict(labels).get("agent")


def evaluate(
    events: Sequence[AlertEvent],
    incidents: Sequence[Any],
    signal_of: Mapping[str, str],
    n_series: int,
    duration: int,
    grace: int = 3600,
) -> Evaluation:
    """Match firing events to incidents (see the module docstring).

    ``signal_of`` maps a watch name to the signal (metric) it watches, so an
    alert's series can be compared with the incident's affected series.
    """
    firing = sorted((e for e in events if e.status == "firing"), key=lambda e: e.at)
    outcomes = [Outcome(inc) for inc in incidents]
    false_alarms, related = [], []
    for ev in firing:
        sig = signal_of.get(ev.watch)
        key = tuple(kv for kv in ev.labels if kv[0] != "__name__")
        hit = False
        for out in outcomes:
            inc = out.incident
            if not inc.start <= ev.at <= inc.end + grace:
                continue
            direct = (sig, key) in inc.signals or (
                ev.kind == "absent" and inc.kind == "silent_agent" and _agent(key) == inc.agent
            )
            if direct:
                hit = True
                if out.delay is None:
                    out.delay, out.alert = max(0, ev.at - inc.start), ev
            elif _agent(key) == inc.agent:
                hit = True
                related.append(ev)
        if not hit:
            false_alarms.append(ev)
    return Evaluation(outcomes, false_alarms, n_series, duration, related)
