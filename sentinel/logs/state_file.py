"""A log watch's miner state file: drain3's snapshot and sentinel's own keys in one JSON file.

drain3 saves and loads its tree through a ``PersistenceHandler``; this one
writes a JSON document ``{"version": 1, "drain": <drain3 snapshot, base64>,
"meta": {...}, "merged": [[absorbed id, survivor], ...]}`` with an atomic
replace (``merged`` only once templates were merged, so files of the first
release and those of this one read the same way).  jsonpickle is inside the
snapshot: load only files sentinel wrote.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drain3.persistence_handler import PersistenceHandler

from sentinel.atomic import atomic_write

_STATE_VERSION = 1


class StateError(Exception):
    """A miner state file that cannot be read (one line; the file is left untouched)."""


class StateFile(PersistenceHandler):
    """drain3 persistence into one JSON file, replaced atomically, with sentinel's own keys beside drain's state."""

    def __init__(self, path: Path, extra: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self._extra = extra  # "meta", and "merged" once templates were merged
        self.loaded: dict[str, Any] = {}

    def save_state(self, state: bytes) -> None:
        doc = {"version": _STATE_VERSION, "drain": base64.b64encode(state).decode("ascii"), **self._extra()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, lambda f: f.write(json.dumps(doc).encode("utf-8")))

    def load_state(self) -> bytes | None:
        if not self.path.exists():
            return None
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("version") != _STATE_VERSION:
                raise StateError(f"{self.path}: unknown miner state version {doc.get('version')!r}")
            self.loaded = {"meta": dict(doc.get("meta") or {}),
                           "merged": {int(k): int(v) for k, v in doc.get("merged", [])}}
            return base64.b64decode(doc["drain"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateError(
                f"{self.path}: unreadable miner state ({exc.__class__.__name__}); move it away to start fresh"
            ) from None
