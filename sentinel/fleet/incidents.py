"""Incidents with ground truth, and the seeded weekly schedule that places them.

An :class:`Incident` says what happened (``kind``), to which agent, when
(``[start, end)``, on the fleet's step grid), which series it changes and
how (``signals``, ``direction``, ``magnitude``), and for resource incidents
when the resource would run out (``exhaustion_time``).  Detection and false
alarms are scored against exactly these fields (see :func:`affecting`).

The schedule is drawn per simulated week (weeks counted from the fleet's
``start``), each week from its own seeded generator, and no incident crosses
a week boundary -- so the incidents of any time range are known without
generating the weeks before it.  Each week holds every kind at least once
(when ``incident_rate > 0`` and there are enough eligible agents) plus a
Poisson number more, never two on one agent within :data:`GAP` of each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from sentinel.fleet.baseline import DAY, HOUR
from sentinel.series import Labels, labels_key

KINDS: tuple[str, ...] = (
    "latency_regression",
    "tool_error_burst",
    "runaway_loop",
    "traffic_surge",
    "memory_leak",
    "disk_fill",
    "silent_agent",
    "new_error_pattern",
)
WEEK = 7 * DAY
GAP = 2 * HOUR
"""Minimum quiet time between two incidents on the same agent (and at week edges, half of it)."""


@dataclass(frozen=True)
class KindSpec:
    """How long an incident of a kind lasts and how strong it is (uniform ranges)."""

    duration: tuple[float, float]
    """Seconds; for memory_leak / disk_fill this is the *runway* to exhaustion."""
    magnitude: tuple[float, float]
    direction: Literal["up", "down"]


SPECS: dict[str, KindSpec] = {
    "latency_regression": KindSpec((20 * 60, 90 * 60), (1.8, 3.0), "up"),
    "tool_error_burst": KindSpec((10 * 60, 45 * 60), (4.0, 10.0), "up"),
    "runaway_loop": KindSpec((15 * 60, 60 * 60), (5.0, 10.0), "up"),
    "traffic_surge": KindSpec((30 * 60, 120 * 60), (2.0, 4.0), "up"),
    "memory_leak": KindSpec((8 * HOUR, 36 * HOUR), (0.6, 1.0), "up"),
    "disk_fill": KindSpec((6 * HOUR, 48 * HOUR), (0.5, 1.1), "down"),
    "silent_agent": KindSpec((15 * 60, 90 * 60), (0.0, 0.0), "down"),
    "new_error_pattern": KindSpec((20 * 60, 120 * 60), (0.05, 0.3), "up"),
}
"""For memory_leak / disk_fill the magnitude range is the fraction of the runway the incident lasts
(the resolved Incident then carries the leak / fill rate in bytes/s as its magnitude)."""


@dataclass(frozen=True)
class Incident:
    """One injected incident and its ground truth.

    ``magnitude`` by kind: latency_regression -- LLM latency factor (task
    latency rises by ``1 + 0.8 (m - 1)``); tool_error_burst -- tool error
    ratio factor; runaway_loop -- token rate factor; traffic_surge -- task
    rate factor; memory_leak -- leak in bytes/s; disk_fill -- fill in
    bytes/s; silent_agent -- 0; new_error_pattern -- new error lines/s.
    """

    kind: str
    start: int
    end: int
    agent: str
    signals: tuple[tuple[str, Labels], ...]
    direction: Literal["up", "down"]
    magnitude: float
    description: str
    exhaustion_time: int | None = None
    template: str | None = None
    """new_error_pattern: the ground-truth id of the new log template."""
    tool: str | None = None
    """tool_error_burst: the failing tool."""

    def affects(self, name: str, labels: Labels | Mapping[str, str]) -> bool:
        """Whether series ``name{labels}`` is one this incident changes (``__name__`` ignored)."""
        key = tuple(kv for kv in labels_key(labels) if kv[0] != "__name__")
        return (name, key) in self.signals

    def active(self, t: int) -> bool:
        """Whether ``t`` is inside ``[start, end)``."""
        return self.start <= t < self.end


def affecting(incidents: Sequence[Incident], name: str, labels: Labels | Mapping[str, str], t: int) -> Incident | None:
    """The incident that changes series ``name{labels}`` at time ``t``, or None (for scoring alerts)."""
    for inc in incidents:
        if inc.start <= t < inc.end and inc.affects(name, labels):
            return inc
    return None


def truth_mask(
    incidents: Sequence[Incident], name: str, labels: Sequence[Labels], timestamps: np.ndarray
) -> np.ndarray:
    """Boolean (series x time): True where some incident affects that series at that time."""
    ts = np.asarray(timestamps)
    mask = np.zeros((len(labels), len(ts)), dtype=bool)
    for row, lb in enumerate(labels):
        for inc in incidents:
            if inc.affects(name, lb):
                mask[row] |= (ts >= inc.start) & (ts < inc.end)
    return mask


@dataclass(frozen=True)
class Draft:
    """A scheduled incident before its effects are resolved against the fleet's baseline.

    ``magnitude`` is drawn from the kind's range, except for memory_leak and
    disk_fill where it is the runway in seconds (the rate follows from the baseline).
    """

    kind: str
    agent: int
    start: int
    duration: int
    magnitude: float
    choice: float
    """A uniform draw for kind-specific choices (which tool, which new template)."""


def _week_code(week: int) -> int:
    return 2 * week if week >= 0 else -2 * week - 1


def draft_week(
    seed: int, week: int, week_start: int, eligible: Sequence[int], rate: float, step: int
) -> list[Draft]:
    """The incidents of one simulated week (deterministic in ``seed``, ``week``)."""
    if rate <= 0 or not eligible:
        return []
    rng = np.random.default_rng([seed, 0x1C1D, _week_code(week)])
    n = max(len(KINDS), int(rng.poisson(rate * 7)))
    kinds = list(rng.permutation(KINDS)) + list(rng.choice(KINDS, size=n - len(KINDS)))
    drafts = []
    for kind in kinds:
        spec = SPECS[kind]
        runway = rng.uniform(*spec.duration)
        magnitude = rng.uniform(*spec.magnitude)
        duration = runway * magnitude if kind in ("memory_leak", "disk_fill") else runway
        drafts.append((max(step, int(duration // step * step)), str(kind), runway, magnitude, rng.uniform()))
    drafts.sort(key=lambda d: -d[0])  # place long incidents first, while the week is still empty
    busy: dict[int, list[tuple[int, int]]] = {}
    placed: list[Draft] = []
    lo, hi = week_start + GAP // 2, week_start + WEEK - GAP // 2
    for duration, kind, runway, magnitude, choice in drafts:
        for _ in range(64):
            agent = int(rng.choice(eligible))
            start = int(rng.integers(lo, hi - duration + 1) // step * step) if hi - duration > lo else lo
            end = start + duration
            if start < lo or end > hi:
                continue
            if all(end + GAP <= s or start >= e + GAP for s, e in busy.get(agent, [])):
                busy.setdefault(agent, []).append((start, end))
                mag = runway if kind in ("memory_leak", "disk_fill") else magnitude
                placed.append(Draft(kind, agent, start, duration, float(mag), float(choice)))
                break
    placed.sort(key=lambda d: (d.start, d.agent))
    return placed
