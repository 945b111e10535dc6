"""The catalogue of per-agent signals the simulated fleet produces.

A *signal* is a ground-level quantity per agent (and per tool, model or
token type where named) -- what a PromQL query over the fleet's metrics
would return, e.g. ``agent_task_latency_p95`` is what
``histogram_quantile(0.95, sum by (agent, le) (rate(agent_task_duration_seconds_bucket[5m])))``
approximates.  Watches on the embedded fleet name these signals directly;
the metrics view (:mod:`sentinel.fleet.metrics`) turns them into the
Prometheus metrics of DESIGN §4.

>>> SIGNALS["agent_tool_error_ratio"].variants
({'tool': 'search'}, {'tool': 'code_exec'}, {'tool': 'browser'})
>>> len(series_labels("agent_task_rate", ["agent-00", "agent-01"]))
2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sentinel.series import Labels, labels_key

TOOLS: tuple[str, ...] = ("search", "code_exec", "browser")
"""Tools an agent calls (``tool`` label)."""

MODELS: tuple[str, ...] = ("gpt-4o", "claude-3-5-sonnet", "llama-3.1-70b")
"""LLMs; each agent uses one (``gen_ai_request_model`` label), chosen by :func:`agent_model`."""

TOKEN_TYPES: tuple[str, ...] = ("input", "output")
"""``gen_ai_token_type`` values (OpenTelemetry GenAI semantic conventions)."""


def agent_name(i: int) -> str:
    """``agent-00`` ... (two digits up to 100 agents, more digits beyond).

    >>> agent_name(3), agent_name(123)
    ('agent-03', 'agent-123')
    """
    return f"agent-{i:02d}"


def agent_model(i: int) -> str:
    """The LLM agent ``i`` calls (fixed per agent, so its series set is stable)."""
    return MODELS[i % len(MODELS)]


@dataclass(frozen=True)
class Signal:
    """One signal: its name, unit, meaning and which direction is harmful."""

    name: str
    unit: str
    help: str
    direction: Literal["up", "down"]
    kind: Literal["rate", "ratio", "quantile", "gauge"]
    variants: tuple[dict[str, str], ...] = field(default=({},))
    """Extra label sets per agent (one series per agent per variant)."""
    per_model: bool = False
    """Carries ``gen_ai_request_model`` = the agent's model."""


_CATALOGUE = (
    Signal("agent_task_rate", "tasks/s", "Tasks finished per second.", "down", "rate"),
    Signal("agent_task_error_ratio", "ratio", "Fraction of finished tasks that failed or timed out.", "up", "ratio"),
    Signal("agent_task_latency_p95", "s", "95th percentile of task wall time.", "up", "quantile"),
    Signal("agent_queue_depth", "tasks", "Tasks waiting in the agent's queue.", "up", "gauge"),
    Signal(
        "agent_tool_error_ratio", "ratio", "Fraction of tool calls that failed, per tool.", "up", "ratio",
        variants=tuple({"tool": t} for t in TOOLS),
    ),
    Signal(
        "gen_ai_latency_p95", "s", "95th percentile of LLM call latency, per model.", "up", "quantile",
        per_model=True,
    ),
    Signal(
        "gen_ai_tokens_per_second", "tokens/s", "LLM tokens consumed per second, by token type.", "up", "rate",
        variants=tuple({"gen_ai_token_type": t} for t in TOKEN_TYPES),
    ),
    Signal("process_resident_memory_bytes", "bytes", "Resident memory of the agent process.", "up", "gauge"),
    Signal(
        "node_filesystem_avail_bytes", "bytes", "Free bytes on the agent's root filesystem.", "down", "gauge",
        variants=({"mountpoint": "/"},),
    ),
    Signal("agent_log_error_rate", "lines/s", "Error-level log lines per second.", "up", "rate"),
)

SIGNALS: dict[str, Signal] = {s.name: s for s in _CATALOGUE}
"""Every signal by name, in catalogue order."""


def series_labels(name: str, agents: list[str], agent_index: list[int] | None = None) -> list[Labels]:
    """Label sets of signal ``name`` for ``agents``, agent-major (the row order of its Batch)."""
    sig = SIGNALS[name]
    idx = agent_index if agent_index is not None else [int(a.rsplit("-", 1)[1]) for a in agents]
    out: list[Labels] = []
    for a, i in zip(agents, idx, strict=True):
        for v in sig.variants:
            extra = {"gen_ai_request_model": agent_model(i)} if sig.per_model else {}
            out.append(labels_key({"agent": a, **v, **extra}))
    return out


def agent_series(agent: str) -> list[tuple[str, Labels]]:
    """Every ``(signal, labels)`` of one agent (what a silent agent stops emitting)."""
    return [(name, lb) for name in SIGNALS for lb in series_labels(name, [agent])]
