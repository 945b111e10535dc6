"""One alert episode as the outbox holds it, and which episode speaks for an Alertmanager alert.

Alertmanager keeps one alert per label set (its fingerprint) and merges what
it is sent by time overlap, so only the *latest* state of a label set may be
sent: an older episode's state sent after a newer one's makes Alertmanager
hold (and notify) the wrong state until the next re-send.  Several episodes
share a label set when a series fires again (a new episode with a new
``starts_at``), or when two series differ only in ``__name__``.
:func:`speaker` picks the one episode per label set whose state is sent, as
Prometheus' rule keeps one alert per label set; the others are
``superseded``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from sentinel.series import Labels, labels_key


def rfc3339(t: float) -> str:
    """Alertmanager's time format (UTC, seconds).

    >>> rfc3339(0)
    '1970-01-01T00:00:00Z'
    """
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def _finite_or_none(v: Any) -> Any:
    """NaN / Inf are not JSON: an absent series has no value, so it shows as null."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


def episode_key(watch: str, kind: str, series: Labels, starts_at: int, severity: str) -> str:
    """The store key of one alert episode at one severity (a capacity alert escalating from
    warning to critical is a new Alertmanager alert: the severity is a label)."""
    return f"{watch}|{kind}|{json.dumps(dict(series), sort_keys=True)}|{starts_at}|{severity}"


@dataclass
class OutboxAlert:
    """One alert episode and its delivery bookkeeping (wall-clock ``*_at`` floats)."""

    key: str
    watch: str
    kind: str
    series: list[list[str]]
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    severity: str
    starts_at: int
    ends_at: int | None
    interval: float
    evidence: dict[str, Any] = field(default_factory=dict)
    learned_at: float = 0.0
    firing_delivered_at: float | None = None
    resolved_delivered_at: float | None = None
    last_attempt: float | None = None
    last_attempt_status: str | None = None
    superseded: bool = False

    @property
    def resolved(self) -> bool:
        return self.ends_at is not None

    @cached_property
    def fingerprint(self) -> tuple[tuple[str, str], ...]:
        """Alertmanager's identity of the alert: its label set."""
        return tuple(sorted(self.labels.items()))

    @property
    def owes(self) -> bool:
        """Alertmanager has not yet accepted this episode's final state."""
        return not (self.resolved and self.resolved_delivered_at is not None)

    @property
    def series_key(self) -> Labels:
        return labels_key(tuple((k, v) for k, v in self.series))

    def send_as(self, now: float, resend_delay: float) -> str:
        """The status to send now (``firing`` until the firing state was accepted long enough).

        A delivery stamped later than ``now`` happened before the wall clock was stepped back (NTP): it
        was accepted long enough ago, or the resolution would wait for the clock to catch up (an hour
        for an hour's step) while Alertmanager kept the alert firing.
        """
        if not self.resolved or self.firing_delivered_at is None:
            return "firing"
        return "resolved" if not 0 <= now - self.firing_delivered_at < resend_delay else "firing"

    def payload(self, now: float, resend_delay: float) -> dict[str, Any]:
        """The Alertmanager API v2 ``postableAlert``."""
        status = self.send_as(now, resend_delay)
        firing = status == "firing"
        end = now + 4 * max(self.interval, resend_delay) if firing else min(float(self.ends_at or now), now)
        start = min(float(self.starts_at), end, now)
        return {
            "labels": self.labels, "annotations": self.annotations, "generatorURL": self.generator_url,
            "startsAt": rfc3339(start), "endsAt": rfc3339(end),
        }

    def as_json(self) -> dict[str, Any]:
        """The alert as ``/alerts`` shows it (data times, evidence, delivery state)."""
        return {
            "status": "resolved" if self.resolved else "firing", "watch": self.watch, "kind": self.kind,
            "labels": self.labels, "annotations": self.annotations, "generatorURL": self.generator_url,
            "startsAt": rfc3339(self.starts_at), "endsAt": rfc3339(self.ends_at) if self.ends_at is not None else None,
            "evidence": {k: _finite_or_none(v) for k, v in self.evidence.items()},
            "delivered": {"firing": self.firing_delivered_at is not None,
                          "resolved": self.resolved_delivered_at is not None},
        }

    def store_row(self) -> tuple[str, dict[str, Any], int | None]:
        """``(key, doc, drop_after)``: the store's ``ends_at`` column holds the wall time the
        retention starts counting from, set only once nothing more is owed (the resolution was
        delivered, or a newer episode of the same alert speaks for it)."""
        drop = int(self.learned_at) if self.resolved and (not self.owes or self.superseded) else None
        return self.key, asdict(self), drop


def _rank(a: OutboxAlert) -> tuple[int, int, int, str]:
    """Firing beats resolved (Alertmanager's alert fires while any episode behind it does), then the newest
    state: the latest start of a firing episode, the latest end of a resolved one."""
    return (0, a.ends_at, a.starts_at, a.key) if a.ends_at is not None else (1, a.starts_at, a.starts_at, a.key)


def speaker(alerts: Iterable[OutboxAlert], touched: Iterable[OutboxAlert]) -> list[OutboxAlert]:
    """Mark, among ``alerts``, every episode sharing a label set with one in ``touched`` as ``superseded``
    unless it is the one whose state Alertmanager must hold; returns the episodes whose mark changed.

    >>> def ep(key, start, end=None):
    ...     return OutboxAlert(key, "w", "anomaly", [], {"a": "x"}, {}, "", "warning", start, end, 60.0)
    >>> old, new = ep("old", 100, 200), ep("new", 300)
    >>> [a.key for a in speaker([old, new], [new])], old.superseded, new.superseded
    (['old'], True, False)
    >>> _ = new.__setattr__("ends_at", 400); [a.key for a in speaker([old, new], [new])], old.superseded
    ([], True)
    """
    prints = {a.fingerprint for a in touched}
    groups: dict[tuple[tuple[str, str], ...], list[OutboxAlert]] = {}
    for a in alerts:
        fp = a.fingerprint
        if fp in prints:
            groups.setdefault(fp, []).append(a)
    changed = []
    for group in groups.values():
        best = max(group, key=_rank)
        for a in group:
            if a.superseded != (a is not best):
                a.superseded = a is not best
                changed.append(a)
    return changed
