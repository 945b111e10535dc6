"""The log message templates an agent emits, with ground-truth ids.

Each template has a cause that sets its volume: ``task`` lines follow the
task rate, ``task_error`` lines the failed tasks, ``tool:X`` /
``tool_error:X`` the calls and failures of tool X, ``llm`` the LLM calls,
``background`` a constant rate per second, and ``new`` -- the templates of
:data:`NEW_ERROR_TEMPLATES` -- appear only during a new_error_pattern
incident, never before.  Within a cause the weights are lines per event
(for the error causes they sum to 1: every failure logs one error line).
Variable parts (``{task_id}``, ``{ms}``, ``{ip}`` ...) are filled by
:mod:`sentinel.fleet.logs`.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Template:
    id: str
    level: str
    dataset: str
    cause: str
    weight: float
    fmt: str
    tool: str | None = None
    fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(self.fmt) if f))
        object.__setattr__(self, "fields", names)


def _t(id_: str, level: str, dataset: str, cause: str, weight: float, fmt: str) -> Template:
    tool = cause.split(":", 1)[1] if ":" in cause else None
    return Template(id_, level, dataset, cause, weight, fmt, tool)


TEMPLATES: tuple[Template, ...] = (
    _t("T01", "info", "agent.task", "task", 0.3, "task {task_id} started: {n} steps planned"),
    _t("T02", "info", "agent.task", "task", 0.3, "task {task_id} completed in {ms} ms"),
    _t("T03", "info", "agent.task", "task", 0.1, "task {task_id} picked up from queue after {ms} ms wait"),
    _t("T04", "info", "agent.task", "task", 0.1, "loaded memory context for session {uuid} ({n} items)"),
    _t("T05", "info", "agent.task", "task", 0.1, "user {email} submitted task {task_id}"),
    _t("T06", "info", "agent.task", "task", 0.05, "wrote artifact {path} ({bytes} bytes)"),
    _t("T07", "info", "agent.tool", "tool:search", 0.05, "tool search query returned {n} results in {ms} ms"),
    _t("T08", "info", "agent.tool", "tool:code_exec", 0.05,
       "tool code_exec sandbox {uuid} exited with code 0 after {ms} ms"),
    _t("T09", "info", "agent.tool", "tool:browser", 0.05, "tool browser fetched {url} status 200 in {ms} ms"),
    _t("T10", "info", "agent.llm", "llm", 0.05,
       "LLM call to {model} finished: {n} input tokens, {tokens} output tokens in {ms} ms"),
    _t("T11", "info", "agent.llm", "llm", 0.02, "prompt cache hit for session {uuid}"),
    _t("T12", "warn", "agent.task", "task", 0.03, "task {task_id} retrying step {n} after transient error"),
    _t("T13", "warn", "agent.llm", "llm", 0.005, "LLM call to {model} rate limited, backing off {secs}s"),
    _t("T14", "warn", "agent.tool", "tool:browser", 0.01, "tool browser slow response from {url}: {ms} ms"),
    _t("T15", "warn", "agent.task", "task", 0.005, "queue depth {n} above soft limit"),
    _t("T16", "warn", "agent.task", "task", 0.01,
       "context window {pct}% full for task {task_id}, truncating history"),
    _t("T17", "info", "agent.runtime", "background", 1 / 30, "heartbeat ok from {ip}:{port}"),
    _t("T18", "info", "agent.runtime", "background", 1 / 600, "garbage collection freed {mb} MiB in {ms} ms"),
    _t("T19", "info", "agent.runtime", "background", 1 / 1800, "connection pool to {ip}:{port} resized to {n}"),
    _t("T20", "info", "agent.runtime", "background", 1 / 7200, "config reloaded from {path}"),
    _t("T21", "info", "agent.runtime", "background", 1 / 60, "metrics flushed: {n} series"),
    _t("T22", "error", "agent.task", "task_error", 0.35,
       "task {task_id} failed: step {n} raised ValueError: unexpected tool output"),
    _t("T23", "error", "agent.task", "task_error", 0.25, "task {task_id} timed out after {secs}s"),
    _t("T24", "error", "agent.task", "task_error", 0.25,
       "task {task_id} aborted: LLM returned malformed JSON at position {n}"),
    _t("T25", "error", "agent.task", "task_error", 0.15, "task {task_id} failed: permission denied writing {path}"),
    _t("T26", "error", "agent.tool", "tool_error:search", 1.0,
       "tool search failed: upstream {ip} returned HTTP {code}"),
    _t("T27", "error", "agent.tool", "tool_error:code_exec", 0.6,
       "tool code_exec sandbox {uuid} crashed with exit code {n}"),
    _t("T28", "error", "agent.tool", "tool_error:code_exec", 0.4,
       "tool code_exec timed out after {ms} ms in sandbox {uuid}"),
    _t("T29", "error", "agent.tool", "tool_error:browser", 1.0,
       "tool browser navigation to {url} failed: net::ERR_CONNECTION_RESET"),
    _t("T30", "error", "agent.runtime", "background", 1 / 3600,
       "failed to export telemetry batch to {ip}:{port}: connection refused"),
)
"""The everyday templates (T01..T30)."""

NEW_ERROR_TEMPLATES: tuple[Template, ...] = (
    _t("N01", "error", "agent.runtime", "new", 1.0,
       "vector store {ip}:{port} rejected upsert: dimension mismatch {n} != 1536"),
    _t("N02", "error", "agent.runtime", "new", 1.0, "checkpoint {uuid} corrupted: checksum mismatch at offset {bytes}"),
    _t("N03", "error", "agent.runtime", "new", 1.0, "credential for {email} expired; refresh token revoked"),
    _t("N04", "error", "agent.task", "new", 1.0, "planner produced cyclic plan for task {task_id} (depth {n})"),
    _t("N05", "error", "agent.tool", "new", 1.0, "sandbox image pull failed for {path}: manifest unknown"),
    _t("N06", "error", "agent.llm", "new", 1.0, "tokenizer for {model} raised UnicodeDecodeError at byte {n}"),
    _t("N07", "error", "agent.task", "new", 1.0,
       "guardrail blocked response for task {task_id}: policy {code} violated"),
    _t("N08", "error", "agent.runtime", "new", 1.0, "deadlock detected between workers {n} and {port} on lock {uuid}"),
)
"""Error templates that exist only during new_error_pattern incidents (N01..N08)."""

ALL_TEMPLATES: dict[str, Template] = {t.id: t for t in (*TEMPLATES, *NEW_ERROR_TEMPLATES)}
