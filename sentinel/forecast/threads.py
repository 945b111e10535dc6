"""Fit forecasts with single-threaded BLAS: same numbers, a fraction of the CPU.

Model selection makes thousands of tiny linear-algebra calls per series
(scipy's L-BFGS-B in every statsmodels exponential-smoothing fit, the
least-squares fits of the trend members).  OpenBLAS runs each on all its
threads, and its idle threads spin between calls: on the demo's 2-core
machine a damped-trend ETS fit took about 110 ms of CPU with the default
threads and 15-20 ms with one (same parameters; the vectors have a handful
of elements, far too few to gain from threads).  So
:func:`single_threaded_blas` limits BLAS to one thread while forecasting
and restores the previous setting afterwards.

The state is kept per thread: the OpenBLAS build scipy and numpy ship
applies a limit set in one thread to that thread's calls (another thread
still reads its own setting), so each forecasting thread limits and
restores its own; nested uses only count.

>>> from threadpoolctl import threadpool_info
>>> with single_threaded_blas():
...     inside = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
>>> inside <= {1}
True
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_LOCAL = threading.local()
_CONTROLLER: list[ThreadpoolController] = []


def _controller() -> ThreadpoolController:
    """Found once (a scan of the loaded libraries costs milliseconds); numpy's and scipy's BLAS are
    loaded by the time anything forecasts (``intervals.py`` imports scipy.optimize)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the body with every loaded BLAS library limited to one thread (see the module docstring)."""
    depth = getattr(_LOCAL, "depth", 0)
    limiter = _controller().limit(limits=1, user_api="blas") if depth == 0 else None
    _LOCAL.depth = depth + 1
    try:
        yield
    finally:
        _LOCAL.depth = depth
        if limiter is not None:
            limiter.restore_original_limits()
