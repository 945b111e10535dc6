"""One scheduled cycle of a watch slot, under the daemon's reliability rules.

The daemon (:mod:`sentinel.daemon`) builds and owns the long-lived parts and
hands them to a :class:`CycleDriver`, which only *uses* them, in the order
that keeps DESIGN §8's promises:

- the slot's cycle runs in a trace span while holding the slot's lock, so a
  checkpoint or a reload never sees half a cycle;
- its result is published to the exporter, the notifier (the outbox takes
  the transitions) and the console, and only then is the cursor committed,
  the outbox reconciled and flushed: a crash between two steps only ever
  leads to a replay that the slot's dedupe absorbs;
- a failing cycle (source down, bad data, a bug) never raises: it is one log
  line and ``sentinel_cycle_errors_total{reason}`` (``source``, ``data`` or
  ``internal``), and the next cycle fills the gap from the cursor;
- the slot is checkpointed when ``store.checkpoint_every`` has passed; a
  failed checkpoint is one line and ``sentinel_checkpoint_errors_total``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sentinel.alerting.console import ConsoleOutput
from sentinel.alerting.notifier import Notifier
from sentinel.clock import SimulatedClock, WallClock
from sentinel.errors import one_line
from sentinel.publish.exporter import ResultCollector
from sentinel.publish.metrics import SelfMetrics
from sentinel.slot import WatchSlot
from sentinel.sources.base import SourceError
from sentinel.tracing import Tracing
from sentinel.watch import CycleResult

log = logging.getLogger("sentinel.daemon")  # the daemon's reliability log lines, wherever they are written


def failure_reason(exc: BaseException) -> str:
    """The ``reason`` label of a failed cycle.

    >>> failure_reason(SourceError("down")), failure_reason(ValueError("nan")), failure_reason(KeyError("x"))
    ('source', 'data', 'internal')
    """
    return "source" if isinstance(exc, SourceError) else "data" if isinstance(exc, ValueError) else "internal"


@dataclass
class CycleDriver:
    """Runs, publishes and checkpoints the cycles of watch slots with the daemon's parts (see the module doc)."""

    metrics: SelfMetrics
    tracing: Tracing
    clock: WallClock | SimulatedClock
    exporter: ResultCollector
    notifier: Notifier
    console: ConsoleOutput | None
    checkpoint_every: float

    def run(self, slot: WatchSlot, now: float | None = None) -> CycleResult | None:
        """Run one cycle of ``slot`` at data time ``now`` (default: the clock's now); never raises."""
        name = slot.name
        with slot.lock, self.tracing.span("sentinel.cycle", watch=name) as span:
            t0, start_ns = time.perf_counter(), time.time_ns()
            slot.running_since = time.monotonic()
            try:
                result = slot.cycle(self.clock.now() if now is None else now)
                if result is not None:
                    self.publish(slot, result)
                    self.tracing.stages(result.timings, start_ns, watch=name)
            except Exception as exc:  # one line, counted; the next cycle retries from the cursor
                reason = failure_reason(exc)
                self.metrics.cycle_failed(name, reason)
                span.set_attribute("outcome", "error")
                log.warning("watch %s: cycle failed (%s): %s", name, reason, one_line(exc))
                log.debug("watch %s: cycle failure detail", name, exc_info=True)
                return None
            finally:
                slot.running_since = None
            outcome = "ok" if result is not None else "idle"
            self.metrics.cycle_done(name, outcome, time.perf_counter() - t0)
            if not slot.ready:
                slot.ready = True
                self.metrics.watch_ready.labels(watch=name).set(1)
            span.set_attribute("outcome", outcome)
            if result is not None:
                span.set_attributes({"series": result.batch.n_series, "steps": result.batch.n_steps,
                                     "events": len(result.events)})
            if slot.checkpoint_due(self.checkpoint_every):
                self.checkpoint(slot)
            return result

    def publish(self, slot: WatchSlot, result: CycleResult) -> None:
        """Hand one cycle's result to every output, then commit its cursor (the order matters: module doc)."""
        t0 = time.perf_counter()
        self.exporter.update(result)
        self.notifier.observe(slot.cfg, result.events, self.clock.wall_interval(slot.cfg.every))
        slot.published()
        if self.console is not None:
            self.console.emit(result.events)
        slot.commit()
        self.notifier.reconcile(slot.name, slot.confirms, result.last if result.last >= 0 else int(self.clock.now()),
                                reason=slot.resolve_reason)
        slot.resolve_reason = None
        self.notifier.flush()
        self.metrics.published(
            slot.name, (e.status for e in result.events), result.timings, time.perf_counter() - t0,
            result.tracked, slot.runner.cursor,
        )
        self.metrics.retained(slot.name, result.forgotten, result.refused)

    def checkpoint(self, slot: WatchSlot) -> None:
        """Checkpoint ``slot`` now (the caller holds its lock); a failure is one line and a counter."""
        try:
            seconds = slot.save()
        except OSError as exc:
            self.metrics.checkpoint_errors.labels(watch=slot.name).inc()
            log.warning("watch %s: checkpoint failed: %s", slot.name, one_line(exc))
            return
        if seconds:
            self.metrics.checkpoints.labels(watch=slot.name).inc()
            self.metrics.checkpoint_duration.labels(watch=slot.name).observe(seconds)
