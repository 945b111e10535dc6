"""What each incident kind does to an agent's signals, and its resolved ground truth.

:func:`resolve` turns a scheduled :class:`~sentinel.fleet.incidents.Draft`
(or an explicit request) into an :class:`Incident` against the agent's
baseline -- e.g. a disk fill's rate is set so the trend reaches zero after
the drawn runway, and its ``exhaustion_time`` is the first grid time the
simulated free space actually hits zero.  :func:`apply` changes the signal
arrays of one agent in place; it is the single place that decides what an
incident looks like in the data, so the ground truth (``Incident.signals``)
and the effect cannot drift apart.
"""

from __future__ import annotations

import numpy as np

from sentinel.fleet.baseline import MEMORY_LIMIT, Agent, Baseline
from sentinel.fleet.incidents import SPECS, Draft, Incident
from sentinel.fleet.signals import TOKEN_TYPES, TOOLS, agent_series, series_labels
from sentinel.fleet.templates import NEW_ERROR_TEMPLATES

RAMP = 300
"""Seconds over which step-like incidents ramp in and out (real regressions are rarely one sample)."""


def _one(name: str, agent: Agent, **extra: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    labels = [lb for lb in series_labels(name, [agent.name], [agent.index]) if set(extra.items()) <= set(lb)]
    return name, labels[0]


def _first_at_or_below(values: np.ndarray, t: np.ndarray, level: float) -> int | None:
    hit = np.flatnonzero(values <= level)
    return int(t[hit[0]]) if len(hit) else None


def resolve(
    kind: str, agent: Agent, base: Baseline, start: int, duration: int, magnitude: float,
    choice: float, step: int,
) -> Incident:
    """A fully specified incident (``magnitude``: for memory_leak / disk_fill the runway in seconds)."""
    end = start + duration
    spec = SPECS[kind]
    exhaustion = None
    template = tool = None
    a = agent.name
    if kind == "latency_regression":
        signals = [_one("agent_task_latency_p95", agent), _one("gen_ai_latency_p95", agent)]
        desc = f"{a}: LLM ({agent.model}) latency x{magnitude:.1f}, task latency p95 up with it"
    elif kind == "tool_error_burst":
        tool = TOOLS[int(choice * len(TOOLS))]
        signals = [_one("agent_tool_error_ratio", agent, tool=tool), _one("agent_task_error_ratio", agent),
                   _one("agent_log_error_rate", agent)]
        desc = f"{a}: tool {tool!r} error ratio x{magnitude:.1f}; task errors and error logs follow"
    elif kind == "runaway_loop":
        signals = [_one("gen_ai_tokens_per_second", agent, gen_ai_token_type=tt) for tt in TOKEN_TYPES]
        desc = f"{a}: agent stuck in a reasoning loop, token usage x{magnitude:.1f}"
    elif kind == "traffic_surge":
        signals = [_one("agent_task_rate", agent), _one("agent_queue_depth", agent),
                   *[_one("gen_ai_tokens_per_second", agent, gen_ai_token_type=tt) for tt in TOKEN_TYPES],
                   _one("agent_log_error_rate", agent)]
        desc = f"{a}: traffic surge, task rate x{magnitude:.1f}, queue backs up"
    elif kind == "memory_leak":
        runway = magnitude
        magnitude = (MEMORY_LIMIT - base.memory_trend_peak()) / runway
        grid = np.arange(start, start + int(2 * runway) + step, step, dtype=np.int64)
        mem = base.memory(grid, grid // step, base.load(grid)) + magnitude * (grid - start)
        exhaustion = _first_at_or_below(-mem, grid, -MEMORY_LIMIT)
        if exhaustion is not None and exhaustion < end:
            end = exhaustion  # the process is OOM-killed: the incident ends with a restart
        signals = [_one("process_resident_memory_bytes", agent)]
        desc = (f"{a}: memory leak of {magnitude * 3600 / 2**20:.0f} MiB/h "
                f"toward the {MEMORY_LIMIT / 2**30:.0f} GiB limit")
    elif kind == "disk_fill":
        runway = magnitude
        grid = np.arange(start, start + int(2 * runway) + step, step, dtype=np.int64)
        avail = base.disk_avail(grid, grid // step)
        magnitude = float(avail[0]) / runway
        exhaustion = _first_at_or_below(avail - magnitude * (grid - start), grid, 0.0)
        signals = [_one("node_filesystem_avail_bytes", agent)]
        desc = f"{a}: disk filling at {magnitude * 3600 / 2**30:.2f} GiB/h (runaway log / cache)"
    elif kind == "silent_agent":
        signals = agent_series(a)
        desc = f"{a}: agent hung, emits nothing (all its series missing)"
    elif kind == "new_error_pattern":
        template = NEW_ERROR_TEMPLATES[int(choice * len(NEW_ERROR_TEMPLATES))].id
        signals = [_one("agent_log_error_rate", agent)]
        desc = f"{a}: new error message ({template}) at {magnitude:.2f} lines/s"
    else:
        raise ValueError(f"unknown incident kind {kind!r}")
    return Incident(kind, start, end, a, tuple(signals), spec.direction, float(magnitude), desc,
                    exhaustion, template, tool)


def resolve_draft(d: Draft, agent: Agent, base: Baseline, step: int) -> Incident:
    return resolve(d.kind, agent, base, d.start, d.duration, d.magnitude, d.choice, step)


def shape(inc: Incident, t: np.ndarray, step: int) -> np.ndarray:
    """Effect strength in [0, 1] per cell: ramps over :data:`RAMP` at both ends, 0 outside ``[start, end)``."""
    ramp = max(step, min(RAMP, (inc.end - inc.start) // 4))
    s = np.minimum((t - inc.start + step) / ramp, (inc.end - t) / ramp)
    return np.where((t >= inc.start) & (t < inc.end), np.clip(s, 0.0, 1.0), 0.0)


def apply(inc: Incident, sig: dict[str, np.ndarray], t: np.ndarray, step: int) -> None:
    """Change one agent's signal arrays (``name -> (variants, T)``) in place for ``inc``.

    ``sig["_new_errors"]`` (T,) collects extra error log lines/s; ``sig["_silent"]`` (T,) marks
    cells where the agent emits nothing.  Both feed the log model.
    """
    active = (t >= inc.start) & (t < inc.end)
    if not active.any():
        return
    m, k = inc.magnitude, inc.kind
    s = shape(inc, t, step)
    if k == "latency_regression":
        sig["gen_ai_latency_p95"] *= 1.0 + (m - 1.0) * s
        sig["agent_task_latency_p95"] *= 1.0 + 0.8 * (m - 1.0) * s
    elif k == "tool_error_burst":
        row = TOOLS.index(inc.tool or TOOLS[0])
        sig["agent_tool_error_ratio"][row] = np.minimum(0.9, sig["agent_tool_error_ratio"][row] * (1 + (m - 1) * s))
        sig["agent_task_error_ratio"] *= 1.0 + 0.25 * (m - 1.0) * s
    elif k == "runaway_loop":
        sig["gen_ai_tokens_per_second"] *= 1.0 + (m - 1.0) * s
    elif k == "traffic_surge":
        f = 1.0 + (m - 1.0) * s
        sig["agent_task_rate"] *= f
        sig["gen_ai_tokens_per_second"] *= f
        sig["agent_queue_depth"] = np.rint(sig["agent_queue_depth"] * f**1.5 + 3.0 * (f - 1.0))
    elif k == "memory_leak":
        sig["process_resident_memory_bytes"] += np.where(active, np.rint(m * (t - inc.start)), 0.0)
    elif k == "disk_fill":
        avail = sig["node_filesystem_avail_bytes"]
        filled = np.maximum(avail - np.rint(m * (t - inc.start)), 0.0)
        sig["node_filesystem_avail_bytes"] = np.where(active, filled, avail)
    elif k == "silent_agent":
        sig["_silent"] |= active
    elif k == "new_error_pattern":
        sig["_new_errors"] += m * s
