"""A source whose agents churn: the retention tests and ``benchmarks/churn.py`` share it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sentinel.config import WatchConfig
from sentinel.series import Batch
from sentinel.sources.base import grid

Alive = Callable[[str, int], bool]
"""``alive(agent, t)``: whether ``agent`` reports at ``t``."""


def value(agent: str, ts: np.ndarray) -> np.ndarray:
    """A daily cycle plus deterministic noise, a function of the agent and the time only (so a series' values do
    not depend on which other series a fetch returns)."""
    seed = sum(ord(c) * 31**i for i, c in enumerate(agent)) % 9973
    noise = np.modf(np.sin(ts * 12.9898 + seed * 78.233) * 43758.5453)[0]
    return 100.0 + 10.0 * np.sin(2 * np.pi * ts / 86400) + 2.0 * noise + seed % 7


class ChurnSource:
    """Serves ``agents`` (a function of the fetch's ``start``) whose points are kept where ``alive`` says."""

    def __init__(self, agents: Callable[[int], list[str]], alive: Alive | None = None, silent: bool = False) -> None:
        self.agents = agents
        self.alive = alive
        self.silent = silent  # also return series without a value in the range (all NaN), as some sources do

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch:
        step = watch.sample_step
        first, stop = grid(start, end, step)
        ts = np.arange(first, stop, step, dtype=np.int64)
        names = self.agents(start)
        values = np.array([value(a, ts) for a in names]).reshape(len(names), len(ts))
        if self.alive is not None:
            mask = np.array([[self.alive(a, int(t)) for t in ts] for a in names], dtype=bool).reshape(values.shape)
            values = np.where(mask, values, np.nan)
        keep = ~np.isnan(values).all(axis=1) | self.silent  # else a series with no sample in the range is absent
        labels = [{"agent": a} for a, k in zip(names, keep, strict=True) if k]
        return Batch.from_rows(labels, ts, values[keep], step=step)

    def close(self) -> None:
        """Nothing to release."""


def churning(stable: int, per_cycle: int, cycle: int) -> Callable[[int], list[str]]:
    """``stable`` agents always there, plus ``per_cycle`` new ones in every ``cycle`` seconds of data."""
    def agents(start: int) -> list[str]:
        k = start // cycle
        return [f"s{i}" for i in range(stable)] + [f"c{k}_{i}" for i in range(per_cycle)]
    return agents
