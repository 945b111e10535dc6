"""Atomic file replacement: a reader, or a restart after ``kill -9``, sees the old file or the new one, never half.

Every checkpoint file (models, watch state, the pointer) is written this way:
a temporary file in the same directory, fsync, rename over the target, fsync
the directory (so the rename itself survives a power cut).  A writer killed
mid-write leaves only a ``.<name>.*.tmp`` file, which :func:`sweep_stale_temps`
removes once it is old enough not to belong to a live writer.

>>> import tempfile
>>> p = Path(tempfile.mkdtemp()) / "x.json"
>>> atomic_write(p, lambda f: f.write(b"{}"))
>>> p.read_bytes(), [q.name for q in p.parent.iterdir()]
(b'{}', ['x.json'])
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[io.BufferedWriter], object]) -> None:
    """Replace ``path`` with what ``write(f)`` writes to a binary file, atomically (see the module doc)."""
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


def sweep_stale_temps(path: Path, older_than: float = 3600.0) -> None:
    """Remove temporary files a killed writer left next to ``path`` (old ones only: a live writer's are new)."""
    now = time.time()
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
        except OSError:
            pass


def ensure_writable_dir(path: Path) -> None:
    """Create ``path`` if needed and prove a file can be written in it, now rather than at the first checkpoint.

    The daemon calls it at start for ``store.models_dir``: a directory under a
    regular file or without write permission used to surface as a warning at
    the first checkpoint, after hours of learning that a restart then lost.
    Raises :class:`OSError` whose message names the directory.

    >>> import tempfile
    >>> ensure_writable_dir(Path(tempfile.mkdtemp()) / "models" / "deep")
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise OSError(f"store.models_dir {path}: not a writable directory ({exc.strerror or exc})") from None
