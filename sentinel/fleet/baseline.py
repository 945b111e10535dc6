"""The healthy fleet: seasonality, per-agent traits and closed-form signal baselines.

Every value is a pure function of ``(seed, agent, absolute time)``: traffic
follows a daily and weekly shape (busy weekday afternoons, quiet nights and
weekends), each agent has its own scale, time-zone offset and quirks, noise
comes from :mod:`sentinel.fleet.random` keyed by the time cell, memory is a
saw-tooth (allocation between garbage collections, plus slow fragmentation
cleared by restarts) and free disk shrinks until the daily cleanup.  Because
nothing depends on what was generated before, any time range can be produced
on its own -- the property the daemon (one cycle at a time) relies on.

>>> t = np.array([_MONDAY + 15 * 3600, _MONDAY + 3 * 3600, _MONDAY + 5 * 86400 + 15 * 3600])
>>> np.round(load(t, 0.0), 2).tolist()  # Monday 15:00, Monday 03:00, Saturday 15:00
[0.81, 0.16, 0.48]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sentinel.fleet import random as rnd
from sentinel.fleet.signals import MODELS, TOOLS, agent_model

_MONDAY = 1767571200  # 2026-01-05 00:00 UTC, a Monday
DAY = 86400
HOUR = 3600
MIB = 1 << 20
GIB = 1 << 30
MEMORY_LIMIT = 2 * GIB
"""Every agent's memory limit (a memory leak's exhaustion point)."""
TOOL_CALLS_PER_TASK = {"search": 2.0, "code_exec": 1.0, "browser": 0.5}
"""Mean tool invocations per task (tool call rate = task rate x this)."""
LLM_CALLS_PER_TASK = 4.0
"""Mean LLM calls per task at the agent's usual tokens per call."""
_MODEL_LATENCY = dict(zip(MODELS, (3.5, 4.5, 2.5), strict=True))
_WEEKLY = np.array([1.0, 1.0, 1.0, 0.98, 0.92, 0.6, 0.5])  # Monday..Sunday


def load(t: np.ndarray, tz_hours: float) -> np.ndarray:
    """Relative traffic in (0, 1]: a daily curve times a smoothly interpolated weekly factor."""
    local = t.astype(np.float64) + tz_hours * HOUR
    h = (local % DAY) / HOUR
    daily = 0.5 - 0.3 * np.cos(2 * np.pi * (h - 3.0) / 24.0) + 0.15 * np.exp(-(((h - 11.0) / 2.5) ** 2))
    days = ((local / DAY) + 3.0) % 7.0  # 1970-01-01 was a Thursday; 0 = Monday 00:00
    centres = np.arange(-0.5, 8.0)  # day midpoints, wrapped at both ends
    weekly = np.interp(days, centres, np.concatenate([_WEEKLY[-1:], _WEEKLY, _WEEKLY[:1]]))
    return daily * weekly


def smooth(k: int, t: np.ndarray, period: int) -> np.ndarray:
    """Slowly varying standard-normal noise: cosine-interpolated knots every ``period`` seconds."""
    kn = t // period
    if not len(kn):
        return np.zeros(0)
    lo = int(kn.min())
    knots = rnd.normal(k, np.arange(lo, int(kn.max()) + 2))  # each knot drawn once
    w = (1.0 - np.cos(np.pi * (t % period) / period)) / 2.0
    return (1.0 - w) * knots[kn - lo] + w * knots[kn - lo + 1]


def spikes(k: int, cell: np.ndarray, p: float, scale: float) -> np.ndarray:
    """Heavy-tailed multiplicative bursts: 1 most of the time, 1 + Exp(scale) with probability ``p``."""
    u = rnd.uniform(k, 2 * cell)
    e = -np.log1p(-rnd.uniform(k, 2 * cell + 1)) * scale
    return np.where(u < p, 1.0 + e, 1.0)


def last_event(k: int, t: np.ndarray, window: float, lo: float, hi: float, offset: float = 0.0) -> np.ndarray:
    """Time of the most recent event <= t, one event per ``window`` at a keyed random phase in [lo, hi).

    Closed form for irregular periodic events (GC, restarts, cleanups):
    consecutive events are between ``(1 - hi + lo)`` and ``(1 + hi - lo)``
    windows apart.
    """
    x = t.astype(np.float64) - offset
    kw = np.floor(x / window).astype(np.int64)
    this = kw * window + (lo + rnd.uniform(k, kw) * (hi - lo)) * window
    prev = (kw - 1) * window + (lo + rnd.uniform(k, kw - 1) * (hi - lo)) * window
    return np.where(x >= this, this, prev) + offset


@dataclass(frozen=True)
class Agent:
    """One agent's fixed traits (drawn once from the seed)."""

    index: int
    name: str
    tz: float
    task_rate: float
    queue: float
    error_ratio: float
    latency: float
    tool_error: dict[str, float]
    model: str
    llm_latency: float
    tokens_per_task: dict[str, float]
    mem_base: float
    gc_window: float
    gc_amp: float
    restart_window: float
    mem_drift: float
    disk_capacity: float
    disk_base_used: float
    disk_daily: float

    @classmethod
    def draw(cls, seed: int, index: int, name: str) -> Agent:
        u = rnd.uniform(rnd.key(seed, "traits", index), np.arange(24))
        lerp = lambda i, a, b: float(a + (b - a) * u[i])  # noqa: E731
        capacity = (50, 100, 200)[int(u[20] * 3)] * GIB
        return cls(
            index=index,
            name=name,
            tz=lerp(0, -2.0, 2.0),
            task_rate=float(np.clip(0.6 * np.exp(0.5 * rnd.normal(rnd.key(seed, "rate", index), np.arange(1))[0]),
                                    0.1, 3.0)),
            queue=lerp(1, 2.0, 8.0),
            error_ratio=lerp(2, 0.01, 0.04),
            latency=lerp(3, 8.0, 40.0),
            tool_error={t: lerp(4 + j, 0.005, 0.04) for j, t in enumerate(TOOLS)},
            model=agent_model(index),
            llm_latency=_MODEL_LATENCY[agent_model(index)] * lerp(7, 0.8, 1.25),
            tokens_per_task={"input": lerp(8, 2500.0, 6000.0), "output": lerp(9, 400.0, 1200.0)},
            mem_base=lerp(10, 300.0, 700.0) * MIB,
            gc_window=lerp(11, 2.0, 5.0) * HOUR,
            gc_amp=lerp(12, 100.0, 400.0) * MIB,
            restart_window=lerp(13, 1.0, 3.0) * DAY,
            mem_drift=lerp(14, 20.0, 80.0) * MIB / DAY,
            disk_capacity=float(capacity),
            disk_base_used=lerp(15, 0.3, 0.6) * capacity,
            disk_daily=lerp(16, 0.03, 0.10) * capacity,
        )


class Baseline:
    """Healthy signal values for one agent on time cells (cell start times ``t``, cell ids ``cell``)."""

    def __init__(self, seed: int, agent: Agent) -> None:
        self.seed = seed
        self.a = agent

    def _k(self, *parts: int | str) -> int:
        return rnd.key(self.seed, self.a.index, *parts)

    def load(self, t: np.ndarray) -> np.ndarray:
        """Relative traffic at ``t`` (callers compute it once and pass it as ``ld``)."""
        return load(t, self.a.tz)

    def task_rate(self, t: np.ndarray, cell: np.ndarray, ld: np.ndarray) -> np.ndarray:
        mean = self.a.task_rate * ld * (1.0 + 0.08 * smooth(self._k("rate_s"), t, 2 * HOUR))
        # counting noise of a 5-minute rate window
        return np.maximum(0.0, mean + np.sqrt(mean / 300.0) * rnd.normal(self._k("rate_n"), cell))

    def queue_depth(self, t: np.ndarray, cell: np.ndarray, ld: np.ndarray) -> np.ndarray:
        base = self.a.queue * ld ** 2 * np.exp(0.3 * smooth(self._k("queue_s"), t, HOUR))
        noisy = base + np.sqrt(base) * rnd.normal(self._k("queue_n"), cell)
        return np.maximum(0.0, np.rint(noisy * spikes(self._k("queue_p"), cell, 0.003, 2.0))) + 0.0

    def task_error_ratio(self, t: np.ndarray, cell: np.ndarray, ld: np.ndarray) -> np.ndarray:
        r = self.a.error_ratio * (0.8 + 0.4 * ld) * np.exp(0.25 * rnd.normal(self._k("err_n"), cell))
        return np.clip(r * spikes(self._k("err_p"), cell, 0.002, 1.5), 0.0, 1.0)

    def task_latency_p95(self, t: np.ndarray, cell: np.ndarray, ld: np.ndarray) -> np.ndarray:
        noise = 0.08 * smooth(self._k("lat_s"), t, 2 * HOUR) + 0.06 * rnd.normal(self._k("lat_n"), cell)
        lat = self.a.latency * (0.8 + 0.3 * ld) * np.exp(noise)
        return lat * spikes(self._k("lat_p"), cell, 0.002, 0.5)

    def tool_error_ratio(self, tool: str, cell: np.ndarray) -> np.ndarray:
        r = self.a.tool_error[tool] * np.exp(0.3 * rnd.normal(self._k("tool_n", tool), cell))
        return np.clip(r * spikes(self._k("tool_p", tool), cell, 0.002, 1.5), 0.0, 1.0)

    def llm_latency_p95(self, t: np.ndarray, cell: np.ndarray, ld: np.ndarray) -> np.ndarray:
        noise = 0.1 * smooth(self._k("llm_s"), t, 3 * HOUR) + 0.08 * rnd.normal(self._k("llm_n"), cell)
        lat = self.a.llm_latency * (0.9 + 0.2 * ld) * np.exp(noise)
        return lat * spikes(self._k("llm_p"), cell, 0.002, 0.4)

    def tokens_per_second(self, token_type: str, task_rate: np.ndarray, cell: np.ndarray) -> np.ndarray:
        per_task = self.a.tokens_per_task[token_type]
        return task_rate * per_task * np.exp(0.1 * rnd.normal(self._k("tok_n", token_type), cell))

    def memory(self, t: np.ndarray, cell: np.ndarray, ld: np.ndarray) -> np.ndarray:
        a = self.a
        gc = last_event(self._k("gc"), t, a.gc_window, 0.0, 0.8)
        restart = last_event(self._k("restart"), t, a.restart_window, 0.1, 0.9)
        since_gc = np.minimum(t - gc, t - restart)  # a restart also starts a fresh heap
        mem = (a.mem_base + a.gc_amp * since_gc / a.gc_window + a.mem_drift * (t - restart)
               + 80 * MIB * ld)
        return np.rint(mem + 3 * MIB * rnd.normal(self._k("mem_n"), cell))

    def memory_trend_peak(self) -> float:
        """The usual saw-tooth peak (what a leak adds to when estimating exhaustion)."""
        a = self.a
        return a.mem_base + a.gc_amp + a.mem_drift * a.restart_window / 2 + 80 * MIB

    def disk_avail(self, t: np.ndarray, cell: np.ndarray) -> np.ndarray:
        a = self.a
        cleanup = last_event(self._k("cleanup"), t, DAY, 0.0, 1.0 / 12.0, offset=3 * HOUR - a.tz * HOUR)
        used = a.disk_base_used + a.disk_daily * (t - cleanup) / DAY
        return np.rint(a.disk_capacity - used - 2 * MIB * np.abs(rnd.normal(self._k("disk_n"), cell)))
