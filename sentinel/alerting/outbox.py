"""The desired alert state: what Alertmanager must know, persisted so nothing is lost or stranded.

Every alert episode (watch, kind, series, start) has one :class:`OutboxAlert`,
written to the store's ``alerts`` table the moment the policy decides it.
The notifier re-sends this state every cycle, as Prometheus' notifier does:
firing alerts with ``endsAt`` = now + 4 x max(interval, resend_delay), so
Alertmanager resolves them by itself if sentinel dies; resolved alerts with
``endsAt`` = their end, until ``resolved_retention`` has passed since the
resolution *and* Alertmanager has accepted the resolution once.

Two rules go beyond Prometheus so that an outage loses no episode:

- an episode that resolved before its firing state ever reached
  Alertmanager is first sent as firing: Alertmanager does not notify a group
  that only ever saw resolved alerts;
- its resolution is held back until ``resend_delay`` after the firing state
  was first accepted, so Alertmanager's ``group_wait`` can notify it first.

Only one episode per Alertmanager label set is ever sent (see
:mod:`sentinel.alerting.episode`): when a series fires again, its older
episodes are ``superseded`` and their owed states are never sent, so an old
resolution cannot land after the newer firing and resolve it.  Each
supersession that drops an owed state is counted.

Wall-clock time (``now``) drives sending and retention; the data's own time
(``starts_at``/``ends_at``, which may be a backfill's past or the accelerated
simulator's future) is what the alert reports, clamped so ``startsAt`` and a
resolved ``endsAt`` are never later than the wall clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from sentinel.alerting import render
from sentinel.alerting.episode import OutboxAlert, episode_key, rfc3339, speaker
from sentinel.alerting.event import AlertEvent
from sentinel.config import AlertmanagerConfig, Config, WatchConfig
from sentinel.series import Labels
from sentinel.store import Store

__all__ = ["RESOLUTION_TEXT", "Outbox", "OutboxAlert", "episode_key", "rfc3339"]

RESOLUTION_TEXT = frozenset({"stuck", "drift"})
"""Alert kinds whose resolution replaces the ``description`` annotation with its own."""


class Outbox:
    """The persisted desired alert state of every watch (thread-safe)."""

    def __init__(
        self, store: Store, config: Config, *, deliver: bool = True,
        on_superseded: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.store = store
        self.config = config
        self.deliver = deliver
        self.on_superseded = on_superseded  # how many owed states a newer episode made moot (a metric)
        self._lock = threading.Lock()
        self._alerts: dict[str, OutboxAlert] = {k: OutboxAlert(**doc) for k, doc, _ in store.alerts()}
        # changed in memory, store write failed: retried with the next; a store written before supersession
        # existed gets its marks with the first write
        self._dirty: dict[str, OutboxAlert] = {a.key: a for a in speaker(self._alerts.values(), self._alerts.values())}

    @property
    def am(self) -> AlertmanagerConfig:
        return self.config.alertmanager or AlertmanagerConfig()

    def _persist(self, alerts: Iterable[OutboxAlert]) -> None:
        """Write ``alerts`` and any whose earlier write failed (a locked or full store): a replayed transition
        finds its episode already held in memory and changes nothing, so only this retry gets it to disk."""
        rows = {**self._dirty, **{a.key: a for a in alerts}}
        try:
            self.store.put_alerts([a.store_row() for a in rows.values()])
        except Exception:
            self._dirty = rows
            raise
        self._dirty = {}

    def _mark(self, touched: list[OutboxAlert]) -> list[OutboxAlert]:
        """``touched`` and the episodes of the same alerts whose ``superseded`` mark changed with them
        (only a new episode or a resolution can change which episode speaks for an alert)."""
        moot = speaker(self._alerts.values(), touched)
        if dropped := sum(a.superseded and a.owes for a in moot):
            self.on_superseded(dropped)
        return touched + moot

    def observe(
        self, watch: WatchConfig, events: Iterable[AlertEvent], interval: float, now: float
    ) -> list[OutboxAlert]:
        """Record the policy's transitions (persisted before this returns)."""
        changed: list[OutboxAlert] = []
        with self._lock:
            for e in events:
                if e.status == "firing":
                    key = episode_key(e.watch, e.kind, e.labels, e.starts_at, e.severity)
                    if key in self._alerts:
                        continue  # a replayed transition we already hold
                    a = self._alerts[key] = self._new(watch, e, key, interval, now)
                    touched = [a]
                else:  # resolves the episode at whatever severity it is held
                    base = episode_key(e.watch, e.kind, e.labels, e.starts_at, "")
                    touched = [a for k, a in self._alerts.items() if k.startswith(base) and not a.resolved]
                    if not touched:
                        key = episode_key(e.watch, e.kind, e.labels, e.starts_at, e.severity)
                        if key in self._alerts:
                            continue  # a replayed resolution we already hold
                        # an episode we never saw fire (its state was lost): still owed to Alertmanager
                        touched = [self._alerts.setdefault(key, self._new(watch, e, key, interval, now))]
                    for a in touched:
                        self._resolve(a, watch, e, now)
                for a in touched:
                    if not self.deliver:
                        a.firing_delivered_at = a.resolved_delivered_at = now
                changed.extend(touched)
            self._persist(self._mark(changed))
        return changed

    def _resolve(self, a: OutboxAlert, watch: WatchConfig, e: AlertEvent, now: float) -> None:
        """End the episode; the firing text stays, but a stuck alert's resolution says how it ended."""
        a.ends_at = e.at
        a.learned_at = now
        # the stuck alert's resolution is news ("value changed from 42 to 17 after 2h unchanged", README); other
        # kinds' resolutions describe a calm point, less use than the evidence that made them fire
        text = e.description if e.kind in RESOLUTION_TEXT and e.description else a.annotations["description"]
        a.annotations = render.annotations(watch, self.config, e.labels, e.kind, a.annotations["summary"],
                                           text, e.starts_at, e.at)
        a.evidence["resolved_value"] = e.value

    def _new(self, watch: WatchConfig, e: AlertEvent, key: str, interval: float, now: float) -> OutboxAlert:
        return OutboxAlert(
            key=key, watch=e.watch, kind=e.kind, series=[list(kv) for kv in e.labels],
            labels=render.alert_labels(e.labels, e.watch, e.kind, e.severity, watch.labels),
            annotations=render.annotations(watch, self.config, e.labels, e.kind, e.summary, e.description,
                                           e.starts_at, e.ends_at),
            generator_url=render.generator_url(watch, self.config, e.starts_at, e.ends_at),
            severity=e.severity, starts_at=e.starts_at, ends_at=e.ends_at, interval=interval,
            evidence={"value": e.value, "expected": e.expected, "lower": e.lower, "upper": e.upper,
                      "score": e.score, "members": list(e.members), "summary": e.summary,
                      "description": e.description},
            learned_at=now,
        )

    def reconcile(
        self, watch: str, current: Callable[[str, Labels, int, str], bool], at: int, now: float,
        reason: str | None = None,
    ) -> list[OutboxAlert]:
        """Resolve (at data time ``at``) firing episodes of ``watch`` that ``current(kind, series,
        starts_at, severity)`` no longer confirms: after a crash replay, a capacity alert's
        escalation or a removed watch, nothing stays firing by mistake.  ``reason`` (why they
        end without a calm point: a reload) goes into the ``resolution`` annotation."""
        with self._lock:
            gone = [a for a in self._alerts.values() if a.watch == watch and not a.resolved
                    and not current(a.kind, a.series_key, a.starts_at, a.severity)]
            for a in gone:
                a.ends_at = max(at, a.starts_at)
                a.learned_at = now
                a.evidence["reconciled"] = True
                if reason:
                    a.annotations = {**a.annotations, "resolution": reason}
                if not self.deliver:
                    a.firing_delivered_at = a.resolved_delivered_at = now
            self._persist(self._mark(gone))
        return gone

    def due(self, now: float) -> list[tuple[OutboxAlert, dict[str, Any]]]:
        """Alerts to send now with their payloads, marked as attempted (Prometheus' ``needsSending``)."""
        am = self.am
        out = []
        with self._lock:
            for a in sorted(self._alerts.values(), key=lambda x: (x.key.rsplit("|", 1)[0], x.starts_at)):
                if a.superseded:
                    continue
                status = a.send_as(now, am.resend_delay)
                if a.resolved and status == "resolved" and a.resolved_delivered_at is not None \
                        and now - a.learned_at >= am.resolved_retention:
                    continue
                fresh = a.last_attempt is None or a.last_attempt_status != status
                if fresh or not 0 <= now - a.last_attempt < am.resend_delay:  # < 0: the clock was stepped back
                    a.last_attempt, a.last_attempt_status = now, status
                    out.append((a, a.payload(now, am.resend_delay)))
        return out

    def delivered(self, sent: Iterable[tuple[str, str]], now: float) -> None:
        """Alertmanager accepted ``(key, status)`` pairs: remember it durably."""
        changed = []
        with self._lock:
            for key, status in sent:
                a = self._alerts.get(key)
                if a is None:
                    continue
                if status == "firing" and a.firing_delivered_at is None:
                    a.firing_delivered_at = now
                    changed.append(a)
                elif status == "resolved" and a.resolved_delivered_at is None:
                    a.resolved_delivered_at = now
                    changed.append(a)
            self._persist(changed)

    def prune(self, now: float) -> int:
        """Forget delivered (or superseded) resolutions older than the retention; returns how many remain."""
        cutoff = now - self.am.resolved_retention
        with self._lock:
            drop = [k for k, a in self._alerts.items()
                    if a.resolved and (not a.owes or a.superseded) and a.learned_at < cutoff]
            for k in drop:
                del self._alerts[k]
            self.store.drop_alerts(int(cutoff))
            return len(self._alerts)

    def alerts(self, watch: str | None = None, firing_only: bool = False) -> list[OutboxAlert]:
        """A snapshot of the state (for /alerts, gauges and tests)."""
        with self._lock:
            return [a for a in self._alerts.values()
                    if (watch is None or a.watch == watch) and not (firing_only and a.resolved)]

    def counts(self) -> dict[str, int]:
        """Alerts by delivery state: ``firing``, ``resolved_pending`` (resolution not yet accepted), ``resolved``
        (accepted, or superseded by a newer episode of the same alert: nothing more is owed)."""
        out = {"firing": 0, "resolved_pending": 0, "resolved": 0}
        with self._lock:
            for a in self._alerts.values():
                state = "firing" if not a.resolved else "resolved_pending" if a.owes and not a.superseded \
                    else "resolved"
                out[state] += 1
        return out
