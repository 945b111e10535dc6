"""One scheduled watch inside the daemon: its runner, its restart bookkeeping, its checkpoints.

A :class:`WatchSlot` wraps a :class:`~sentinel.watch.WatchRunner` with what
the daemon adds around a cycle:

- **restore** on start: model + policy state from the last checkpoint and
  the cursor they belong to; the first cycle replays from that cursor (the
  model catches up on what it missed, the policy re-derives the same
  transitions);
- **dedupe**: transitions the replay re-derives that are already in the
  event log are dropped, so a crash never repeats an episode;
- **reconcile**: once caught up, any firing alert in the outbox that the
  policy no longer confirms is resolved, so a crash never strands one;
- **carry**: transitions of a cycle that failed after deciding them (the
  store locked or full while writing the event log or the outbox) are
  written and handed out again by the next cycle -- the runner's cursor has
  moved past their data, so no replay would decide them again;
- **checkpoint** every ``store.checkpoint_every`` (wall clock) and at stop,
  but not while transitions are carried (a restart then replays them from
  the older checkpoint instead of losing them).

A log watch's slot also builds its pattern stage
(:class:`~sentinel.logs.watch.LogWatch`, miner state under
``models_dir/logs``); its per-template series are ordinary series of the
watch's detector and policy, so they are checkpointed and confirmed like
any other, and its open new-pattern alerts are confirmed by the stage itself.

The runner is given no store: the slot writes events, cursor and outbox in
one fixed order (events, outbox, cursor), so a crash between two writes
only ever leads to a replay that the dedupe absorbs.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sentinel import checkpoint
from sentinel.alerting.event import AlertEvent
from sentinel.config import WatchConfig
from sentinel.series import Labels
from sentinel.sources.base import Source
from sentinel.store import Store
from sentinel.watch import CycleResult, WatchRunner

log = logging.getLogger(__name__)

_EventId = tuple[str, str, Labels, int, str]


def _event_id(e: AlertEvent) -> _EventId:
    return (e.kind, e.status, e.labels, e.starts_at, e.severity)


@dataclass
class WatchSlot:
    """A watch's runner plus restart state (see the module docstring)."""

    cfg: WatchConfig
    runner: WatchRunner
    store: Store
    restored_from: int | None = None
    restore_result: str = "missing"  # how the checkpoint restore went (sentinel.checkpoint.restore)
    ready: bool = False
    running_since: float | None = None  # time.monotonic() when the cycle now running started (readiness)
    resolve_reason: str | None = None  # the ``resolution`` of alerts its first reconcile ends (a rebuilt watch)
    last_checkpoint: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _logged: set[_EventId] = field(default_factory=set)
    _unlogged: list[AlertEvent] = field(default_factory=list)  # decided, not yet in the event log
    _unpublished: list[AlertEvent] = field(default_factory=list)  # decided, not yet in the outbox

    @classmethod
    def create(cls, cfg: WatchConfig, source: Source, store: Store, warmup: int) -> WatchSlot:
        """A slot resumed from its checkpoint when one fits this watch, else fresh."""
        patterns = None
        if cfg.logs is not None and cfg.logs.templates:
            from sentinel.logs.watch import LogWatch

            patterns = LogWatch(cfg, source, state_dir=store.models_dir / "logs")  # type: ignore[arg-type]  # a LogSource
        runner = WatchRunner(cfg, source, store=None, warmup=warmup, patterns=patterns)
        restored, result = checkpoint.restore(store.checkpoint_dir(cfg.name), runner)
        slot = cls(cfg, runner, store, restored_from=restored, restore_result=result)
        last = store.cursor(cfg.name)
        if last is not None:
            since = (restored + 1) if restored is not None else last - warmup
            slot._logged = {_event_id(e) for e in store.events(cfg.name, since=since)}
        return slot

    @property
    def name(self) -> str:
        return self.cfg.name

    def cycle(self, now: float) -> CycleResult | None:
        """One cycle; events deduped, logged and filtered for muted series (returned in the result)."""
        result = self.runner.cycle(now)
        if result is None:
            return None
        events = result.events
        if self._logged:
            events = [e for e in events if _event_id(e) not in self._logged]
            self._logged = set()
        muted = self.store.muted(self.name)
        if muted:
            events = [e for e in events if e.labels not in muted or e.status == "resolved"]
        self._unlogged += events
        self._unpublished += events
        self.store.add_events(self._unlogged)  # may raise: kept for the next cycle (module doc: carry)
        self._unlogged = []
        result.events = list(self._unpublished)
        return result

    def published(self) -> None:
        """The outbox holds every transition handed out so far (the daemon calls it after ``observe``)."""
        self._unpublished = []

    def commit(self) -> None:
        """Persist the cursor (after the outbox has the cycle's transitions)."""
        if self.runner.cursor is not None:
            self.store.set_cursor(self.name, self.runner.cursor)

    def confirms(self, kind: str, series: Labels, starts_at: int, severity: str) -> bool:
        """Whether the policies still hold the episode ``(kind, series, starts_at, severity)`` as firing."""
        if kind == "forecast":
            fp = self.runner.forecast_policy
            if fp is None or series not in fp.index_:
                return False
            r = int(fp.index_.rows([series])[0])
            return str(fp.severity_[r]) == severity and int(fp.started_[r]) == starts_at
        pol = self.runner.policy
        if kind == "new_pattern":  # open new-pattern alerts live in the log watch (persisted with its miner)
            patterns = self.runner.patterns
            return patterns is not None and patterns.confirms(series, starts_at)
        if kind not in ("anomaly", "absent", "stuck", "drift"):
            return True  # kinds decided elsewhere resolve through their own events
        if not pol.cfg.enabled or series not in pol.index_:
            return False
        row = int(pol.index_.rows([series])[0])
        st = pol.state_
        if kind == "anomaly":
            return bool(st["firing"][row]) and int(st["started_at"][row]) == starts_at
        if kind == "stuck":
            return bool(st["stuck"][row]) and int(st["stuck_at"][row]) == starts_at
        if kind == "drift":
            return bool(st["drift"][row]) and int(st["drift_at"][row]) == starts_at
        return bool(st["absent"][row]) and int(st["absent_at"][row]) == starts_at

    def checkpoint_due(self, every: float) -> bool:
        return time.monotonic() - self.last_checkpoint >= every

    def save(self) -> float:
        """Write a checkpoint now; returns its wall time in seconds (no-op before the first cycle)."""
        if self.runner.cursor is None:
            return 0.0
        if self._unpublished:  # holds every unlogged transition too (logged first, then published)
            log.warning("watch %s: checkpoint deferred, %d alert transition(s) not yet stored", self.name,
                        len(self._unpublished))
            return 0.0
        t0 = time.perf_counter()
        checkpoint.save(self.store.checkpoint_dir(self.name), self.runner)
        self.last_checkpoint = time.monotonic()
        return time.perf_counter() - t0
