"""A policy checkpoint as an older sentinel wrote it: the upgrade tests of every policy condition share this."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from sentinel import checkpoint
from sentinel.config import WatchConfig
from sentinel.fleet import Fleet
from sentinel.sources.simulated import SimulatedSource
from sentinel.watch import WatchRunner


def restored_without(tmp_path: Path, w: WatchConfig, keys: Iterable[str]) -> WatchRunner:
    """Run ``w`` a day, checkpoint it, drop the policy state ``keys`` (a version without them) and restore.

    Asserts the restore succeeds at the same cursor; returns the restored runner.
    """
    fleet = Fleet(agents=2, seed=3, incident_rate=0.0)
    src = SimulatedSource(fleet, registry=CollectorRegistry())
    runner = WatchRunner(w, src, warmup=86400)
    runner.cycle(fleet.start + 86400)
    checkpoint.save(tmp_path, runner)
    [state] = tmp_path.glob("state-*.npz")
    dropped = set(keys)
    with np.load(state) as z:
        older = {k: z[k] for k in z.files if k.removeprefix("policy/") not in dropped}
    np.savez(state, **older)
    fresh = WatchRunner(w, src, warmup=86400)
    assert checkpoint.restore(tmp_path, fresh) == (runner.cursor, "restored")
    return fresh
