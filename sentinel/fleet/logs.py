"""ECS log records of the simulated fleet, with the ground-truth template of every line.

Volume follows the signals: per agent and cell, the number of error lines is
exactly the count behind ``agent_log_error_rate`` (failed tasks, failed tool
calls -- so a tool_error_burst is an error burst here too -- the rare
background error, and during a new_error_pattern incident the incident's
never-seen template); other lines follow tasks, tool calls, LLM calls and a
background rate (:mod:`sentinel.fleet.templates`).  A silent agent logs
nothing.  Counts are Poisson draws and every line's template, timestamp and
variable parts come from counter-based randomness, so a range yields the same
lines however it is split.  Records come in time order.

Besides the records, the generator is public for callers that need lines
before text (:mod:`sentinel.sources.simulated_logs` counts and samples them):
:data:`LINE_TEMPLATES`, :func:`agent_lines`, :func:`render_messages` and :func:`render_lines`.

>>> from sentinel.fleet import Fleet
>>> f = Fleet(agents=2)
>>> recs = list(f.logs(f.start + 12 * 3600, f.start + 12 * 3600 + 60))
>>> sorted(recs[0])[:4]
['@timestamp', 'event.dataset', 'log.level', 'message']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sentinel.fleet import random as rnd
from sentinel.fleet.baseline import TOOL_CALLS_PER_TASK
from sentinel.fleet.logfields import make_field, trace_ids
from sentinel.fleet.templates import NEW_ERROR_TEMPLATES, TEMPLATES

if TYPE_CHECKING:
    from sentinel.fleet.model import Fleet

CHUNK_CELLS = 60
"""Cells generated (and sorted) together: an hour at a 1-minute step."""
MAX_LINES_PER_CELL = 8191
_ERR = [t for t in TEMPLATES if t.level == "error"]
_OTHER = [t for t in TEMPLATES if t.level != "error"]
LINE_TEMPLATES = (*TEMPLATES, *NEW_ERROR_TEMPLATES)
"""Every line template; a line's *template number* (what :func:`agent_lines` returns) indexes this."""
_NUMBER = {t.id: n for n, t in enumerate(LINE_TEMPLATES)}


def _cause_means(fleet: Fleet, i: int, sig: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Events per second behind each template cause, per cell."""
    rate = sig["agent_task_rate"][0]
    out = {"task": rate, "task_error": rate * sig["agent_task_error_ratio"][0], "background": np.ones_like(rate),
           "llm": fleet.llm_calls(i, sig["gen_ai_tokens_per_second"][0]), "new": sig["_new_errors"]}
    for row, (tool, per_task) in enumerate(TOOL_CALLS_PER_TASK.items()):
        ratio = sig["agent_tool_error_ratio"][row]
        out[f"tool:{tool}"] = rate * per_task * (1.0 - ratio)
        out[f"tool_error:{tool}"] = rate * per_task * ratio
    return out


def _choose(means: np.ndarray, counts: np.ndarray, k: int, counter: np.ndarray) -> np.ndarray:
    """Template column for each line, drawn from the per-cell shares of ``means`` (cells x templates)."""
    total = means.sum(axis=1, keepdims=True)
    cum = np.cumsum(means / np.where(total > 0, total, 1.0), axis=1)
    cell_of_line = np.repeat(np.arange(len(counts)), counts)
    u = rnd.uniform(k, counter)
    return np.minimum((u[:, None] >= cum[cell_of_line]).sum(axis=1), means.shape[1] - 1)


def agent_lines(
    fleet: Fleet, i: int, t: np.ndarray, incs: list, errors: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(timestamps ms, template numbers into :data:`LINE_TEMPLATES`, line counters) of agent ``i`` in cells ``t``.

    ``incs`` are the fleet's incidents overlapping the cells.  Lines come unsorted and without text: a caller
    that needs only some of them (a sample) renders just those with :func:`render_messages`, passing the
    same counters.  ``errors``: True gives only the error lines, False only the others, None both (error
    lines first); each part is drawn from its own random streams, so it is the same lines either way --
    an error-log watch need not generate the ~14x more info lines.
    """
    sig = fleet.cells(i, t, incs)
    step, cell = fleet.step, t // fleet.step
    quiet = sig["_silent"]
    causes = _cause_means(fleet, i, sig)
    new_tpl = np.full(len(t), -1)
    for inc in incs:
        if inc.agent == fleet.agents[i] and inc.kind == "new_error_pattern":
            new_tpl[(t >= inc.start) & (t < inc.end)] = _NUMBER[inc.template]
    ts_parts, tpl_parts, ctr_parts = [], [], []
    for is_error, templates in ((True, _ERR), (False, _OTHER)):
        if errors is not None and is_error != errors:
            continue
        means = np.stack([tp.weight * causes[tp.cause] for tp in templates], axis=1)
        if is_error:
            means = np.concatenate([means, causes["new"][:, None]], axis=1)
            count = sig["_error_count"]
        else:
            count = rnd.poisson(rnd.key(fleet.seed, i, "lines"), cell, means.sum(axis=1) * step)
        count = np.where(quiet, 0, np.minimum(count, MAX_LINES_PER_CELL))
        if not count.any():
            continue
        j = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        counter = ((np.repeat(cell, count) << 27) | (i << 13) | j) * 2 + int(is_error)
        col = _choose(means, count, rnd.key(fleet.seed, i, "tpl"), counter)
        numbers = np.array([_NUMBER[tp.id] for tp in templates] + [-1])[col]
        if is_error:
            numbers = np.where(col == len(templates), np.repeat(new_tpl, count), numbers)
        off = np.floor(rnd.uniform(rnd.key(fleet.seed, i, "ts"), counter) * step * 1000).astype(np.int64)
        ts_parts.append(np.repeat(t, count) * 1000 + off)
        tpl_parts.append(numbers)
        ctr_parts.append(counter)
    if not ts_parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(ts_parts), np.concatenate(tpl_parts), np.concatenate(ctr_parts)


def render_messages(fleet: Fleet, i: int, numbers: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Messages (object array) for lines of agent ``i`` given by template number and counter (as
    :func:`agent_lines` returned them)."""
    return render_lines(fleet, np.full(len(numbers), i), numbers, counter)


def render_lines(fleet: Fleet, agents: np.ndarray, numbers: np.ndarray, counter: np.ndarray) -> np.ndarray:
    """Messages for lines of several agents (``agents``: the agent index of each line), formatted template
    by template for all of them at once: a sample of a few lines per agent and template costs a call per
    template and field, not per agent too.  Each line's text is what :func:`render_messages` gives it."""
    out = np.empty(len(numbers), dtype=object)
    ids, inverse = np.unique(agents, return_inverse=True)
    keys = np.array([rnd.key(fleet.seed, i, "fields") for i in ids.tolist()], dtype=np.uint64)[inverse]
    models = np.array([fleet.agent(fleet.agents[i]).model for i in ids.tolist()], dtype=object)[inverse]
    for num in np.unique(numbers).tolist():
        tp = LINE_TEMPLATES[num]
        rows = np.flatnonzero(numbers == num)
        cols = [make_field(f, keys[rows], counter[rows], models[rows]) for f in tp.fields]
        positional = tp.fmt.format(**{f: "{" + str(n) + "}" for n, f in enumerate(tp.fields)})
        out[rows] = [positional.format(*v) for v in zip(*cols, strict=True)] if cols else [tp.fmt] * len(rows)
    return out


def labelled_logs(fleet: Fleet, start: int, end: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(template id, ECS record)`` for every line in ``[start, end)``, in time order."""
    step = fleet.step
    first = int(start) - int(start) % step
    for c0 in range(first, int(end), CHUNK_CELLS * step):
        t = np.arange(c0, min(c0 + CHUNK_CELLS * step, int(end)), step, dtype=np.int64)
        incs = fleet.incidents(int(t[0]), int(t[-1]) + step)
        parts = []
        for i in range(fleet.n_agents):
            ts, numbers, ctr = agent_lines(fleet, i, t, incs)
            if len(ts):
                traces = np.array(trace_ids(rnd.key(fleet.seed, i, "trace"), ctr), dtype=object)
                parts.append((ts, numbers, np.full(len(ts), i), render_messages(fleet, i, numbers, ctr), traces))
        if not parts:
            continue
        ts, numbers, agent, msgs, traces = (np.concatenate(cols) for cols in zip(*parts, strict=True))
        order = np.argsort(ts, kind="stable")
        order = order[(ts[order] >= int(start) * 1000) & (ts[order] < int(end) * 1000)]
        stamps = np.datetime_as_string(ts[order].astype("datetime64[ms]"), unit="ms").tolist()
        names = fleet.agents
        for stamp, num, a, msg, tr in zip(stamps, numbers[order].tolist(), agent[order].tolist(),
                                          msgs[order].tolist(), traces[order].tolist(), strict=True):
            tp = LINE_TEMPLATES[num]
            rec = {"@timestamp": stamp + "Z", "log.level": tp.level, "service.name": names[a], "message": msg,
                   "event.dataset": tp.dataset, "trace.id": tr}
            if tp.tool:
                rec["labels.tool"] = tp.tool
            yield tp.id, rec


def logs(fleet: Fleet, start: int, end: int) -> Iterator[dict[str, Any]]:
    """ECS records for ``[start, end)`` in time order (see :func:`labelled_logs` for ground truth)."""
    for _, rec in labelled_logs(fleet, start, end):
        yield rec


def write_ndjson(fleet: Fleet, path: str | Path, start: int, end: int, truth: str | Path | None = None) -> int:
    """One ECS JSON record per line; ``truth`` (optional) gets the template id of each line. Returns lines."""
    return _write(fleet, path, start, end, truth, lambda r: json.dumps(r, separators=(",", ":")))


def write_plain(fleet: Fleet, path: str | Path, start: int, end: int, truth: str | Path | None = None) -> int:
    """Classic text log lines ``TIMESTAMP LEVEL [agent] message``; ``truth`` as for :func:`write_ndjson`."""
    return _write(fleet, path, start, end, truth,
                  lambda r: f"{r['@timestamp']} {r['log.level'].upper()} [{r['service.name']}] {r['message']}")


def _write(fleet: Fleet, path: str | Path, start: int, end: int, truth: str | Path | None,
           render: Callable[[dict[str, Any]], str]) -> int:
    n = 0
    with ExitStack() as stack:
        fh = stack.enter_context(open(path, "w", encoding="utf-8"))
        th = stack.enter_context(open(truth, "w", encoding="utf-8")) if truth is not None else None
        for tid, rec in labelled_logs(fleet, start, end):
            fh.write(render(rec) + "\n")
            if th is not None:
                th.write(tid + "\n")
            n += 1
    return n
