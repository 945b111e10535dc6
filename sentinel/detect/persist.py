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

The encoding itself is :mod:`sentinel.detect.codec`, the card
:mod:`sentinel.detect.modelcard`; this module owns the files.

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

import json
import logging
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from prometheus_client import Counter, Histogram

from sentinel.atomic import atomic_write, sweep_stale_temps
from sentinel.detect.codec import FORMAT, Decoder, Encoder
from sentinel.detect.modelcard import card_markdown, model_card

log = logging.getLogger(__name__)
MODEL_FILE = "model.npz"
_META = "__meta__"

SAVES = Counter("sentinel_model_checkpoint_saves", "Model checkpoints written, by result", ["result"])
LOADS = Counter("sentinel_model_checkpoint_loads", "Model checkpoint loads, by result (ok, missing, corrupt)",
                ["result"])
SAVE_SECONDS = Histogram("sentinel_model_checkpoint_save_seconds", "Time to write one model checkpoint")

T = TypeVar("T")


class CheckpointError(Exception):
    """A checkpoint that cannot be used (missing, corrupt, or not a sentinel model)."""


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
        enc = Encoder()
        tree = enc.model(detector)
        card = model_card(detector, tree, watch=watch, trained_from=trained_from, trained_to=trained_to)
        meta = json.dumps({"format": FORMAT, "model": tree, "card": card}).encode()
        arrays = {**enc.arrays, _META: np.frombuffer(meta, dtype=np.uint8)}
        for target_file in (path, card_json, card_md):
            sweep_stale_temps(target_file)
        atomic_write(path, lambda f: np.savez(f, **arrays))
        atomic_write(card_json, lambda f: f.write(json.dumps(card, indent=2).encode()))
        atomic_write(card_md, lambda f: f.write(card_markdown(card).encode()))
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
        return Decoder(arrays).model(meta["model"])
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
