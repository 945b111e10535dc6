"""Data clocks: what "now" is for the watches.

Against Prometheus the data clock is the wall clock.  The embedded simulator
runs on an accelerated clock, ``origin + speed * elapsed``, so a simulated
week passes in minutes; the scheduler then runs each watch every
``every / speed`` wall seconds.  Tests drive cycles with an explicit ``now``
instead of waiting on either.

>>> c = SimulatedClock(origin=1_000_000, speed=600, wall=lambda: 10.0)
>>> c.now(), c.wall_interval(60)
(1000000.0, 0.1)
"""

from __future__ import annotations

import time
from collections.abc import Callable


class WallClock:
    """The data clock is the wall clock."""

    speed = 1.0

    def now(self) -> float:
        return time.time()

    def wall_interval(self, seconds: float) -> float:
        return float(seconds)


class SimulatedClock:
    """``origin + speed * (wall - start)``: simulated time for the in-process fleet."""

    def __init__(self, origin: float, speed: float, wall: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.origin = float(origin)
        self.speed = float(speed)
        self._wall = wall
        self._start = wall()

    def now(self) -> float:
        return self.origin + self.speed * (self._wall() - self._start)

    def wall_interval(self, seconds: float) -> float:
        """Wall seconds between cycles of a watch whose ``every`` is ``seconds`` of data time."""
        return seconds / self.speed
