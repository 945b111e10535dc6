"""The model store: detector checkpoints under ``models/<watch>/``, with a model card.

A checkpoint is one ``model.npz``: every learned array, plus a JSON tree
(stored in the same file) that names the detector class, its constructor
parameters and where each array goes.  No pickle: loading never runs code
from the file, and only classes from ``sentinel.detect`` are rebuilt.

What is saved:

- online detectors (:class:`~sentinel.detect.base.OnlineDetector`): the
  parameters, ``state_`` and the series index (everything they learn lives
  there, by contract), the extra learned attributes a class declares in
  ``checkpoint_attrs`` (e.g. the fitted model and clock of
  :class:`~sentinel.detect.retrain.Retrained`), and nested detectors such as
  the guard's ``inner``;
- batch detectors (``fit``/``score``): the parameters and every learned
  attribute (scikit-learn style: public names ending in ``_``), recursively.

``save``/``load`` take a directory (``models/<watch>/model.npz``) or an
explicit ``*.npz`` path (as :mod:`sentinel.checkpoint` uses them).

Writes are atomic (write a temporary file, fsync, rename), so a kill -9 in
the middle of a save leaves the previous checkpoint intact.  A missing,
truncated or foreign checkpoint is reported with one warning and
:func:`load_or_fresh` returns a fresh model: a broken file costs a re-learn,
never the daemon.  Next to the model, ``card.json`` and ``card.md`` say
what it is: kind, parameters, trained-on range, series count, version.

>>> import tempfile, numpy as np
>>> from sentinel.detect.stl import STLDetector
>>> from sentinel.series import Batch
>>> ts = np.arange(0, 3 * 86400, 3600)
>>> hist = Batch.from_rows([{"a": "1"}], ts, np.sin(ts / 5000.0)[None, :])
>>> det = STLDetector().fit(hist)
>>> d = tempfile.mkdtemp()
>>> _ = save(det, d, trained_from=int(ts[0]), trained_to=int(ts[-1]))
>>> again = load(d)
>>> bool(np.array_equal(again.score(hist).score, det.score(hist).score, equal_nan=True))
True
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import logging
import os
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from prometheus_client import Counter, Histogram

from sentinel.detect.base import OnlineDetector
from sentinel.series import SeriesIndex

log = logging.getLogger(__name__)
FORMAT = 1
MODEL_FILE = "model.npz"
_META = "__meta__"
_ALLOWED_PREFIX = "sentinel.detect."

SAVES = Counter("sentinel_model_checkpoint_saves", "Model checkpoints written, by result", ["result"])
LOADS = Counter("sentinel_model_checkpoint_loads", "Model checkpoint loads, by result (ok, missing, corrupt)",
                ["result"])
SAVE_SECONDS = Histogram("sentinel_model_checkpoint_save_seconds", "Time to write one model checkpoint")

T = TypeVar("T")


class CheckpointError(Exception):
    """A checkpoint that cannot be used (missing, corrupt, or not a sentinel model)."""


# -- encoding -------------------------------------------------------------------------


class _Encoder:
    """Turns a detector into a JSON tree plus a flat dict of arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, a: np.ndarray) -> dict[str, str]:
        if a.dtype == object:
            raise TypeError("object arrays cannot be checkpointed")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = a
        return {"__nd__": key}

    def value(self, v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return self.array(v)
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not np.isfinite(v):
            return {"__float__": repr(v)}
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, SeriesIndex):
            return {"__index__": [[list(kv) for kv in key] for key in v.keys]}
        if isinstance(v, tuple):
            return {"__tuple__": [self.value(x) for x in v]}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise TypeError("only dicts with string keys can be checkpointed")
            return {"__dict__": {k: self.value(x) for k, x in v.items()}}
        if type(v).__module__.startswith(_ALLOWED_PREFIX):
            return self.model(v)
        raise TypeError(f"cannot checkpoint a {type(v).__module__}.{type(v).__qualname__}")

    def model(self, obj: Any) -> dict[str, Any]:
        cls = type(obj)
        params = dict(obj.get_params()) if hasattr(obj, "get_params") else {}
        # constructor arguments get_params leaves out but the object keeps (e.g. the guard's `inner`)
        for name in inspect.signature(cls.__init__).parameters:
            if name not in params and name != "self" and hasattr(obj, name):
                params[name] = getattr(obj, name)
        if isinstance(obj, OnlineDetector):
            learned = {"state_": obj.state_, "index_": obj.index_}
            learned.update({k: getattr(obj, k) for k in getattr(obj, "checkpoint_attrs", ())})
        else:
            learned = {k: v for k, v in vars(obj).items() if k.endswith("_") and not k.startswith("_")}
        return {
            "__obj__": f"{cls.__module__}:{cls.__qualname__}",
            "params": {k: self.value(v) for k, v in params.items()},
            "learned": {k: self.value(v) for k, v in learned.items()},
        }


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def value(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict):
            return v
        if "__nd__" in v:
            return self.arrays[v["__nd__"]]
        if "__float__" in v:
            return float(v["__float__"])
        if "__index__" in v:
            return SeriesIndex(tuple(tuple(kv) for kv in key) for key in v["__index__"])
        if "__tuple__" in v:
            return tuple(self.value(x) for x in v["__tuple__"])
        if "__dict__" in v:
            return {k: self.value(x) for k, x in v["__dict__"].items()}
        if "__obj__" in v:
            return self.model(v)
        raise ValueError(f"unknown node in checkpoint: {sorted(v)[:3]}")

    def model(self, node: dict[str, Any]) -> Any:
        module, _, qualname = str(node["__obj__"]).partition(":")
        if not module.startswith(_ALLOWED_PREFIX) or "." in qualname:
            raise ValueError(f"refusing to rebuild {node['__obj__']!r}: not a sentinel detector")
        cls = getattr(importlib.import_module(module), qualname)
        obj = cls(**{k: self.value(v) for k, v in node["params"].items()})
        learned = {k: self.value(v) for k, v in node["learned"].items()}
        if isinstance(obj, OnlineDetector):
            obj.index_.rows(learned.pop("index_").keys)  # in place: wrappers share their inner's index
            obj.state_ = dict(learned.pop("state_"))
            extra = set(learned) - set(getattr(obj, "checkpoint_attrs", ()))
            if extra:
                raise ValueError(f"checkpoint holds attributes {sorted(extra)} that {type(obj).__name__} does not keep")
            for k, v in learned.items():
                setattr(obj, k, v)
        else:
            for k, v in learned.items():
                setattr(obj, k, v)
        return obj


# -- files ------------------------------------------------------------------------------


def _atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write via a temporary file in the same directory, fsync, rename, fsync the directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _sweep_stale_temps(path: Path, older_than: float = 3600.0) -> None:
    """Remove temporary files a killed writer left next to ``path`` (old ones only: a live writer's are new)."""
    now = time.time()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
        except OSError:
            pass


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("sentinel")
    except Exception:  # not installed (running from a checkout)
        return "unknown"


def _iso(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _plain(node: Any) -> Any:
    """A checkpoint tree node as plain JSON for people (arrays shown by name only)."""
    if isinstance(node, list):
        return [_plain(x) for x in node]
    if not isinstance(node, dict):
        return node
    if "__obj__" in node:
        return {"class": node["__obj__"], "params": _plain(node["params"])}
    for tag in ("__tuple__", "__dict__", "__float__"):
        if tag in node:
            return _plain(node[tag])
    if "__nd__" in node:
        return "<array>"
    if "__index__" in node:
        return f"<{len(node['__index__'])} series>"
    return {k: _plain(v) for k, v in node.items()}


def model_card(detector: Any, tree: dict[str, Any], *, watch: str | None, trained_from: int | None,
               trained_to: int | None) -> dict[str, Any]:
    """What a checkpoint holds, for people and for `sentinel` listings."""
    index = getattr(detector, "index_", getattr(detector, "agents_", None))
    return {
        "watch": watch,
        "kind": getattr(detector, "name", type(detector).__name__),
        "class": tree["__obj__"],
        "params": _plain(tree["params"]),
        "trained_from": _iso(trained_from),
        "trained_to": _iso(trained_to),
        "series": len(index) if isinstance(index, SeriesIndex) else None,
        "sentinel_version": _version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "format": FORMAT,
        **({"fit": detector.card_info()} if hasattr(detector, "card_info") else {}),
    }


def _card_markdown(card: dict[str, Any]) -> str:
    rows = "\n".join(f"| {k} | `{json.dumps(v, default=str)}` |" for k, v in card.items() if k != "params")
    return (f"# Model card: {card['watch'] or card['kind']}\n\n| field | value |\n|---|---|\n{rows}\n\n"
            f"## Parameters\n\n```json\n{json.dumps(card['params'], indent=2, default=str)}\n```\n")


def _paths(target: str | Path) -> tuple[Path, Path, Path]:
    """(model file, card.json, card.md) for a directory, or for an explicit ``*.npz`` file."""
    p = Path(target)
    if p.suffix == ".npz":
        return p, p.with_suffix(".card.json"), p.with_suffix(".card.md")
    return p / MODEL_FILE, p / "card.json", p / "card.md"


def save(detector: Any, target: str | Path, *, watch: str | None = None, trained_from: int | None = None,
         trained_to: int | None = None) -> Path:
    """Checkpoint ``detector`` into ``target``, a directory or a ``*.npz`` file path; returns the model file."""
    t0 = time.perf_counter()
    path, card_json, card_md = _paths(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        enc = _Encoder()
        tree = enc.model(detector)
        card = model_card(detector, tree, watch=watch, trained_from=trained_from, trained_to=trained_to)
        meta = json.dumps({"format": FORMAT, "model": tree, "card": card}).encode()
        arrays = {**enc.arrays, _META: np.frombuffer(meta, dtype=np.uint8)}
        for target_file in (path, card_json, card_md):
            _sweep_stale_temps(target_file)
        _atomic_write(path, lambda f: np.savez(f, **arrays))
        _atomic_write(card_json, lambda f: f.write(json.dumps(card, indent=2).encode()))
        _atomic_write(card_md, lambda f: f.write(_card_markdown(card).encode()))
    except Exception:
        SAVES.labels("error").inc()
        raise
    SAVES.labels("ok").inc()
    SAVE_SECONDS.observe(time.perf_counter() - t0)
    return path


def load(target: str | Path) -> Any:
    """The detector checkpointed at ``target`` (directory or ``*.npz``); :class:`CheckpointError` if absent/broken."""
    path = _paths(target)[0]
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop(_META).tobytes())
        if meta.get("format") != FORMAT:
            raise ValueError(f"checkpoint format {meta.get('format')!r}, this sentinel reads {FORMAT}")
        return _Decoder(arrays).model(meta["model"])
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, ValueError, TypeError, AttributeError,
            ImportError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(exc).__name__}: {exc})") from None


def load_or_fresh(target: str | Path, fresh: Callable[[], T]) -> tuple[T, bool]:
    """``(model, True)`` from the checkpoint, or ``(fresh(), False)`` with one warning."""
    try:
        model = load(target)
    except CheckpointError as exc:
        missing = not _paths(target)[0].exists()
        LOADS.labels("missing" if missing else "corrupt").inc()
        log.warning("%s; starting a fresh model", exc)
        return fresh(), False
    LOADS.labels("ok").inc()
    return model, True


def read_card(target: str | Path) -> dict[str, Any] | None:
    """The model card next to a checkpoint, or None."""
    try:
        return json.loads(_paths(target)[1].read_text())
    except (OSError, ValueError):
        return None
