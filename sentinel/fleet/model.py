"""The simulated agent fleet: seeded, seasonal, with incidents and their ground truth.

>>> fleet = Fleet(agents=4, seed=1)
>>> day = fleet.signals(fleet.start, fleet.start + 86400)
>>> day["agent_tool_error_ratio"].values.shape  # 4 agents x 3 tools, 1440 minutes
(12, 1440)
>>> a, b, c = fleet.start, fleet.start + 3600, fleet.start + 7200
>>> whole, left, right = (fleet.signals(*r)["agent_queue_depth"] for r in [(a, c), (a, b), (b, c)])
>>> bool(np.array_equal(whole.values, np.hstack([left.values, right.values]), equal_nan=True))
True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from sentinel.fleet import random as rnd
from sentinel.fleet.baseline import LLM_CALLS_PER_TASK, TOOL_CALLS_PER_TASK, Agent, Baseline
from sentinel.fleet.effects import apply, resolve, resolve_draft
from sentinel.fleet.incidents import KINDS, SPECS, WEEK, Incident, affecting, draft_week, truth_mask
from sentinel.fleet.signals import SIGNALS, TOKEN_TYPES, TOOLS, agent_name, series_labels
from sentinel.fleet.templates import NEW_ERROR_TEMPLATES, TEMPLATES
from sentinel.series import Batch, Labels

DEFAULT_START = 1767571200
"""2026-01-05 00:00 UTC, a Monday: the default origin of the simulated weeks."""
BACKGROUND_ERRORS = sum(t.weight for t in TEMPLATES if t.level == "error" and t.cause == "background")
"""Error log lines/s an agent emits regardless of load."""


class Fleet:
    """N simulated agents; every output is a pure function of the seed and the time range.

    Incidents are scheduled per simulated week from ``start`` on (the time
    before ``start`` is clean, so detectors can warm up on it), about
    ``incident_rate`` per day and every kind at least once a week; pass
    ``incidents`` to replace the schedule with an explicit list (see
    :meth:`make_incident`).  Agents whose index is 3 mod 4 never get an
    incident (:attr:`clean_agents`), so false alarms can be measured on them.
    """

    def __init__(
        self,
        agents: int = 20,
        seed: int = 7,
        step: int = 60,
        start: int = DEFAULT_START,
        incident_rate: float = 1.0,
        incidents: Sequence[Incident] | None = None,
    ) -> None:
        if not isinstance(agents, int) or not 1 <= agents <= 10_000:
            raise ValueError(f"agents must be an integer in 1..10000, got {agents!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if not isinstance(step, int) or step <= 0:
            raise ValueError(f"step must be a positive integer number of seconds, got {step!r}")
        if not incident_rate >= 0:
            raise ValueError(f"incident_rate must be >= 0, got {incident_rate!r}")
        self.n_agents, self.seed, self.step, self.start = agents, int(seed), step, int(start)
        self.incident_rate = float(incident_rate)
        self.agents: list[str] = [agent_name(i) for i in range(agents)]
        self._index = {a: i for i, a in enumerate(self.agents)}
        self._traits = [Agent.draw(self.seed, i, a) for i, a in enumerate(self.agents)]
        self._base = [Baseline(self.seed, a) for a in self._traits]
        self.clean_agents: list[str] = [a for i, a in enumerate(self.agents) if i % 4 == 3]
        self._eligible = [i for i in range(agents) if i % 4 != 3] or list(range(agents))
        self._weeks: dict[int, list[Incident]] = {}
        self._labels = {name: tuple(series_labels(name, self.agents, list(range(agents)))) for name in SIGNALS}
        self._explicit = None if incidents is None else self._validate(incidents)

    # -- incidents -------------------------------------------------------------

    def _validate(self, incidents: Sequence[Incident]) -> tuple[Incident, ...]:
        out = sorted(incidents, key=lambda i: (i.start, i.agent))
        for inc in out:
            if not isinstance(inc, Incident):
                raise ValueError(f"incidents must be Incident objects, got {type(inc).__name__}")
            if inc.kind not in KINDS:
                raise ValueError(f"unknown incident kind {inc.kind!r}; known: {', '.join(KINDS)}")
            if inc.agent not in self._index:
                raise ValueError(f"incident on unknown agent {inc.agent!r} (fleet has {self.n_agents} agents)")
            if inc.end <= inc.start:
                raise ValueError(f"incident {inc.kind} on {inc.agent} ends before it starts")
        for a in {i.agent for i in out}:
            spans = [(i.start, i.end) for i in out if i.agent == a]
            if any(s2 < e1 for (_, e1), (s2, _) in itertools.pairwise(spans)):
                raise ValueError(f"incidents overlap on {a}")
        return tuple(out)

    def _week(self, w: int) -> list[Incident]:
        if w not in self._weeks:
            week_start = self.start + w * WEEK
            drafts = draft_week(self.seed, w, week_start, self._eligible, self.incident_rate, self.step)
            self._weeks[w] = [resolve_draft(d, self._traits[d.agent], self._base[d.agent], self.step) for d in drafts]
        return self._weeks[w]

    def incidents(self, start: int, end: int) -> list[Incident]:
        """Incidents overlapping ``[start, end)``, by start time (the ground truth)."""
        if self._explicit is not None:
            pool: Sequence[Incident] = self._explicit
        else:
            first = max(0, (start - self.start) // WEEK)
            last = (end - 1 - self.start) // WEEK
            pool = [inc for w in range(first, last + 1) for inc in self._week(w)]
        return [inc for inc in pool if inc.start < end and inc.end > start]

    def affecting(self, name: str, labels: Labels | Mapping[str, str], t: int) -> Incident | None:
        """The incident that changes series ``name{labels}`` at time ``t`` (None: the series is clean then)."""
        return affecting(self.incidents(t, t + 1), name, labels, t)

    def truth(self, name: str, batch: Batch) -> np.ndarray:
        """Boolean mask shaped like ``batch.values``: where an incident affects that series."""
        if not batch.n_steps:
            return np.zeros(batch.values.shape, dtype=bool)
        incs = self.incidents(int(batch.timestamps[0]), batch.end + 1)
        return truth_mask(incs, name, batch.labels, batch.timestamps)

    def make_incident(
        self, kind: str, agent: str, start: int, duration: int, magnitude: float | None = None, *,
        runway: int | None = None, tool: str | None = None, template: str | None = None,
    ) -> Incident:
        """An explicit incident with resolved ground truth (for ``Fleet(incidents=[...])``).

        ``magnitude`` defaults to the middle of the kind's usual range; for
        memory_leak / disk_fill give ``runway`` (seconds until exhaustion,
        default ``1.25 * duration``) instead.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown incident kind {kind!r}; known: {', '.join(KINDS)}")
        if agent not in self._index:
            raise ValueError(f"unknown agent {agent!r}")
        if duration <= 0:
            raise ValueError("duration must be positive")
        if tool is not None and tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}; known: {', '.join(TOOLS)}")
        ids = [t.id for t in NEW_ERROR_TEMPLATES]
        if template is not None and template not in ids:
            raise ValueError(f"unknown new-error template {template!r}; known: {', '.join(ids)}")
        if kind in ("memory_leak", "disk_fill"):
            magnitude = float(runway if runway is not None else 1.25 * duration)
        elif magnitude is None:
            magnitude = sum(SPECS[kind].magnitude) / 2
        choice = 0.5
        if tool is not None:
            choice = (TOOLS.index(tool) + 0.5) / len(TOOLS)
        elif template is not None:
            choice = (ids.index(template) + 0.5) / len(ids)
        i = self._index[agent]
        start = int(start) // self.step * self.step
        dur = -(-int(duration) // self.step) * self.step
        return resolve(kind, self._traits[i], self._base[i], start, dur, magnitude, choice, self.step)

    def with_incidents(self, incidents: Sequence[Incident]) -> Fleet:
        """The same fleet with an explicit incident list instead of the schedule."""
        return Fleet(self.n_agents, self.seed, self.step, self.start, self.incident_rate, incidents)

    # -- signals ---------------------------------------------------------------

    def cells(self, i: int, t: np.ndarray, incidents: Sequence[Incident]) -> dict[str, np.ndarray]:
        """Agent ``i``'s raw signal arrays (``name -> (variants, T)``) at cell start times ``t``.

        Also ``_silent`` (T,) bool, ``_new_errors`` / ``_error_mean`` (T,) error lines/s,
        ``_error_count`` (T,) error lines in the cell (the log view emits exactly these);
        silent cells are not yet NaN here (the log view needs to know they are silent, not missing).
        """
        b, cell = self._base[i], t // self.step
        ld = b.load(t)
        rate = b.task_rate(t, cell, ld)
        sig = {
            "agent_task_rate": rate[None].copy(),
            "agent_task_error_ratio": b.task_error_ratio(t, cell, ld)[None],
            "agent_task_latency_p95": b.task_latency_p95(t, cell, ld)[None],
            "agent_queue_depth": b.queue_depth(t, cell, ld)[None],
            "agent_tool_error_ratio": np.stack([b.tool_error_ratio(tool, cell) for tool in TOOLS]),
            "gen_ai_latency_p95": b.llm_latency_p95(t, cell, ld)[None],
            "gen_ai_tokens_per_second": np.stack([b.tokens_per_second(tt, rate, cell) for tt in TOKEN_TYPES]),
            "process_resident_memory_bytes": b.memory(t, cell, ld)[None],
            "node_filesystem_avail_bytes": b.disk_avail(t, cell)[None],
            "_silent": np.zeros(len(t), dtype=bool),
            "_new_errors": np.zeros(len(t)),
        }
        for inc in incidents:
            if inc.agent == self.agents[i]:
                apply(inc, sig, t, self.step)
        rate = sig["agent_task_rate"][0]
        tool_calls = np.array([TOOL_CALLS_PER_TASK[x] for x in TOOLS])[:, None] * rate
        sig["_error_mean"] = (rate * sig["agent_task_error_ratio"][0]
                              + (tool_calls * sig["agent_tool_error_ratio"]).sum(axis=0)
                              + sig["_new_errors"] + BACKGROUND_ERRORS)
        count = rnd.poisson(rnd.key(self.seed, i, "errlines"), cell, sig["_error_mean"] * self.step)
        sig["_error_count"] = count
        sig["agent_log_error_rate"] = (count / self.step)[None]
        return sig

    def llm_calls(self, i: int, tokens_in: np.ndarray) -> np.ndarray:
        """LLM calls/s implied by input tokens/s (a runaway loop makes more calls, not bigger ones)."""
        return tokens_in / (self._traits[i].tokens_per_task["input"] / LLM_CALLS_PER_TASK)

    def signals(
        self, start: int, end: int, step: int | None = None, names: Sequence[str] | None = None
    ) -> dict[str, Batch]:
        """Every signal (or ``names``) on the grid ``start, start + step, ... < end``.

        ``step`` defaults to the fleet's; a point takes the value of the fleet
        cell it falls in, so any grid and any split of a range agree exactly.
        Labels carry ``agent`` and the signal's own labels (no ``__name__``);
        NaN marks a silent agent.
        """
        step = self.step if step is None else int(step)
        if step <= 0:
            raise ValueError(f"step must be positive, got {step}")
        wanted = list(SIGNALS) if names is None else list(names)
        unknown = [n for n in wanted if n not in SIGNALS]
        if unknown:
            raise ValueError(f"unknown signal(s) {', '.join(unknown)}; known: {', '.join(SIGNALS)}")
        ts = np.arange(int(start), max(int(start), int(end)), step, dtype=np.int64)
        t = ts - ts % self.step
        incs = self.incidents(int(t[0]), int(t[-1]) + self.step) if len(t) else []
        rows: dict[str, list[np.ndarray]] = {n: [] for n in wanted}
        for i in range(self.n_agents):
            sig = self.cells(i, t, incs)
            for n in wanted:
                v = sig[n]
                rows[n].append(np.where(sig["_silent"], np.nan, v) if sig["_silent"].any() else v)
        return {
            n: Batch(ts, np.concatenate(rows[n], axis=0).astype(np.float64), self._labels[n], step)
            for n in wanted
        }

    def logs(self, start: int, end: int) -> Iterator[dict[str, Any]]:
        """ECS log records for ``[start, end)`` in time order (see :mod:`sentinel.fleet.logs`)."""
        from sentinel.fleet.logs import logs

        return logs(self, start, end)

    def labelled_logs(self, start: int, end: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(ground-truth template id, ECS record)`` pairs for ``[start, end)``."""
        from sentinel.fleet.logs import labelled_logs

        return labelled_logs(self, start, end)

    def labels(self, name: str) -> tuple[Labels, ...]:
        """The series of signal ``name`` (Batch row order)."""
        return self._labels[name]

    def agent(self, name: str) -> Agent:
        """An agent's fixed traits (scale, model, disk capacity ...)."""
        return self._traits[self._index[name]]

    def __repr__(self) -> str:
        return f"Fleet(agents={self.n_agents}, seed={self.seed}, step={self.step}, start={self.start})"

