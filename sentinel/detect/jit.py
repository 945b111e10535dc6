"""Compiled per-series kernels, without paying for numba at import time.

The online detectors do their arithmetic in small scalar functions (one
series, one step) compiled with numba and looped over series (and over the
steps of a batch) inside compiled code: one pass over each series' state
instead of a few hundred numpy passes over all series per step.

Importing numba takes about a second, which every CLI command would pay if
the detector modules compiled at import.  So a kernel is declared with
:func:`kernel`, which only records it; the first call of any kernel compiles
them all (``cache=True``: later processes load machine code from
``__pycache__`` instead of compiling) and rebinds each module attribute to
its compiled dispatcher.  Kernels that call each other refer to kernels of
other modules as ``module.name`` (resolved when the caller compiles, after
the rebinding), never through ``from module import name``.  Kernels use
numpy's error model (a division by zero gives inf or NaN, as in numpy).

numba's own cache notices when a function's file changes, not when a kernel
it inlined from another file does; so the cache lives in a directory named
by a hash of every kernel module's source (``__pycache__/numba-<hash>``
next to this file, else under ``$XDG_CACHE_HOME/sentinel``): any edit of a
kernel recompiles everything once.  Each edit or upgrade leaves a directory
behind (a few MB each), so a cache directory is touched when used and, when
a new one is made, siblings unused for :data:`STALE_AFTER` seconds are
removed, the :data:`KEEP` most recent always kept (another checkout or
version may share the base directory).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_PENDING: list[tuple[Callable[..., Any], bool, bool]] = []
_LOCK = threading.Lock()  # two watches' threads may make the first call at the same time
# numpy's error model (x/0 is inf or NaN, no exception); no reference counting (kernels allocate nothing and
# only see arrays their Python caller holds; counting would cost two atomic operations per array per call);
# FMA contraction and x/y as x*(1/y) are allowed (last-bit differences only: NaN and inf semantics are kept)
KEEP = 3  # cache directories always kept per base directory, most recently used first
STALE_AFTER = 7 * 86400.0  # a directory unused this long (seconds) may be removed
_OPTIONS = {"cache": True, "error_model": "numpy", "_nrt": False, "fastmath": {"contract", "arcp"}}


class _Kernel:
    """Placeholder until the first call compiles every declared kernel."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.compiled: Any = None

    def __call__(self, *args: Any) -> Any:
        if self.compiled is None:
            compile_all()
        return self.compiled(*args)


def kernel(fn: Callable[..., Any] | None = None, *, inline: bool = True, exact: bool = False) -> Any:
    """Declare ``fn`` a compiled kernel (module-level function, nopython numba subset).

    ``inline`` (the default) inlines it into compiled callers at numba level:
    needed for kernels taking the state tuples, whose calls would otherwise
    copy a hundred words of array descriptors.  Small scalar helpers pass
    ``inline=False`` (LLVM inlines them anyway) to keep compile time down.
    ``exact`` compiles without fast-math flags, for a helper whose arithmetic
    must round exactly as numpy's (e.g. a division LLVM would otherwise turn
    into a multiplication by a hoisted reciprocal); the flags are per
    instruction, so they stay exact when LLVM inlines the helper.
    """
    if fn is None:
        return lambda f: kernel(f, inline=inline, exact=exact)
    _PENDING.append((fn, inline, exact))
    return _Kernel(fn)


def _cache_dir(modules: list[str], version: str) -> str:
    """A writable cache directory named by the kernels' sources, numba's version and the options."""
    options = {k: sorted(v) if isinstance(v, set) else v for k, v in _OPTIONS.items()}  # sets print in any order
    digest = hashlib.sha1(f"{version} {sorted(options.items())}".encode())
    for name in sorted(set(modules)):
        digest.update(Path(sys.modules[name].__file__ or "").read_bytes())
    user = os.environ.get("NUMBA_CACHE_DIR")
    xdg = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sentinel"
    bases = [Path(user)] if user else [Path(__file__).parent / "__pycache__", xdg, Path(tempfile.gettempdir())]
    for base in bases:
        path = base / f"numba-{digest.hexdigest()[:16]}"
        new = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
            os.utime(path)  # "last used", for pruning
        except OSError:
            continue
        if os.access(path, os.W_OK):
            if new:
                prune_stale(base)
            return str(path)
    return str(bases[-1])


def prune_stale(base: Path, now: float | None = None) -> list[Path]:
    """Remove ``base``'s kernel cache directories unused for :data:`STALE_AFTER`, beyond the :data:`KEEP` newest.

    Best effort: a directory that cannot be removed (permissions, a
    concurrent prune) is left alone.  Returns the directories removed.

    >>> import tempfile, os
    >>> base = Path(tempfile.mkdtemp())
    >>> for i in range(5):
    ...     (base / f"numba-{i}").mkdir()
    ...     os.utime(base / f"numba-{i}", (i, i))  # used at t = i seconds
    >>> sorted(p.name for p in prune_stale(base))
    ['numba-0', 'numba-1']
    """
    now = time.time() if now is None else now
    try:
        dirs = sorted(base.glob("numba-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:  # a directory vanished while sorting: another process is pruning
        return []
    removed = []
    for path in dirs[KEEP:]:
        try:
            if now - path.stat().st_mtime > STALE_AFTER:
                shutil.rmtree(path)
                removed.append(path)
        except OSError:
            continue
    return removed


def compile_all() -> None:
    """Wrap every declared kernel in a numba dispatcher and rebind its module attribute to it."""
    with _LOCK:
        _compile_pending()


def _compile_pending() -> None:
    import numba
    from numba.core import config

    pending = list(_PENDING)
    _PENDING.clear()
    if not pending:  # another thread compiled them meanwhile
        return
    for fn, _, _ in pending:
        if fn.__module__ not in sys.modules:
            importlib.import_module(fn.__module__)
    saved = config.CACHE_DIR
    config.CACHE_DIR = _cache_dir([fn.__module__ for fn, _, _ in pending], numba.__version__)
    try:
        for fn, inline, exact in pending:
            module = sys.modules[fn.__module__]
            stub = getattr(module, fn.__name__, None)
            options = {**_OPTIONS, "fastmath": False} if exact else _OPTIONS
            compiled = numba.njit(inline="always" if inline else "never", **options)(fn)
            setattr(module, fn.__name__, compiled)
            if isinstance(stub, _Kernel):
                stub.compiled = compiled
    finally:
        config.CACHE_DIR = saved
