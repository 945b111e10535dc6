"""Watch checkpoints: model state + policy state + the cursor they belong to, written atomically.

A restart must neither re-learn from scratch nor lose or repeat an alert
episode.  So a checkpoint holds, for one watch, the detector's learned state,
the policy's alert state (firing, pending, absent, since-when per series),
the forecast policy's state and rolling history, when each series last had
a value (:mod:`sentinel.retention`; a checkpoint from before that counts
every series it holds as seen at its cursor, so a restored watch forgets
them a ``series_retention`` later), and the *cursor* (last processed sample)
they all correspond to.  On start the daemon restores them and replays from
that cursor: the replay re-derives the same transitions (the outbox ignores
episodes it already holds) and the model catches up on the data it missed.

Layout under ``models_dir/<watch>/``: ``detector-<seq>.*`` (the model, with
its card) and ``state-<seq>.npz`` (alert policy, forecast policy and the
forecast's rolling history) are written first, then ``checkpoint.json`` (the
pointer) is replaced atomically (:mod:`sentinel.atomic`); older files are
removed last.  A crash at any point leaves the previous complete checkpoint.

The detector is saved with :mod:`sentinel.detect.persist` (no pickle; its
model card sits next to it).

``fingerprint`` ties a checkpoint to the watch's query, step and detector
config *and* to the structure of the detector the runner builds from them
(classes and constructor parameters, wrappers included: see
:func:`sentinel.detect.codec.structure`).  The config alone is not enough: a
log watch's detector gets wrappers the config never names (the count floor,
:mod:`sentinel.detect.counts`), so a checkpoint written before such a wrapper
existed would otherwise restore a detector without it, silently and for good.

:func:`restore` says how a restore went; the daemon counts it in
``sentinel_watch_checkpoint_restores_total{watch, result}``:

- ``restored``: the checkpoint fits;
- ``params_changed``: same config and wrapper chain, but this version's
  detector has other parameters (an upgrade changed a default).  The learned
  state is carried into the new parameters when it fits them (same state
  keys, dtypes and per-series shapes once the new version's additions are
  filled in: :func:`sentinel.detect.codec.adopt`), so an upgrade does not
  throw away weeks of learned seasonality;
- ``structure_changed``: this version builds the detector differently (a
  wrapper was added, or the state's layout changed); the warning names both
  wrapper chains;
- ``config_changed``: query, step or detector config changed;
- ``unreadable``: corrupt files;
- ``missing``: no checkpoint yet (a first start).

In the last four cases the watch **re-learns from scratch** (its warm-up
replay, as on a first start; the slot's dedupe and reconcile keep alert
episodes whole), with one warning except for ``missing``.

Checkpoints written before the structure was fingerprinted (no ``structure``
in the pointer) are treated the same way: restored if the detector they
hold has the structure this version builds, carried over if only its
parameters differ, refused otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from sentinel.alerting.policy import LATER_STATE
from sentinel.atomic import atomic_write
from sentinel.config import WatchConfig
from sentinel.detect import persist
from sentinel.detect.base import OnlineDetector
from sentinel.detect.codec import adopt, outline, structure
from sentinel.errors import one_line
from sentinel.retention import SeriesRetention
from sentinel.series import Batch, Labels, labels_key
from sentinel.series_index import SeriesIndex
from sentinel.watch import WatchRunner

log = logging.getLogger(__name__)
POINTER = "checkpoint.json"


def structure_digest(detector: OnlineDetector | None) -> str | None:
    """A short hash of the detector's :func:`~sentinel.detect.codec.structure` (None without a detector)."""
    if detector is None:
        return None
    return hashlib.sha256(json.dumps(structure(detector), sort_keys=True).encode()).hexdigest()[:16]


def fingerprint(watch: WatchConfig, detector: OnlineDetector | None = None, *, digest: str | None = None) -> str:
    """What makes learned state reusable: query, step and detector config (not the alert policy), and the
    structure of ``detector`` (or its ``digest``) when given -- wrappers the config does not name included.

    >>> w = WatchConfig(name="w", query="up", every="1m")
    >>> fingerprint(w) == fingerprint(w.model_copy(update={"alert": w.alert.model_copy(update={"threshold": 0.9})}))
    True
    >>> from sentinel.detect import build_detector
    >>> from sentinel.detect.counts import CountFloor
    >>> det = build_detector(w.detector, step=60)
    >>> fingerprint(w, det) == fingerprint(w, CountFloor(det))
    False
    """
    doc: dict[str, Any] = {
        "query": watch.query, "logs": watch.logs.model_dump() if watch.logs else None, "step": watch.sample_step,
        "detector": watch.detector.model_dump() if watch.detector else None,
    }
    digest = structure_digest(detector) if detector is not None else digest
    if digest is not None:
        doc["structure"] = digest
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _config_changed(pointer: dict[str, Any], watch: WatchConfig) -> bool:
    """Whether the checkpoint behind ``pointer`` was made for another query, step or detector config (its
    detector's structure is checked once loaded: :func:`restore`)."""
    found = pointer.get("fingerprint")
    if "structure" not in pointer:  # written before the structure was fingerprinted
        return found != fingerprint(watch)
    return found != fingerprint(watch, digest=pointer["structure"])


def _save_detector(det: OnlineDetector, path: Path, watch: WatchConfig, cursor: int) -> str:
    target = path.with_suffix(".npz")
    persist.save(det, target, watch=watch.name, trained_to=cursor)
    return target.name


def _load_detector(path: Path) -> OnlineDetector:
    det = persist.load(path)
    if not isinstance(det, OnlineDetector):
        raise ValueError(f"{path.name} does not hold an online detector")
    return det


def _keys_json(keys: list[Labels] | tuple[Labels, ...]) -> np.ndarray:
    return np.array(json.dumps([list(map(list, k)) for k in keys]))


def _keys(z: Any, name: str) -> list[Labels]:
    return [labels_key(tuple(tuple(kv) for kv in k)) for k in json.loads(str(z[name]))]


def _state_arrays(runner: WatchRunner) -> dict[str, np.ndarray]:
    """Everything besides the detector that a restart needs, as flat named arrays."""
    pol = runner.policy
    out = {"policy/__keys__": _keys_json(pol.index_.keys), **{f"policy/{k}": v for k, v in pol.state_.items()},
           "retention/__keys__": _keys_json(runner.retention.index_.keys),
           "retention/last_seen": runner.retention.last_seen_}
    fp = runner.forecast_policy
    if fp is not None:
        out.update({"forecast/__keys__": _keys_json(fp.index_.keys), "forecast/severity_": fp.severity_,
                    "forecast/started_": fp.started_})
    h = runner.history
    if h is not None:
        out.update({"history/__keys__": _keys_json(h.labels), "history/timestamps": h.timestamps,
                    "history/values": h.values, "history/step": np.array(h.step)})
    return out


def _restore_retention(runner: WatchRunner, arrays: dict[str, np.ndarray], detector: OnlineDetector | None,
                       cursor: int) -> None:
    """The last-seen times; a checkpoint from before them counts every series it holds as seen at its cursor."""
    if "retention/__keys__" in arrays:
        runner.retention = SeriesRetention(_keys(arrays, "retention/__keys__"), arrays["retention/last_seen"])
        return
    held = [*(detector.index_.keys if detector is not None else ()), *runner.policy.index_.keys]
    if (fp := runner.forecast_policy) is not None:
        held += fp.index_.keys
    if runner.history is not None:
        held += runner.history.labels
    keys = list(dict.fromkeys(held))
    runner.retention = SeriesRetention(keys, np.full(len(keys), cursor, dtype=np.int64))


def _restore_state(runner: WatchRunner, path: Path, detector: OnlineDetector | None, cursor: int) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    pol = runner.policy
    keys = _keys(arrays, "policy/__keys__")
    state = {k.removeprefix("policy/"): v for k, v in arrays.items() if k.startswith("policy/") and "__" not in k}
    fresh = pol._init_state(len(keys))
    state = {**{k: fresh[k] for k in LATER_STATE}, **state}  # a checkpoint from before them lacks these: fresh
    if set(state) != set(fresh) or any(len(v) != len(keys) for v in state.values()):
        raise ValueError(f"{path.name} does not match this version's policy state")
    fp = runner.forecast_policy
    if fp is not None and "forecast/__keys__" in arrays:
        fp.index_ = SeriesIndex(_keys(arrays, "forecast/__keys__"))
        fp.severity_, fp.started_ = arrays["forecast/severity_"], arrays["forecast/started_"]
    if "history/__keys__" in arrays and runner.cfg.forecast is not None:
        runner.history = Batch(arrays["history/timestamps"], arrays["history/values"],
                               tuple(_keys(arrays, "history/__keys__")), int(arrays["history/step"]))
    pol.index_ = SeriesIndex(keys)
    pol.state_ = {k: state[k].astype(fresh[k].dtype) for k in fresh}
    _restore_retention(runner, arrays, detector, cursor)


def save(directory: Path, runner: WatchRunner) -> None:
    """Write a complete checkpoint of ``runner`` at its cursor (see the module docstring)."""
    if runner.cursor is None:
        raise ValueError(f"watch {runner.cfg.name!r}: nothing to checkpoint before the first cycle")
    directory.mkdir(parents=True, exist_ok=True)
    seq = time.time_ns()
    det_name = None
    if runner.detector is not None:
        det_name = _save_detector(runner.detector, directory / f"detector-{seq}", runner.cfg, runner.cursor)
    state_name = f"state-{seq}.npz"
    arrays = _state_arrays(runner)
    atomic_write(directory / state_name, lambda f: np.savez(f, **arrays))
    digest = structure_digest(runner.detector)
    pointer = {"cursor": int(runner.cursor), "saved_at": time.time(),
               "fingerprint": fingerprint(runner.cfg, digest=digest), "structure": digest,
               "detector": det_name, "state": state_name}
    data = json.dumps(pointer).encode()
    atomic_write(directory / POINTER, lambda f: f.write(data))
    for p in directory.iterdir():
        current = p.name.startswith((f"detector-{seq}.", f"state-{seq}.")) or p.name == POINTER
        if not current and p.name.startswith(("detector-", "state-", ".")):
            p.unlink(missing_ok=True)


def load(directory: Path, runner: WatchRunner) -> int | None:
    """Restore ``runner`` in place; the cursor, or None when it re-learns (see :func:`restore`)."""
    return restore(directory, runner)[0]


def restore(directory: Path, runner: WatchRunner) -> tuple[int | None, str]:
    """Restore ``runner`` (detector, policies, forecast history, cursor) in place: ``(cursor, result)``.

    ``result`` is one of the module docstring's list.  When the cursor is None
    the runner is left untouched and re-learns from scratch.
    """
    pointer_path = directory / POINTER
    if not pointer_path.exists():
        return None, "missing"
    cfg, fresh = runner.cfg, runner.detector
    result = "restored"
    try:
        pointer = json.loads(pointer_path.read_text())
        if not isinstance(pointer, dict):
            raise ValueError(f"{POINTER} holds {type(pointer).__name__}, not an object")
        cursor = int(pointer["cursor"])
        if _config_changed(pointer, cfg):
            log.warning("watch %s: checkpoint was made for a different query/step/detector; starting fresh", cfg.name)
            return None, "config_changed"
        detector = _load_detector(directory / pointer["detector"]) if pointer["detector"] else None
        if structure_digest(detector) != structure_digest(fresh):  # None (no detector) on either side differs too
            adopted = adopt(fresh, detector) if detector is not None and fresh is not None else None
            if adopted is None:
                had, builds = (outline(structure(d)) if d is not None else "no detector" for d in (detector, fresh))
                log.warning("watch %s: checkpoint holds a detector built as %s, this version builds %s for the "
                            "watch; re-learning from scratch", cfg.name, had, builds)
                return None, "structure_changed"
            log.info("watch %s: checkpoint restored into this version's detector parameters", cfg.name)
            detector, result = adopted, "params_changed"
        _restore_state(runner, directory / pointer["state"], detector, cursor)
    # a truncated state file is a broken zip (BadZipFile), a hand-edited pointer a wrong type: re-learn, never crash
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, persist.CheckpointError) as exc:
        log.warning("watch %s: checkpoint unreadable (%s); starting fresh", cfg.name, one_line(exc))
        return None, "unreadable"
    runner.detector = detector
    runner.cursor = cursor
    return runner.cursor, result
