"""The daemon: the one place that wires sources, watches, notifier, exporter, store and server.

``sentinel run`` builds a :class:`Daemon` from the config (or the embedded
default), then ``run_forever()``: each watch runs on its interval under
APScheduler (one run per watch at a time, misfires coalesced), every cycle
is fetch -> score -> decide -> publish (exporter, outbox, console) ->
commit (cursor) -> notify, and model + policy state is checkpointed every
``store.checkpoint_every`` and at shutdown.

Reliability rules (DESIGN §8):

- a failing cycle (source down, bad data, a bug) is one log line and a
  ``sentinel_cycle_errors_total{reason}`` increment; the daemon carries on
  and the next cycle fills the gap from the cursor (how one cycle runs,
  publishes and checkpoints is :mod:`sentinel.cycle`; the daemon builds the
  parts it uses);
- SIGTERM / SIGINT stop after the running cycles finish (then checkpoint,
  final notify); SIGHUP reloads the config (a bad config is refused with one
  line and the old one kept);
- on start every watch resumes from its checkpoint and cursor
  (:mod:`sentinel.slot`), so neither a clean stop nor ``kill -9`` re-learns
  from scratch, loses or repeats an alert episode.

Every long-lived part has the same shape: built from config, ``start()``,
``reconfigure(config)``, ``stop()``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from sentinel.alerting.console import ConsoleOutput
from sentinel.alerting.notifier import Notifier
from sentinel.alerting.outbox import rfc3339
from sentinel.atomic import ensure_writable_dir
from sentinel.checkpoint import fingerprint
from sentinel.clock import SimulatedClock, WallClock
from sentinel.config import Config, ConfigError, load_config
from sentinel.cycle import CycleDriver
from sentinel.publish.exporter import ResultCollector, exposition
from sentinel.publish.metrics import self_metrics
from sentinel.server import HTTPServer
from sentinel.slot import WatchSlot
from sentinel.sourceset import SourceSet
from sentinel.store import Store
from sentinel.tracing import Tracing
from sentinel.watch import CycleResult

log = logging.getLogger(__name__)
# a cycle longer than its interval is normal (warm-up, catch-up): the scheduler's skip notices are noise
logging.getLogger("apscheduler").setLevel(logging.ERROR)


STUCK_MIN_SECONDS = 600.0
"""A cycle may run long (a catch-up after an outage, a source's timeouts and retries: 4 x 30 s by default);
one that has run this long, and 10 intervals, is stuck, and ``/-/ready`` says so."""


REBUILT = ("resolved by sentinel: the watch was reconfigured (query, step or detector changed) and its new model, "
           "re-learned from the warm-up, does not confirm this alert")
"""The ``resolution`` annotation of alerts a rebuilt watch ends: not a calm point, so the SRE is told why.

A rebuilt watch's open alerts stay firing until its new model's first cycle: an alert the new model also
fires continues (its new episode supersedes the old one: Alertmanager sees one alert, never resolved), the
others resolve with this annotation.  Resolving them at the reload paged a resolution, then the same alert
again, whenever the condition persisted."""


def stuck_after(interval: float) -> float:
    """Seconds after which a running cycle of a watch scheduled every ``interval`` (wall) seconds counts as stuck.

    >>> stuck_after(60), stuck_after(3600)
    (600.0, 36000.0)
    """
    return max(STUCK_MIN_SECONDS, 10.0 * interval)


def new_registry() -> CollectorRegistry:
    """A registry with the process and platform collectors (one per daemon, so tests can run several)."""
    reg = CollectorRegistry()
    ProcessCollector(registry=reg)
    PlatformCollector(registry=reg)
    return reg


class Daemon:
    """See the module docstring.  ``run_cycle(name, now)`` is public so tests and ``demo``
    can drive cycles on a controlled clock without the scheduler."""

    def __init__(
        self,
        config: Config,
        *,
        config_path: str | Path | None = None,
        registry: CollectorRegistry | None = None,
        clock: WallClock | SimulatedClock | None = None,
        console: ConsoleOutput | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.config = config
        self.config_path = Path(config_path) if config_path else None
        self.registry = registry if registry is not None else new_registry()
        self.metrics = self_metrics(self.registry)
        ensure_writable_dir(config.store.models_dir)  # before learning anything a checkpoint could not keep
        self.store = Store(config.store.path, config.store.models_dir)
        self.sources = SourceSet(config, self.registry)
        self.clock = clock if clock is not None else self._default_clock()
        self.notifier = Notifier(config, self.store, registry=self.registry)
        self.exporter = ResultCollector()
        self.console = console
        self.tracing = tracing if tracing is not None else Tracing.from_config(config.tracing)
        self.cycles = CycleDriver(self.metrics, self.tracing, self.clock, self.exporter, self.notifier, console,
                                  config.store.checkpoint_every)
        self.slots: dict[str, WatchSlot] = {}
        self.server: HTTPServer | None = None
        self.scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._reload = threading.Event()

    def _default_clock(self) -> WallClock | SimulatedClock:
        if not self.sources.simulated_only:
            return WallClock()
        sim = self.config.simulator
        assert sim is not None
        cursors = [c for w in self.config.watches if (c := self.store.cursor(w.name)) is not None]
        origin = max(cursors) + sim.step if cursors else self.sources.fleet_start()
        return SimulatedClock(origin, sim.speed)

    # -- lifecycle ------------------------------------------------------------
    def start(self, *, schedule: bool = True, serve: bool = True) -> None:
        """Restore every watch, start the notifier, the HTTP server and (unless ``schedule=False``) the scheduler."""
        t0 = time.perf_counter()
        for w in self.config.watches:
            self._add_slot(w)
        self.notifier.start()
        if serve:
            srv = self.config.server
            self.server = HTTPServer(srv.host, srv.port, self.metrics_text, self.healthy, self.ready, self.alerts_json)
            self.server.start()
        if schedule:
            self.scheduler = BackgroundScheduler(
                executors={"default": ThreadPoolExecutor(max(2, min(4, len(self.slots))))},
                job_defaults={"coalesce": True, "max_instances": 1},
            )
            for slot in self.slots.values():
                self._schedule(slot)
            am = self.config.alertmanager
            self.scheduler.add_job(self.notifier.flush, "interval", seconds=am.resend_delay if am else 60,
                                   id="notify", misfire_grace_time=None)
            self.scheduler.add_job(self._maintain, "interval", seconds=60, id="maintain", misfire_grace_time=None)
            self.scheduler.start()
        for advice in self.config.advisories():
            log.warning("config: %s", advice)
        restored = sum(s.restored_from is not None for s in self.slots.values())
        where = f" on {self.config.server.host}:{self.server.port}" if self.server else ""
        log.info("sentinel started%s: %d watch(es), %d restored from checkpoint, in %.2fs",
                 where, len(self.slots), restored, time.perf_counter() - t0)

    def _add_slot(self, w: Any) -> WatchSlot:
        slot = WatchSlot.create(w, self.sources.for_watch(w), self.store, self.sources.warmup(w))
        self.slots[w.name] = slot
        self.metrics.watch_ready.labels(watch=w.name).set(0)
        if slot.restore_result != "missing":
            self.metrics.checkpoint_restores.labels(watch=w.name, result=slot.restore_result).inc()
        if slot.restored_from is not None:
            log.info("watch %s: resumed from checkpoint at %s", w.name, rfc3339(slot.restored_from))
        return slot

    def _schedule(self, slot: WatchSlot) -> None:
        assert self.scheduler is not None
        every = self.clock.wall_interval(slot.cfg.every)
        self.scheduler.add_job(
            self.run_cycle, "interval", args=[slot.name], seconds=every, id=f"watch:{slot.name}",
            next_run_time=datetime.now().astimezone(), misfire_grace_time=max(1, int(every)), replace_existing=True,
        )

    def stop(self) -> None:
        """Finish running cycles, checkpoint every watch, send the final state, close everything."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        for slot in self.slots.values():
            with slot.lock:
                self.cycles.checkpoint(slot)
        self.notifier.stop()
        if self.server is not None:
            self.server.stop()
        self.tracing.shutdown()
        self.sources.close()
        self.store.close()
        log.info("sentinel stopped")

    def run_forever(self) -> None:
        """Start, then serve until SIGTERM/SIGINT; SIGHUP reloads the config (main thread only)."""
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        signal.signal(signal.SIGINT, lambda *_: self._stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self._reload.set())
        self.start()
        while not self._stop.wait(0.2):
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
        log.info("stopping after the current cycle(s)")
        self.stop()

    # -- one cycle ------------------------------------------------------------
    def run_cycle(self, name: str, now: float | None = None) -> CycleResult | None:
        """Run one cycle of watch ``name`` at data time ``now``; never raises (see :mod:`sentinel.cycle`)."""
        slot = self.slots.get(name)
        return None if slot is None else self.cycles.run(slot, now)

    def _maintain(self) -> None:
        self.store.prune_events(int(self.clock.now()) - self.config.store.event_retention)

    # -- reload ---------------------------------------------------------------
    def reload(self) -> bool:
        """Re-read the config file and apply it; a bad file is refused with one log line."""
        if self.config_path is None:
            log.warning("reload: running the embedded default, there is no config file to re-read")
            return False
        try:
            new = load_config(self.config_path)
            if not new.watches:  # as `sentinel run` refuses it; here mostly a file caught half-written
                raise ConfigError([f"{self.config_path}: no watches configured (an empty or half-written file?)"])
        except ConfigError as exc:
            self.metrics.config_reload_errors.inc()
            log.error("reload refused, keeping the running config: %s", "; ".join(exc.problems))
            return False
        self.reconfigure(new)
        self.metrics.config_reloads.inc()
        return True

    def reconfigure(self, config: Config) -> None:
        """Apply a new config: sources, notifier and watches (added, removed, changed)."""
        old, self.config = self.config, config
        self.cycles.checkpoint_every = config.store.checkpoint_every  # live; the store paths need a restart
        for section in ("server", "store", "tracing"):
            if getattr(old, section) != getattr(config, section):
                log.warning("reload: the %s section changed; it takes effect after a restart", section)
        if self.sources.reconfigure(config):
            for slot in self.slots.values():
                with slot.lock:
                    slot.runner.source = self.sources.for_watch(slot.cfg)
        self.notifier.reconfigure(config)
        new = {w.name: w for w in config.watches}
        for name in [n for n in self.slots if n not in new]:
            slot = self.slots.pop(name)
            if self.scheduler is not None:
                self.scheduler.remove_job(f"watch:{name}")
            with slot.lock:
                self.cycles.checkpoint(slot)
            self.exporter.forget(name)
            self.notifier.reconcile(name, lambda *_: False, int(self.clock.now()),
                                    reason="resolved by sentinel: the watch was removed from the config")
            log.info("reload: watch %s removed (its alerts resolve)", name)
        for name, w in new.items():
            slot = self.slots.get(name)
            if slot is not None and fingerprint(slot.cfg) == fingerprint(w):
                with slot.lock:
                    slot.runner.reconfigure(w)
                    every_changed = slot.cfg.every != w.every
                    slot.cfg = w
                if every_changed and self.scheduler is not None:
                    self._schedule(slot)
                continue
            if slot is not None:
                with slot.lock:
                    self.cycles.checkpoint(slot)
                log.info("reload: watch %s changed its query/step/detector; it starts learning afresh (its open "
                         "alerts stay until the new model's first cycle confirms or resolves them)", name)
            rebuilt = slot is not None
            slot = self._add_slot(w)
            if rebuilt:
                slot.resolve_reason = REBUILT
            if self.scheduler is not None:
                self._schedule(slot)
        log.info("reload: config applied (%d watch(es))", len(self.slots))

    # -- endpoints ------------------------------------------------------------
    def metrics_text(self, accept: str | None = None) -> tuple[bytes, str]:
        """The /metrics body: self-monitoring plus the latest results."""
        return exposition(self.registry, self.exporter, accept)

    def healthy(self) -> tuple[bool, str]:
        if self.scheduler is not None and not self.scheduler.running:
            return False, "scheduler stopped"
        return True, "sentinel is healthy"

    def ready(self) -> tuple[bool, str]:
        """Ready once every watch completed its first cycle and none is stuck in one (:func:`stuck_after`)."""
        pending = sorted(n for n, s in self.slots.items() if not s.ready)
        if pending:
            return False, "waiting for the first cycle of: " + ", ".join(pending)
        now = time.monotonic()
        stuck = sorted(f"{n} (for {now - s.running_since:.0f}s)" for n, s in self.slots.items()
                       if s.running_since is not None
                       and now - s.running_since > stuck_after(self.clock.wall_interval(s.cfg.every)))
        if stuck:
            return False, "cycle running far longer than its interval: " + ", ".join(stuck)
        return True, "sentinel is ready"

    def alerts_json(self, watch: str | None = None, include_resolved: bool = False) -> list[dict[str, Any]]:
        return [a.as_json() for a in self.notifier.outbox.alerts(watch, firing_only=not include_resolved)]
