"""Policy: turns calibrated scores into alert state (firing / resolved).

The rules an SRE expects from Prometheus alerting, plus the ones that keep
anomaly alerts quiet:

- **threshold**: a point breaches when its score >= threshold; once an
  episode has started (pending or firing) it also goes on while the value
  stays outside the expected band, because detectors may lower the score of
  the rest of an event they already flagged (and re-anchor after a lasting
  shift): the episode lasts as long as the deviation, not the surprise;
- **direction** and **min_deviation**: it only counts when the value moved
  the harmful way, and the alert only fires once the deviation is big enough
  (absolute, or relative to the expected value: a 3-sigma wobble of 2 ms is
  not worth a page; a change flagged early may still grow past the minimum);
- **for**: the breach must last this long before the alert fires, and
  outlast the series' own routine runs outside the band
  (:mod:`sentinel.alerting.routine`: a report at a routine burst's first
  sample, or just before it, held by the band, is not an event);
- **density**: the alert also fires once ``count`` separate excursions
  outside the band began ``within`` a window with a report among them
  (:mod:`sentinel.alerting.density`: noise that turns erratic breaches
  every few minutes, and no breach lasts ``for``), and then resolves only
  once the window holds no excursion;
- **hysteresis** / **resolve_after**: a firing alert resolves only once the
  score has stayed below ``threshold - hysteresis`` and the value inside the
  band for ``resolve_after``;
- **absent_for**: a series that stops reporting raises an ``absent`` alert
  (a silent agent is an incident, not an absence of incidents), also when
  the source stops returning it at all (:mod:`sentinel.alerting.absent`),
  but not when its scrape target was removed (:meth:`Policy.vanished`, :meth:`Policy.removed`);
- **stuck**: a series that repeats one value far longer than it ever has
  (a frozen exporter, a hung agent re-reporting its last gauge) raises a
  ``stuck`` alert once the detector's stuck condition
  (:attr:`~sentinel.detect.base.Scores.stuck`, :mod:`sentinel.detect.stuck`)
  has held for ``for``, and resolves at the first value that differs.  It is
  a condition like ``absent``, not a score: the detector reports a stuck
  run once, which never lasts ``for``.  The value changing ends it for sure
  (a new run needs its own dozens of values to be stuck again), so it
  resolves at once, without ``resolve_after``; missing values hold it
  (:mod:`sentinel.alerting.stuck`).
- **drift**: a series whose recent level is beyond every level it held in
  the past days (a slow ramp, a lost daily cycle) raises a ``drift`` alert
  while that holds (:mod:`sentinel.alerting.drift`);
- **scale**: the anomaly alert also fires once the recent mean deviation has stayed far beyond
  its usual size for ``scale`` (jitter that triples, which the band learns: :mod:`sentinel.alerting.scale`).

State is a handful of numpy arrays over series, so 100k series cost a few
vector operations per step.  The policy learns one thing, how long the
series' routine excursions last, and never reaches back into the detector.

>>> import numpy as np
>>> from sentinel.config import AlertPolicyConfig
>>> from sentinel.detect.scores import Scores
>>> from sentinel.series import Batch
>>> b = Batch.from_rows([{"agent": "a"}], timestamps=[0, 60, 120, 180], values=[[1, 9, 9, 1]])
>>> s = Scores(np.array([[0.1, 0.999, 0.999, 0.1]]), np.ones((1, 4)), np.zeros((1, 4)), 2 * np.ones((1, 4)))
>>> p = Policy(AlertPolicyConfig.model_validate({"for": "1m", "direction": "up"}), watch="w")
>>> [(e.status, e.at) for e in p.update(b, s)]
[('firing', 120), ('resolved', 180)]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sentinel.alerting import absent, density, drift, peak, routine, scale, stuck
from sentinel.alerting.event import AlertEvent, describe
from sentinel.config import AlertPolicyConfig
from sentinel.detect.scores import Scores
from sentinel.series import Batch, Labels
from sentinel.series_index import SeriesIndex, compact

_NEVER = np.iinfo(np.int64).min
STUCK_STATE = stuck.STATE
LATER_STATE = (*STUCK_STATE, *routine.STATE, *drift.STATE, *density.STATE, *peak.STATE, *scale.STATE)
"""State added after the first checkpoint format: the stuck alert, routine runs, drift alert, density
condition, episode peak, scale condition. A checkpoint written before one of them lacks its arrays; they start fresh."""


class Policy:
    """Alert state for every series of one watch (see the module docstring)."""

    def __init__(self, cfg: AlertPolicyConfig, watch: str) -> None:
        self.cfg = cfg
        self.watch = watch
        self.index_ = SeriesIndex()
        self.state_: dict[str, np.ndarray] = self._init_state(0)

    @staticmethod
    def _init_state(n: int) -> dict[str, np.ndarray]:
        never = np.full(n, _NEVER, dtype=np.int64)
        return {
            "firing": np.zeros(n, dtype=bool),
            "absent": np.zeros(n, dtype=bool),
            "pending_since": never.copy(),
            **routine.init_state(n),
            "below_since": never.copy(),
            "started_at": never.copy(),
            "last_seen": never.copy(),
            "absent_at": never.copy(),
            **stuck.init_state(n),
            **drift.init_state(n),
            **density.init_state(n),
            **peak.init_state(n),
            **scale.init_state(n),
        }

    def _grow(self, n: int) -> None:
        have = len(self.state_["firing"])
        if n > have:
            fresh = self._init_state(n - have)
            self.state_ = {k: np.concatenate([v, fresh[k]]) for k, v in self.state_.items()}

    def _harmful(self, dev: np.ndarray) -> np.ndarray:
        """The value moved the harmful way."""
        if self.cfg.direction == "up":
            return dev > 0
        if self.cfg.direction == "down":
            return dev < 0
        return np.ones_like(dev, dtype=bool)

    def _big_enough(self, dev: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """The deviation reaches min_deviation (absolute, or relative to the expected value)."""
        md = self.cfg.min_deviation
        if md.value <= 0:
            return np.ones_like(dev, dtype=bool)
        return np.abs(dev) >= md.value * (np.abs(expected) if md.relative else 1.0)

    def update(self, batch: Batch, scores: Scores) -> list[AlertEvent]:
        """Advance alert state through the batch; return the transitions in time order."""
        if not self.cfg.enabled:
            return []
        rows = self.index_.rows(batch.labels)
        self._grow(len(self.index_))
        st = {k: v[rows] for k, v in self.state_.items()}
        cfg = self.cfg
        resolve_level = cfg.threshold - cfg.hysteresis
        events: list[AlertEvent] = []
        for j, t in enumerate(batch.timestamps.tolist()):
            x = batch.values[:, j]
            s = scores.score[:, j]
            seen = ~np.isnan(x) & ~np.isnan(s)
            with np.errstate(over="ignore"):  # a value near the float limit deviates by inf: still harmful
                dev = x - scores.expected[:, j]
            harmful = seen & self._harmful(dev)
            above, below = x > scores.upper[:, j], x < scores.lower[:, j]
            outside = above | below
            open_ = st["firing"] | (st["pending_since"] != _NEVER)
            breach = harmful & ((s >= cfg.threshold) | (open_ & outside))
            still_bad = harmful & ((s >= resolve_level) | outside)
            members = {k: v[:, j] for k, v in scores.members.items()} if scores.members else None
            peak.track(st, breach & ~open_, breach | st["firing"], s, members, cfg.threshold)

            # pending -> firing after `for`, once the deviation is big enough (a detector often
            # flags a change before it has grown past min_deviation)
            st["pending_since"] = np.where(breach & (st["pending_since"] == _NEVER), t, st["pending_since"])
            st["pending_since"] = np.where(~breach & ~st["firing"], _NEVER, st["pending_since"])
            big = self._big_enough(dev, scores.expected[:, j])
            fire = ~st["firing"] & breach & big & (t - st["pending_since"] >= cfg.for_)
            routine.breach_out(st, t, breach & outside, st["pending_since"])
            fire = routine.outlasted(st, t, fire, dev, st["pending_since"])
            dense = None
            if cfg.density is not None:  # or intermittent breaches, dense enough (sentinel.alerting.density)
                out = np.stack([harmful & above, harmful & below], axis=1)
                deep = out & (big & density.deep(dev, scores.lower[:, j], scores.upper[:, j]))[:, None]
                report = harmful & (s >= cfg.threshold)
                dense = density.step(st, t, out, deep, seen, report, cfg.density.count, cfg.density.within)
                dense &= ~st["firing"] & ~fire
                fire |= dense
            erratic = None  # or a deviation that stays beyond its usual size (sentinel.alerting.scale)
            if cfg.scale is not None:
                erratic = scale.due(st, t, batch.step, np.where(seen, dev, np.nan), harmful, big,
                                    harmful & (s >= cfg.threshold), max(cfg.for_, cfg.scale)) & ~st["firing"] & ~fire
                fire |= erratic
            # firing -> resolved after hysteresis + resolve_after (missing data holds state)
            calm = st["firing"] & seen & ~still_bad
            st["below_since"] = np.where(calm & (st["below_since"] == _NEVER), t, st["below_since"])
            st["below_since"] = np.where(st["firing"] & still_bad, _NEVER, st["below_since"])
            resolve = calm & (t - st["below_since"] >= cfg.resolve_after)
            if cfg.density is not None:  # not while excursions go on: an erratic series would flap
                resolve &= ~density.held(st, t, cfg.density.within)
            if cfg.scale is not None:  # nor while the scale stays beyond the usual
                resolve &= st["scale_since"] == scale.NEVER

            for i in np.flatnonzero(fire):
                events.append(self._event("firing", batch.labels[i], t, t, x[i], scores, st, i, j))
                if dense is not None and dense[i]:
                    events[-1].description += f"; {density.MARK}{density.summary_of(st, i, t, cfg.density)}"
                if erratic is not None and erratic[i]:
                    events[-1].description += f"; {scale.MARK}{scale.summary_of(st, i)}"
            for i in np.flatnonzero(resolve):
                events.append(self._event("resolved", batch.labels[i], int(st["started_at"][i]), t, x[i], scores, st,
                                          i, j))
            st["started_at"] = np.where(fire, t, st["started_at"])
            st["firing"] = (st["firing"] | fire) & ~resolve
            st["below_since"] = np.where(resolve, _NEVER, st["below_since"])
            st["pending_since"] = np.where(resolve, _NEVER, st["pending_since"])
            routine.track(st, t, seen, harmful & above, harmful & below, st["firing"], routine.CAP * cfg.for_)
            if cfg.density is not None:
                density.end(st, t, st["firing"], cfg.density.within)

            # absent: seen before, silent for `absent_for` (sentinel.alerting.absent)
            silent_since = st["last_seen"]
            absent.seen(st, t, x)
            if cfg.absent_for is not None:
                gone, back = absent.step(st, t, cfg.absent_for)
                events += [self._absent("firing", batch.labels[i], t, t, int(silent_since[i])) for i in gone]
                events += [self._absent("resolved", batch.labels[i], int(st["absent_at"][i]), t, int(silent_since[i]))
                           for i in back]
            if cfg.stuck and scores.stuck is not None:
                events += self._stuck_step(st, batch, scores, j, t)
            if cfg.drift is not None and scores.drift is not None:
                events += self._drift_step(st, batch, scores, j, t)
        for k, v in st.items():
            self.state_[k][rows] = v
        if cfg.absent_for is not None and batch.n_steps:  # known series the batch does not carry at all
            gone, at = absent.missing(self.state_, rows, batch.timestamps, cfg.absent_for)
            if len(gone):
                events += [self._absent("firing", self.index_.keys[i], int(a), int(a), int(self.state_["last_seen"][i]))
                           for i, a in zip(gone.tolist(), at.tolist(), strict=True)]
                events.sort(key=lambda e: e.at)
        return events

    def _stuck_step(self, st: dict[str, np.ndarray], batch: Batch, scores: Scores, j: int, t: int) -> list[AlertEvent]:
        """Advance the ``stuck`` alert through column ``j`` at time ``t`` (:mod:`sentinel.alerting.stuck`)."""
        assert scores.stuck is not None
        x = batch.values[:, j]
        fire, resolve, was, before = stuck.step(st, t, x, scores.stuck[:, j], self.cfg.for_)
        firing = [(i, t, int(st["run_from"][i])) for i in fire.tolist()]  # (row, episode start, run start)
        resolved = [(i, int(st["stuck_at"][i]), int(was[i])) for i in resolve.tolist()]
        return [self._condition("stuck", status, batch, scores, i, j, t, start,
                                *stuck.texts(status, self.watch, batch.labels[i], float(x[i]), float(before[i]), run,
                                             t))
                for status, rows in (("firing", firing), ("resolved", resolved)) for i, start, run in rows]

    def _drift_step(self, st: dict[str, np.ndarray], batch: Batch, scores: Scores, j: int, t: int) -> list[AlertEvent]:
        """Advance the ``drift`` alert through column ``j`` at time ``t`` (:mod:`sentinel.alerting.drift`)."""
        assert scores.drift is not None
        excess, expected = scores.drift[:, j], scores.expected[:, j]
        ok = self._harmful(excess) & self._big_enough(excess, expected)
        fire, resolve = drift.step(st, t, excess, ok, max(self.cfg.for_, self.cfg.drift or 0))
        return [self._condition("drift", status, batch, scores, i, j, t,
                                *drift.texts(status, self.watch, batch.labels[i], float(excess[i]),
                                             float(expected[i]), st, i, t))
                for status, rows in (("firing", fire), ("resolved", resolve)) for i in rows]

    def _condition(self, kind: str, status: str, batch: Batch, scores: Scores, i: int, j: int, t: int,
                   starts_at: int, summary: str, description: str) -> AlertEvent:
        """A ``stuck`` or ``drift`` transition of row ``i`` at column ``j`` (time ``t``): value, band, score there."""
        return AlertEvent(status=status, watch=self.watch, labels=batch.labels[i], kind=kind, starts_at=starts_at,
                          at=t, severity=self.cfg.severity, value=float(batch.values[i, j]),
                          expected=float(scores.expected[i, j]), lower=float(scores.lower[i, j]),
                          upper=float(scores.upper[i, j]), score=float(scores.score[i, j]), summary=summary,
                          description=description)

    def _event(self, status: str, labels: Labels, starts_at: int, at: int, value: float,
               scores: Scores, st: dict[str, np.ndarray], i: int, j: int) -> AlertEvent:
        """An anomaly transition of row ``i`` at column ``j``: value and band there, the episode's peak score
        and the members that flagged it (:mod:`sentinel.alerting.peak`)."""
        score = float(st["peak_score"][i])
        ev = AlertEvent(
            status=status, watch=self.watch, labels=labels, starts_at=starts_at, at=at,
            severity=self.cfg.severity, value=float(value), expected=float(scores.expected[i, j]),
            lower=float(scores.lower[i, j]), upper=float(scores.upper[i, j]),
            score=float(scores.score[i, j]) if np.isnan(score) else score,
            members=peak.members_of(st, i, list(scores.members or {})),
        )
        ev.summary, ev.description = describe(ev)
        return ev

    def _absent(self, status: str, labels: Labels, starts_at: int, at: int, last_seen: int) -> AlertEvent:
        return absent.event(self.watch, self.cfg.severity, status, labels, starts_at, at, last_seen)

    def vanished(self, batch: Batch) -> list[Labels]:
        """Known series ``batch`` does not carry, absent or going absent by its end (:func:`absent.vanished`):
        the ones whose scrape target the runner asks the source about.  Changes nothing."""
        if self.cfg.absent_for is None or not self.cfg.enabled or not batch.n_steps:
            return []
        rows = self.index_.find(batch.labels)
        gone = absent.vanished(self.state_, rows[rows >= 0], batch.end, self.cfg.absent_for)
        return [self.index_.keys[i] for i in gone.tolist()]

    def removed(self, labels: Iterable[Labels], at: int) -> list[AlertEvent]:
        """Series whose scrape target was removed: resolve their open absent alerts at ``at``, saying so (the
        runner then forgets them, so none fires)."""
        rows = self.index_.find(list(labels))
        st = self.state_
        return [absent.event(self.watch, self.cfg.severity, "resolved", self.index_.keys[i], int(st["absent_at"][i]),
                             at, int(st["last_seen"][i]), removed=True)
                for i in rows[rows >= 0].tolist() if st["absent"][i]]

    def forget(self, labels: Iterable[Labels]) -> None:
        """Drop the alert state of series that are gone (:mod:`sentinel.retention`); the daemon's reconcile
        resolves an alert left open on one, since the policy no longer confirms it."""
        keep = self.index_.forget(labels)
        if keep is not None:
            self.state_ = compact(self.state_, keep)

    def firing(self) -> list[Labels]:
        """Series whose anomaly alert is firing now."""
        return [self.index_.keys[i] for i in np.flatnonzero(self.state_["firing"])]
