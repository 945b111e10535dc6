"""Alerts on the terminal: one aligned table row per transition, as they fire and resolve.

The embedded default (``sentinel run`` without a config) has no
Alertmanager; this is where its alerts go (besides the store).  Times are the
data's own time (the simulator's clock), so a simulated week reads like one.

>>> import io
>>> from sentinel.alerting.event import AlertEvent
>>> out = io.StringIO()
>>> c = ConsoleOutput(out)
>>> c.emit([AlertEvent("firing", "queue", (("agent", "a1"),), 0, 0, value=42.0, expected=10.0,
...                    lower=5.0, upper=15.0, score=0.9995)])
>>> print(out.getvalue().rstrip())
TIME (UTC)        STATUS    SEVERITY  WATCH               SERIES                   VALUE  EXPECTED (BAND)          SCORE
1970-01-01 00:00  FIRING    warning   queue               {agent="a1"}                42  10 (5 .. 15)            0.9995

A stuck series (one value repeated far longer than ever) and an absent one
get their own words, as their rows carry no score breach:
STUCK / MOVING (at the new value, after how long the alert held) and
ABSENT / BACK.  An anomaly alert fired by intermittent breaches (the
density condition) or by a lasting scale change reads ERRATIC.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Iterable
from typing import TextIO

from sentinel.alerting import density, scale
from sentinel.alerting.event import AlertEvent
from sentinel.config import format_duration
from sentinel.series import format_labels

_COLS = "{:<16}  {:<8}  {:<8}  {:<18}  {:<20}  {:>8}  {:<22}  {:>6}"


def _num(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.4g}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class ConsoleOutput:
    """Prints alert transitions as table rows (header once); thread-safe."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self._header = False

    def emit(self, events: Iterable[AlertEvent]) -> None:
        rows = [self._row(e) for e in events]
        if not rows:
            return
        with self._lock:
            if not self._header:
                header = _COLS.format("TIME (UTC)", "STATUS", "SEVERITY", "WATCH", "SERIES", "VALUE",
                                      "EXPECTED (BAND)", "SCORE")
                self.stream.write(header + "\n")
                self._header = True
            self.stream.write("".join(r + "\n" for r in rows))
            self.stream.flush()

    @staticmethod
    def _row(e: AlertEvent) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.at))
        if e.kind == "absent":
            status = "ABSENT" if e.status == "firing" else "BACK"
            band, value, score = "no data", "-", "-"
        elif e.kind == "stuck":  # a condition, as absent is: the band and a calm score say nothing about it
            status = "STUCK" if e.status == "firing" else "MOVING"
            band, value, score = "unchanged", _num(e.value), "-"
        elif e.kind == "drift":  # a condition too: the band follows a slow drift
            status = "DRIFT" if e.status == "firing" else "SETTLED"
            band, value, score = "new level", _num(e.value), "-"
        else:  # ERRATIC: fired by intermittent breaches or a scale change (sentinel.alerting.density, .scale)
            erratic = e.status == "firing" and (density.MARK in e.description or scale.MARK in e.description)
            status = "ERRATIC" if erratic else e.status.upper()
            band = f"{_num(e.expected)} ({_num(e.lower)} .. {_num(e.upper)})"
            value = _num(e.value)
            score = "-" if not math.isfinite(e.score) else f"{e.score:.4f}"
        if e.status == "resolved":
            band = f"after {format_duration(e.at - e.starts_at)}" if e.kind != "absent" else band
        return _COLS.format(when, status, e.severity, _clip(e.watch, 18), _clip(format_labels(e.labels), 20),
                            value, _clip(band, 22), score)
