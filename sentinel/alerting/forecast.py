"""Predictive alerts: "will cross the limit in about X (p = ...)".

Decisions are vectorised over series from a :class:`BatchForecast`:

- **fire** when the median forecast crosses the limit within ``warn_within``
  and the probability of crossing within the horizon is at least
  ``min_probability``.  The probability is the significance test of the
  trend: intervals are calibrated on the series' own forecast errors, so a
  trend that is noise leaves the limit inside the band and ``p`` low;
- **severity** ``critical`` when the runway is under ``critical_within``
  (or the limit is already crossed), else ``warning``; a change of severity
  is re-announced as a firing event;
- **resolve** when the runway recovers (cleanup, trend gone) past a 25 %
  hysteresis margin: no crossing within ``1.25 * warn_within`` or
  ``p < 0.8 * min_probability``, so an alert does not flap at the boundary.

Events are :class:`~sentinel.alerting.event.AlertEvent` s with
``kind="forecast"``, ``value`` = current value, ``expected`` = the limit,
``score`` = probability of crossing.

>>> import numpy as np
>>> from sentinel.config import ForecastConfig
>>> cfg = ForecastConfig(limit=0, warn_within="24h", critical_within="4h")
>>> pol = ForecastPolicy(cfg, "disk")
>>> labels = ((("m", "/"),), (("m", "/data"),))
>>> [(e.status, e.severity) for e in pol.decide(labels, 100, np.array([3600.0, np.nan]), np.array([0.9, 0.0]),
...                                            np.array([5.0, 50.0]))]
[('firing', 'critical')]
>>> [(e.status, e.labels) for e in pol.decide(labels, 200, np.array([np.nan, np.nan]), np.array([0.0, 0.0]),
...                                          np.array([80.0, 50.0]))]
[('resolved', (('m', '/'),))]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sentinel.alerting.event import AlertEvent
from sentinel.config import ForecastConfig, format_duration
from sentinel.forecast.result import BatchForecast
from sentinel.series import Labels, format_labels
from sentinel.series_index import SeriesIndex

_HYSTERESIS = 1.25
_NEVER = np.iinfo(np.int64).min


def severity_by_runway(ttl: np.ndarray, cfg: ForecastConfig, within: float) -> np.ndarray:
    """'' / 'warning' / 'critical' per series for runway ``ttl`` (NaN = none) under ``within`` seconds.

    >>> severity_by_runway(np.array([600.0, 7e4, 9e4, np.nan]), ForecastConfig(), 86400).tolist()
    ['critical', 'warning', '', '']
    """
    crossing = np.nan_to_num(ttl, nan=np.inf) <= within
    crit = crossing & (ttl <= cfg.critical_within)
    return np.where(crit, "critical", np.where(crossing, "warning", ""))


class ForecastPolicy:
    """Predictive alert state for every series of one watch (see the module docstring)."""

    def __init__(self, cfg: ForecastConfig, watch: str) -> None:
        if cfg.limit is None:
            raise ValueError(f"watch {watch!r}: predictive alerts need forecast.limit")
        self.cfg = cfg
        self.watch = watch
        self.index_ = SeriesIndex()
        self.severity_ = np.zeros(0, dtype="<U8")
        self.started_ = np.zeros(0, dtype=np.int64)

    def update(self, bf: BatchForecast) -> list[AlertEvent]:
        """Alert transitions for one round of forecasts."""
        return self.decide(bf.labels, bf.at, bf.time_to_limit, bf.probability, bf.current)

    def decide(
        self, labels: tuple[Labels, ...], at: int, ttl: np.ndarray, prob: np.ndarray, current: np.ndarray
    ) -> list[AlertEvent]:
        """Alert transitions given runway ``ttl`` (s, NaN = none), probability and current value per series."""
        rows = self.index_.rows(labels)
        grow = len(self.index_) - len(self.severity_)
        if grow > 0:
            self.severity_ = np.concatenate([self.severity_, np.full(grow, "", dtype="<U8")])
            self.started_ = np.concatenate([self.started_, np.full(grow, _NEVER, dtype=np.int64)])
        cfg = self.cfg
        p = np.nan_to_num(prob, nan=0.0)
        fire = severity_by_runway(ttl, cfg, cfg.warn_within)
        fire = np.where(p >= cfg.min_probability, fire, "")
        hold = severity_by_runway(ttl, cfg, cfg.warn_within * _HYSTERESIS)
        hold = np.where(p >= cfg.min_probability / _HYSTERESIS, hold, "")
        was = self.severity_[rows]
        now = np.where(was != "", np.where(fire != "", fire, hold), fire)
        events: list[AlertEvent] = []
        for i in np.flatnonzero(now != was).tolist():
            r = rows[i]
            if now[i]:
                if not was[i]:
                    self.started_[r] = at
                events.append(self._event("firing", labels[i], at, str(now[i]), ttl[i], p[i], current[i], r))
            else:
                events.append(self._event("resolved", labels[i], at, str(was[i]), ttl[i], p[i], current[i], r))
        self.severity_[rows] = now
        return events

    def adopt(self, old: ForecastPolicy) -> None:
        """Carry ``old``'s alert state over (a reload changed the forecast section): open alerts stay open
        and the next forecast decides them under the new settings."""
        self.index_, self.severity_, self.started_ = old.index_, old.severity_, old.started_

    def forget(self, labels: Iterable[Labels]) -> None:
        """Drop the state of series that are gone (:mod:`sentinel.retention`; an open alert resolves by reconcile)."""
        keep = self.index_.forget(labels)
        if keep is not None:
            self.severity_, self.started_ = self.severity_[keep], self.started_[keep]

    def _event(self, status: str, labels: Labels, at: int, severity: str, ttl: float, p: float,
               value: float, row: int) -> AlertEvent:
        limit = float(self.cfg.limit)  # type: ignore[arg-type]
        who = format_labels(labels)
        if status == "resolved":
            runway = "not within the horizon" if not np.isfinite(ttl) else f"about {format_duration(ttl)}"
            summary = f"{self.watch}: {who} runway to {limit:g} recovered ({runway})"
        elif ttl <= 0:
            summary = f"{self.watch}: {who} has crossed its limit {limit:g}"
        else:
            summary = f"{self.watch}: {who} will cross {limit:g} in about {format_duration(ttl)} (p = {p:.2f})"
        desc = (f"current value {value:.4g}, limit {limit:g}, probability of crossing within "
                f"{format_duration(self.cfg.horizon)}: {p:.2f}")
        return AlertEvent(status=status, watch=self.watch, labels=labels, starts_at=int(self.started_[row]), at=at,
                          kind="forecast", severity=severity, value=float(value), expected=limit, score=p,
                          summary=summary, description=desc)
