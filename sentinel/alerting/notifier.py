"""The notifier: the outbox's due alerts, through a bounded queue, to Alertmanager in batches.

Follows Prometheus' notifier: :meth:`Notifier.flush` (called after every
cycle and on its own timer) puts the alerts that are due (see
:class:`~sentinel.alerting.outbox.Outbox`) on a bounded queue; one sender
thread takes up to ``batch_size`` alerts at a time and POSTs them.  A failed
batch is counted and logged (one line per failure streak, one on
recovery) and not retried on its own: the next flush re-sends the state.
A batch refused with a 4xx (but 408/429) is halved and re-posted until the
refused alert is alone, so one bad alert never holds back its batch-mates.
When the queue is full the oldest alerts are dropped and counted; the
outbox still holds them, so the next flush re-sends them too.

The queue holds at most one state per Alertmanager alert (label set): a
flush that queues a newer state of an alert still waiting replaces it in
place (``sentinel_notifications_superseded_total``), so a slow or failing
Alertmanager never receives an alert's older state after its newer one,
and a backlog never repeats an alert.

Without an ``alertmanager:`` section the notifier keeps the outbox (for
``/alerts``, the console and the store) and sends nothing.

Long-lived part shape: ``Notifier.from_config(config, store, registry)``,
``start()``, ``reconfigure(config)``, ``stop()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry

from sentinel.alerting.alertmanager import AlertmanagerClient, NotifyError
from sentinel.alerting.event import AlertEvent
from sentinel.alerting.outbox import Outbox, OutboxAlert
from sentinel.config import AlertmanagerConfig, Config, WatchConfig
from sentinel.errors import one_line
from sentinel.publish.metrics import self_metrics
from sentinel.series import Labels
from sentinel.store import Store

log = logging.getLogger(__name__)

_Item = tuple[str, str, dict[str, Any]]  # key, status sent, payload
_Print = tuple[tuple[str, str], ...]  # an alert's label set: Alertmanager's identity of it


class Notifier:
    """Owns the outbox, the send queue and the sender thread (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        registry: CollectorRegistry = REGISTRY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.metrics = self_metrics(registry)
        self.outbox = Outbox(store, config, deliver=config.alertmanager is not None,
                             on_superseded=self.metrics.superseded.inc)
        self._client: AlertmanagerClient | None = None
        self._queue: OrderedDict[_Print, _Item] = OrderedDict()
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._failing = False
        self._last_fail_log = 0.0
        self._apply(config)

    @classmethod
    def from_config(cls, config: Config, store: Store, registry: CollectorRegistry = REGISTRY) -> Notifier:
        return cls(config, store, registry=registry)

    @property
    def am(self) -> AlertmanagerConfig:
        return self.config.alertmanager or AlertmanagerConfig()

    def _apply(self, config: Config) -> None:
        old = self._client
        self.config = config
        self.outbox.config = config
        self.outbox.deliver = config.alertmanager is not None
        self._client = AlertmanagerClient(config.alertmanager) if config.alertmanager else None
        self.metrics.queue_capacity.set(self.am.queue_capacity)
        if old is not None:
            old.close()

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="sentinel-notifier", daemon=True)
            self._thread.start()

    def reconfigure(self, config: Config) -> None:
        """New Alertmanager URL, auth, batch size or queue size; the outbox and queue carry over."""
        with self._cond:
            self._apply(config)

    def stop(self, timeout: float = 5.0) -> None:
        """Flush the state once more, send what is queued (up to ``timeout``), stop the sender.

        A resolution still held back (``resend_delay`` after its firing was accepted, so Alertmanager's
        ``group_wait`` notifies the firing first) stays held: sent now, it could cancel a page Alertmanager has
        not sent yet.  A restarted sentinel sends it from the outbox; a stopped one leaves the alert firing
        in Alertmanager until its ``endsAt``, which the warning names.
        """
        self.flush()
        self.drain(timeout)
        now, delay = self.clock(), self.am.resend_delay
        held = [a for a in self.outbox.alerts() if a.resolved and not a.superseded
                and a.send_as(now, delay) == "firing"] if self.outbox.deliver else []  # none without Alertmanager
        if held:
            log.warning("stopping with %d resolution(s) held back for resend_delay (e.g. %s): Alertmanager keeps "
                        "them firing until their endsAt (at most 4 x max(interval, resend_delay)) unless sentinel "
                        "restarts before", len(held), held[0].key)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._client is not None:
            self._client.close()

    # -- the cycle side -------------------------------------------------------
    def observe(self, watch: WatchConfig, events: Iterable[AlertEvent], interval: float) -> list[OutboxAlert]:
        """Record transitions durably (before anything is sent)."""
        changed = self.outbox.observe(watch, events, interval, self.clock())
        self._gauges()
        return changed

    def reconcile(
        self, watch: str, current: Callable[[str, Labels, int, str], bool], at: int, reason: str | None = None
    ) -> list[OutboxAlert]:
        gone = self.outbox.reconcile(watch, current, at, self.clock(), reason)
        if gone:
            if sent := sum(not a.superseded for a in gone):  # a superseded episode's newer one speaks for it
                log.info("watch %s: resolved %d alert(s): %s", watch, sent,
                         reason or "its model no longer confirms them")
            self._gauges()
        return gone

    def flush(self) -> int:
        """Queue every due alert; returns how many of them are in the queue (not dropped for room)."""
        now = self.clock()
        try:
            self.outbox.prune(now)
        except Exception as exc:  # locked or full store: pruning waits, sending must not
            self._store_failed("pruning resolved alerts", exc)
        if self._client is None:
            self._gauges()
            return 0
        items = [(a.fingerprint, (a.key, a.last_attempt_status or "firing", p)) for a, p in self.outbox.due(now)]
        with self._cond:
            replaced = 0
            for fp, item in items:
                replaced += fp in self._queue
                self._queue[fp] = item  # a waiting older state of the alert is replaced where it waits
            if replaced:
                self.metrics.superseded.inc(replaced)
            cap = self.am.queue_capacity
            overflow = len(self._queue) - cap
            if overflow > 0:
                for _ in range(overflow):
                    self._queue.popitem(last=False)
                self.metrics.dropped.inc(overflow)
                log.warning("notifier queue full (%d): dropped %d oldest alert(s); the next flush re-sends them",
                            cap, overflow)
            self.metrics.queue_length.set(len(self._queue))
            self._cond.notify_all()
            queued = sum(fp in self._queue for fp, _ in items)
        self._gauges()
        return queued

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is empty and no batch is in flight (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return not (self._queue or self._busy)
                self._cond.wait(min(left, 0.1))
        return True

    def _gauges(self) -> None:
        m = self.metrics
        for state, n in self.outbox.counts().items():
            m.outbox_alerts.labels(state=state).set(n)
        active: dict[tuple[str, str], int] = {}
        for a in self.outbox.alerts(firing_only=True):
            active[(a.watch, a.severity)] = active.get((a.watch, a.severity), 0) + 1
        for watch in {a.watch for a in self.outbox.alerts()} | {w.name for w in self.config.watches}:
            for sev in ("info", "warning", "critical"):
                m.alerts_active.labels(watch=watch, severity=sev).set(active.get((watch, sev), 0))

    # -- the sender thread ----------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._queue:
                    return
                n = min(self.am.batch_size, len(self._queue))
                batch = [self._queue.popitem(last=False)[1] for _ in range(n)]
                self.metrics.queue_length.set(len(self._queue))
                self._busy = True
                client = self._client
            try:
                if client is not None:
                    self._send(client, batch)
            except Exception as exc:  # a dead sender would silently stop every notification for good
                log.error("notify: sending a batch failed unexpectedly: %s (re-sent next cycle)", one_line(exc))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _send(self, client: AlertmanagerClient, batch: list[_Item]) -> None:
        t0 = time.perf_counter()
        try:
            client.post([p for _, _, p in batch])
        except NotifyError as exc:
            if len(batch) > 1 and exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 429):
                # one alert it refuses (Alertmanager's 400, a proxy's 413) fails the whole batch, every re-send:
                # halve it until the refused alert is alone, so the others are delivered and known to be
                half = len(batch) // 2
                self._send(client, batch[:half])
                self._send(client, batch[half:])
                return
            self.metrics.failed.labels(reason=exc.reason).inc(len(batch))
            now = time.monotonic()
            if not self._failing or now - self._last_fail_log >= 60:
                log.warning("notify: %s (%d alert(s) not sent; re-sent next cycle)", exc, len(batch))
                self._last_fail_log = now
            self._failing = True
            return
        finally:
            self.metrics.latency.observe(time.perf_counter() - t0)
        if self._failing:
            log.info("notify: Alertmanager %s accepts alerts again", client.where)
            self._failing = False
        self.metrics.sent.inc(len(batch))
        self.metrics.notify_last_success.set(time.time())
        try:
            self.outbox.delivered(((k, s) for k, s, _ in batch), self.clock())
        except Exception as exc:  # store locked or disk full: the outbox keeps the marks, writes them with the next
            self._store_failed(f"recording {len(batch)} delivered alert(s)", exc)
        self._gauges()  # a delivered resolution leaves resolved_pending now, not at the next flush (up to resend_delay)

    def _store_failed(self, what: str, exc: Exception) -> None:
        self.metrics.outbox_write_errors.inc()
        log.warning("notify: the store refused %s (%s); retried with the next store write", what, one_line(exc))
