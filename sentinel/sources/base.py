"""The one interface every metrics source speaks: a watch and a time range in, a Batch out.

Sources are the only stage that talks to the outside world, so they also own
its failure modes: anything that goes wrong while fetching (a 5xx, a timeout,
a refused connection, a query the server rejects) surfaces as one
:class:`SourceError` with a one-line message, and the caller (the watch
runner, the daemon) decides whether to retry next cycle.  Missing data is
not an error: it is NaN in the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from sentinel.config import WatchConfig
from sentinel.series import Batch, Labels

if TYPE_CHECKING:
    from sentinel.sources.metrics import SourceMetrics


class SourceError(Exception):
    """A fetch failed; ``str(err)`` is one line naming the watch and the cause, never a secret.

    >>> str(SourceError("watch 'w': Prometheus answered 503"))
    "watch 'w': Prometheus answered 503"
    """


MAX_FETCH_STEPS = 1_000_000
"""The most grid steps one fetch may span: 11.6 days at 1 s, 1.9 years at 60 s, 9.5 years at 5 m.

Beyond it a range is a mistake (seconds read as milliseconds, a start of 0),
and building its grid alone would take gigabytes (317 years at 60 s: 1.3 GB
of timestamps before any series).  The daemon's warm-up fetch is the
longest it makes, so a config whose warm-up exceeds this is refused;
``sentinel backtest`` replays in chunks, and refuses ranges over it too.
"""


def check_span(watch: WatchConfig, first: int, stop: int) -> None:
    """Refuse a fetch of more than :data:`MAX_FETCH_STEPS` steps with a one-line :class:`SourceError`.

    >>> from sentinel.config import WatchConfig
    >>> check_span(WatchConfig(name="w", query="up"), 0, 10_000_000_000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sentinel.sources.base.SourceError: watch 'w': [0, 10000000000) is 166,666,666 steps of 60s, more than one ...
    """
    steps = (stop - first) // watch.sample_step
    if steps > MAX_FETCH_STEPS:
        raise SourceError(f"watch {watch.name!r}: [{first}, {stop}) is {steps:,} steps of {watch.sample_step}s, more "
                          f"than one fetch may span ({MAX_FETCH_STEPS:,}): fetch a shorter range")


def check_clock(
    metrics: SourceMetrics, source: str, watch: str, last: int, step: int, server_now: float | None, where: str
) -> None:
    """Refuse grid points more than one step past the server's own now (``reason="clock_ahead"``).

    This host's clock ahead of the server's (stepped by NTP, a VM resumed with
    a wrong clock) asks for the future: Prometheus has no samples there (every
    series missing, absent alerts on all), Elasticsearch counts zero there (a
    silent fleet), and the cursor would move past data that does not exist
    yet, which no later cycle reads again.  Failing the fetch reads nothing;
    the cycle after the clock is right again catches up from the cursor.
    ``server_now`` None (the server did not say) checks nothing.
    """
    if server_now is None or last <= server_now + step:
        return
    metrics.errors.labels(source, watch, "clock_ahead").inc()
    raise SourceError(
        f"watch {watch!r}: asked for samples up to {datetime.fromtimestamp(last, UTC):%Y-%m-%dT%H:%M:%SZ}, "
        f"{last - server_now:.0f}s past {where}'s clock: is this host's clock ahead? "
        "Nothing is read until it is right again"
    )


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


@runtime_checkable
class TargetSource(Protocol):
    """A source that also knows whether the scrape targets of vanished series were removed (Prometheus).

    ``targets(watch, series, at, window)`` returns, per series, :data:`~sentinel.sources.targets.LIVE`,
    :data:`~sentinel.sources.targets.REMOVED` or :data:`~sentinel.sources.targets.UNKNOWN` (int8), from
    one request; failures raise :class:`SourceError`.
    """

    def targets(self, watch: WatchConfig, series: Sequence[Labels], at: int, window: int) -> np.ndarray: ...
