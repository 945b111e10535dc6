"""Simulated history as an OpenMetrics file for ``promtool tsdb create-blocks-from openmetrics``.

The file holds every metric family of :mod:`sentinel.fleet.metrics` with a
timestamp (seconds) on every sample: HELP and TYPE lines, counters as
``*_total``, classic histograms as ``_bucket`` / ``_count`` / ``_sum``, one
metric family after another (OpenMetrics forbids interleaving them), points
in time order within each series, and ``# EOF`` last.  Counters start at 0
at ``start`` -- as if every agent process started then -- so ``rate()``
over the backfilled history recovers the signals.  Text is built one series
at a time and written as it goes.

>>> import tempfile, os
>>> from sentinel.fleet import Fleet
>>> path = os.path.join(tempfile.mkdtemp(), "h.om")
>>> n = write_openmetrics(Fleet(agents=1), path, 1767571200, 1767571200 + 120)
>>> lines = open(path).read().splitlines()
>>> lines[:2], lines[-1], n  # 77 samples per agent and step
(['# HELP agent_tasks Tasks finished, by outcome.', '# TYPE agent_tasks counter'], '# EOF', 154)
>>> lines[2]
'agent_tasks_total{agent="agent-00",status="ok"} 32 1767571200'
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from prometheus_client.utils import floatToGoString

from sentinel.fleet.metrics import Family, families
from sentinel.fleet.model import Fleet


def _label_text(labels: dict[str, str], extra: str = "") -> str:
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    if extra:
        body = f"{body},{extra}" if body else extra
    return "{" + body + "}" if body else ""


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(values: np.ndarray, integer: bool) -> list[str]:
    if integer:
        return [str(v) for v in values.astype(np.int64).tolist()]
    return [f"{v:.15g}" for v in values.tolist()]


def family_text(fam: Family, ts: np.ndarray) -> Iterator[str]:
    """OpenMetrics text of one family, one chunk per series."""
    sample = f"{fam.name}_total" if fam.kind == "counter" else fam.name
    yield f"# HELP {fam.name} {fam.help}\n# TYPE {fam.name} {fam.kind}\n"
    for s, labels in enumerate(fam.labels):
        keep = fam.present[s]
        if not keep.any():
            continue
        t = [str(x) for x in ts[keep].tolist()]
        if fam.kind == "histogram":
            assert fam.sums is not None
            cum = np.floor(np.cumsum(fam.values[s], axis=-1))[:, keep]
            les = ['le="' + floatToGoString(le) + '"' for le in (*fam.buckets, float("inf"))]
            names = [f"{fam.name}_bucket{_label_text(labels, le)}" for le in les]
            names += [f"{fam.name}_count{_label_text(labels)}", f"{fam.name}_sum{_label_text(labels)}"]
            rows = [*(_fmt(c, True) for c in cum), _fmt(cum[-1], True), _fmt(np.cumsum(fam.sums[s])[keep], False)]
            per_point = ([f"{n} {v} {tt}\n" for n, v in zip(names, vals, strict=True)]
                         for *vals, tt in zip(*rows, t, strict=True))
            yield "".join(itertools.chain.from_iterable(per_point))
        else:
            name = f"{sample}{_label_text(labels)}"
            vals = np.floor(np.cumsum(fam.values[s]))[keep] if fam.kind == "counter" else fam.values[s][keep]
            yield "".join(f"{name} {v} {tt}\n" for v, tt in zip(_fmt(vals, fam.kind == "counter"), t, strict=True))


def write_openmetrics(fleet: Fleet, path: str | Path, start: int, end: int, step: int | None = None) -> int:
    """Write the fleet's metrics for ``[start, end)`` every ``step`` seconds; returns the sample count."""
    step = fleet.step if step is None else int(step)
    if step <= 0 or end <= start:
        raise ValueError(f"need start < end and a positive step, got [{start}, {end}) step {step}")
    sig = fleet.signals(start, end, step)
    ts = sig["agent_task_rate"].timestamps
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for fam in families(fleet, sig, step):
            for chunk in family_text(fam, ts):
                if not chunk.startswith("#"):
                    n += chunk.count("\n")
                fh.write(chunk)
        fh.write("# EOF\n")
    return n
