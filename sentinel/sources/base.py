"""The one interface every metrics source speaks: a watch and a time range in, a Batch out.

Sources are the only stage that talks to the outside world, so they also own
its failure modes: anything that goes wrong while fetching (a 5xx, a timeout,
a refused connection, a query the server rejects) surfaces as one
:class:`SourceError` with a one-line message, and the caller (the watch
runner, the daemon) decides whether to retry next cycle.  Missing data is
not an error: it is NaN in the batch.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sentinel.config import WatchConfig
from sentinel.series import Batch


class SourceError(Exception):
    """A fetch failed; ``str(err)`` is one line naming the watch and the cause, never a secret.

    >>> str(SourceError("watch 'w': Prometheus answered 503"))
    "watch 'w': Prometheus answered 503"
    """


def grid(start: int, end: int, step: int) -> tuple[int, int]:
    """First and one-past-last grid timestamps of ``[start, end)`` on the absolute ``step`` grid.

    The grid is the multiples of ``step`` (so every cycle and every chunk of a
    long range lands on the same timestamps); an unaligned ``start`` rounds up.

    >>> grid(120, 300, 60)
    (120, 300)
    >>> grid(130, 301, 60)
    (180, 360)
    """
    first = -(-start // step) * step
    stop = max(first, -(-end // step) * step)
    return first, stop


@runtime_checkable
class Source(Protocol):
    """Something that returns a watch's series as a :class:`~sentinel.series.Batch`.

    ``fetch(watch, start, end)`` returns every series the watch's query
    yields, sampled on the grid ``t = start, start + step, ... < end`` with
    ``step = watch.sample_step`` and ``start`` a multiple of ``step`` (an
    unaligned ``start`` is rounded up to the next multiple, see :func:`grid`).
    Each series is identified by its full label set (``__name__`` kept as a
    label when the query returns it).  Points with no sample, NaN, +-Inf or a
    stale marker are NaN: missing, never zero.  A series whose samples in the
    range are all NaN or +-Inf is still returned (as all NaN); a series with
    no sample at all in the range is absent from the batch.  Failures raise
    :class:`SourceError`.

    ``close()`` releases connections; the source is unusable afterwards.
    """

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch: ...

    def close(self) -> None: ...
