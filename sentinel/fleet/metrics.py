"""The fleet's signals as the Prometheus metrics an agent runtime exports (DESIGN §4).

The signals are the ground truth; this module derives the raw metrics from
them so that the usual PromQL recovers each signal, e.g.::

    histogram_quantile(0.95, sum by (agent, le) (rate(agent_task_duration_seconds_bucket[5m])))
        ~ agent_task_latency_p95
    sum by (agent) (rate(agent_tasks_total{status!="ok"}[5m])) / sum by (agent) (rate(agent_tasks_total[5m]))
        ~ agent_task_error_ratio
    sum by (agent, gen_ai_token_type) (rate(gen_ai_client_token_usage_sum[5m]))
        ~ gen_ai_tokens_per_second

Durations are log-normal with the signal's 95th percentile; tokens per LLM
call are log-normal with the mean the token rate implies.  :func:`families`
returns per-step *increments* (counters, histogram buckets) and values
(gauges); the OpenMetrics writer and the live collector accumulate them.
A silent agent has no samples at all while it is silent (``present`` is
False), and its counters resume where they stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr

from sentinel.fleet.baseline import TOOL_CALLS_PER_TASK
from sentinel.fleet.model import Fleet
from sentinel.fleet.signals import TOOLS
from sentinel.series import Batch

TASK_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)
LLM_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
"""The OpenTelemetry GenAI advisory buckets for ``gen_ai.client.operation.duration``."""
TOKEN_BUCKETS = (1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0)
"""The OpenTelemetry GenAI advisory buckets for ``gen_ai.client.token.usage``."""
TASK_SIGMA, LLM_SIGMA, TOKEN_SIGMA = 0.5, 0.6, 0.8
"""Log-normal shape of task durations, LLM latencies and tokens per call."""
_Z95 = 1.6448536269514722
TIMEOUT_SHARE = 0.25
"""Share of failed tasks that are timeouts (the rest are errors)."""


@dataclass
class Family:
    """One metric family over a time range, series-major.

    counter: ``values`` are increments per step (S, T); gauge: values (S, T);
    histogram: ``values`` are bucket increments (S, B + 1, T), cumulative in
    ``le`` with the last bucket +Inf (= the count), ``sums`` (S, T) the sum increments.
    """

    name: str
    kind: Literal["counter", "gauge", "histogram"]
    help: str
    labels: list[dict[str, str]]
    values: np.ndarray
    present: np.ndarray
    buckets: tuple[float, ...] = ()
    sums: np.ndarray | None = None


def _lognormal_buckets(count: np.ndarray, median: np.ndarray, sigma: float, buckets: tuple[float, ...]) -> np.ndarray:
    """Expected cumulative bucket counts (S, B + 1, T) of ``count`` log-normal observations."""
    le = np.log(np.asarray(buckets))[None, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        cdf = ndtr((le - np.log(median)[:, None, :]) / sigma)
    cdf = np.concatenate([np.nan_to_num(cdf, nan=0.0), np.ones((cdf.shape[0], 1, cdf.shape[2]))], axis=1)
    return count[:, None, :] * cdf


def _zero(x: np.ndarray) -> np.ndarray:
    return np.nan_to_num(x, nan=0.0)


def families(fleet: Fleet, sig: dict[str, Batch], step: int) -> list[Family]:
    """The eight metric families of DESIGN §4 for signals ``sig`` sampled every ``step`` seconds."""
    agents = [dict(lb)["agent"] for lb in sig["agent_task_rate"].labels]
    present = ~np.isnan(sig["agent_task_rate"].values)  # (A, T); silent agents emit nothing
    rate = _zero(sig["agent_task_rate"].values)
    err = _zero(sig["agent_task_error_ratio"].values)
    tasks = rate * step
    out: list[Family] = []

    status = {"ok": 1.0 - err, "error": err * (1 - TIMEOUT_SHARE), "timeout": err * TIMEOUT_SHARE}
    out.append(Family(
        "agent_tasks", "counter", "Tasks finished, by outcome.",
        [{"agent": a, "status": s} for a in agents for s in status],
        np.stack([tasks * status[s] for s in status], axis=1).reshape(-1, tasks.shape[1]),
        np.repeat(present, len(status), axis=0),
    ))

    p95 = np.where(present, sig["agent_task_latency_p95"].values, 1.0)
    median = p95 / np.exp(_Z95 * TASK_SIGMA)
    out.append(Family(
        "agent_task_duration_seconds", "histogram", "Task wall time.", [{"agent": a} for a in agents],
        _lognormal_buckets(tasks, median, TASK_SIGMA, TASK_BUCKETS), present, TASK_BUCKETS,
        tasks * median * np.exp(TASK_SIGMA**2 / 2),
    ))

    out.append(Family(
        "agent_queue_depth", "gauge", "Tasks waiting in the agent's queue.", [{"agent": a} for a in agents],
        sig["agent_queue_depth"].values, present,
    ))

    tool_err = _zero(sig["agent_tool_error_ratio"].values).reshape(len(agents), len(TOOLS), -1)
    calls = np.stack([tasks * TOOL_CALLS_PER_TASK[t] for t in TOOLS], axis=1)  # (A, tools, T)
    tool_inc = np.stack([calls * (1.0 - tool_err), calls * tool_err], axis=2)  # (A, tools, 2, T)
    out.append(Family(
        "agent_tool_calls", "counter", "Tool invocations, by tool and outcome.",
        [{"agent": a, "tool": t, "status": s} for a in agents for t in TOOLS for s in ("ok", "error")],
        tool_inc.reshape(-1, tasks.shape[1]), np.repeat(present, 2 * len(TOOLS), axis=0),
    ))

    tokens = _zero(sig["gen_ai_tokens_per_second"].values).reshape(len(agents), 2, -1)  # input, output
    llm_calls = np.stack([fleet.llm_calls(fleet.agents.index(a), tokens[i, 0]) for i, a in enumerate(agents)]) * step
    llm_p95 = np.where(present, sig["gen_ai_latency_p95"].values, 1.0)
    llm_median = llm_p95 / np.exp(_Z95 * LLM_SIGMA)
    out.append(Family(
        "gen_ai_client_operation_duration_seconds", "histogram", "GenAI operation duration (LLM call latency).",
        [dict(lb) for lb in sig["gen_ai_latency_p95"].labels],
        _lognormal_buckets(llm_calls, llm_median, LLM_SIGMA, LLM_BUCKETS), present, LLM_BUCKETS,
        llm_calls * llm_median * np.exp(LLM_SIGMA**2 / 2),
    ))

    calls2 = np.repeat(llm_calls, 2, axis=0)
    tok = tokens.reshape(-1, tokens.shape[2]) * step  # (A*2, T) tokens per step
    with np.errstate(divide="ignore", invalid="ignore"):
        per_call = np.where(calls2 > 0, tok / calls2, 1.0)
    tok_median = np.maximum(per_call, 1.0) * np.exp(-(TOKEN_SIGMA**2) / 2)
    out.append(Family(
        "gen_ai_client_token_usage", "histogram", "Measures number of input and output tokens used per LLM call.",
        [dict(lb) for lb in sig["gen_ai_tokens_per_second"].labels],
        _lognormal_buckets(calls2, tok_median, TOKEN_SIGMA, TOKEN_BUCKETS), np.repeat(present, 2, axis=0),
        TOKEN_BUCKETS, tok,
    ))

    out.append(Family(
        "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", [{"agent": a} for a in agents],
        sig["process_resident_memory_bytes"].values, present,
    ))
    out.append(Family(
        "node_filesystem_avail_bytes", "gauge", "Filesystem space available to non-root users in bytes.",
        [dict(lb) for lb in sig["node_filesystem_avail_bytes"].labels],
        sig["node_filesystem_avail_bytes"].values, present,
    ))
    return out

