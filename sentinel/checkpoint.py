"""Watch checkpoints: model state + policy state + the cursor they belong to, written atomically.

A restart must neither re-learn from scratch nor lose or repeat an alert
episode.  So a checkpoint holds, for one watch, the detector's learned state,
the policy's alert state (firing, pending, absent, since-when per series)
and the *cursor* (last processed sample) both correspond to.  On start the
daemon restores them and replays from that cursor: the replay re-derives the
same transitions (the outbox ignores episodes it already holds) and the
model catches up on the data it missed.

Layout under ``models_dir/<watch>/``: ``detector-<seq>.*`` and
``policy-<seq>.npz`` are written first, then ``checkpoint.json`` (the
pointer) is replaced atomically (write, fsync, rename); older files are
removed last.  A crash at any point leaves the previous complete checkpoint.

The detector is saved with :mod:`sentinel.detect.persist` (no pickle; its
model card sits next to it).
``fingerprint`` ties a checkpoint to the watch's query, step and detector:
a changed watch starts fresh instead of loading state of another model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentinel.alerting.policy import Policy
from sentinel.config import WatchConfig
from sentinel.detect import persist
from sentinel.detect.base import OnlineDetector
from sentinel.series import SeriesIndex, labels_key

log = logging.getLogger(__name__)
POINTER = "checkpoint.json"


def fingerprint(watch: WatchConfig) -> str:
    """What makes learned state reusable: query, step and detector (not the alert policy).

    >>> w = WatchConfig(name="w", query="up", every="1m")
    >>> fingerprint(w) == fingerprint(w.model_copy(update={"alert": w.alert.model_copy(update={"threshold": 0.9})}))
    True
    """
    doc = {
        "query": watch.query, "logs": watch.logs.model_dump() if watch.logs else None, "step": watch.sample_step,
        "detector": watch.detector.model_dump() if watch.detector else None,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _save_detector(det: OnlineDetector, path: Path, watch: WatchConfig, cursor: int) -> str:
    target = path.with_suffix(".npz")
    persist.save(det, target, watch=watch.name, trained_to=cursor)
    return target.name


def _load_detector(path: Path) -> OnlineDetector:
    det = persist.load(path)
    if not isinstance(det, OnlineDetector):
        raise ValueError(f"{path.name} does not hold an online detector")
    return det


def _save_policy(policy: Policy, path: Path) -> None:
    keys = json.dumps([list(map(list, k)) for k in policy.index_.keys])
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, __keys__=np.array(keys), **policy.state_)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _load_policy(policy: Policy, path: Path) -> None:
    with np.load(path, allow_pickle=False) as z:
        keys = [labels_key(tuple(tuple(kv) for kv in k)) for k in json.loads(str(z["__keys__"]))]
        state = {k: z[k] for k in z.files if k != "__keys__"}
    fresh = policy._init_state(len(keys))
    if set(state) != set(fresh) or any(len(v) != len(keys) for v in state.values()):
        raise ValueError(f"{path.name} does not match this version's policy state")
    policy.index_ = SeriesIndex(keys)
    policy.state_ = {k: state[k].astype(fresh[k].dtype) for k in fresh}


@dataclass
class Restored:
    cursor: int
    detector: OnlineDetector
    saved_at: float


def save(directory: Path, watch: WatchConfig, cursor: int, detector: OnlineDetector, policy: Policy) -> None:
    """Write a complete checkpoint of ``watch`` at ``cursor`` (see the module docstring)."""
    directory.mkdir(parents=True, exist_ok=True)
    seq = time.time_ns()
    det_name = _save_detector(detector, directory / f"detector-{seq}", watch, cursor)
    pol_name = f"policy-{seq}.npz"
    _save_policy(policy, directory / pol_name)
    pointer = {"cursor": int(cursor), "saved_at": time.time(), "fingerprint": fingerprint(watch),
               "detector": det_name, "policy": pol_name}
    _atomic_write(directory / POINTER, json.dumps(pointer).encode())
    for p in directory.iterdir():
        current = p.name.startswith((f"detector-{seq}.", f"policy-{seq}.")) or p.name == POINTER
        if not current and p.name.startswith(("detector-", "policy-", ".")):
            p.unlink(missing_ok=True)


def load(directory: Path, watch: WatchConfig, policy: Policy) -> Restored | None:
    """Restore ``policy`` in place and return the detector and cursor; None when there is no
    usable checkpoint (missing, made for a different query/step/detector, or unreadable)."""
    pointer_path = directory / POINTER
    if not pointer_path.exists():
        return None
    try:
        pointer = json.loads(pointer_path.read_text())
        if pointer.get("fingerprint") != fingerprint(watch):
            log.warning("watch %s: checkpoint was made for a different query/step/detector; starting fresh",
                        watch.name)
            return None
        detector = _load_detector(directory / pointer["detector"])
        _load_policy(policy, directory / pointer["policy"])
        return Restored(int(pointer["cursor"]), detector, float(pointer["saved_at"]))
    except (OSError, ValueError, KeyError, EOFError, persist.CheckpointError) as exc:
        log.warning("watch %s: checkpoint unreadable (%s); starting fresh", watch.name, exc)
        return None
