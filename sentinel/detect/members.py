"""Ensemble members: raw statistics computed on the shared seasonal baseline.

Each member turns one step of a series into a signed statistic, roughly in
units of its own typical size; the ensemble calibrates every member to the
common [0, 1] scale with its own :class:`~sentinel.detect.calibrate.TailCalibrator`.

- :class:`ResidualMember`: how far the value is from the expected value,
  in residual scales (spikes, dips, broken seasonality);
- :class:`ChangeMember`: how far the recent level (short windows of 4 and 16
  steps, the latest value included) is from the long memory, in standard
  errors of those means (level shifts, drifts, changes too small to show as
  one bad point but persistent);
- :class:`VolatilityMember`: how the recent typical residual size compares to
  the learned one (a series turning erratic, or going flat).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np

from sentinel.detect.baseline import SeasonalBaseline

State = dict[str, np.ndarray]


class Member(Protocol):
    """What the ensemble needs from a member."""

    name: ClassVar[str]

    def init_state(self, n: int) -> State: ...

    def statistic(self, st: State, base: SeasonalBaseline, x: np.ndarray, expected: np.ndarray,
                  season: np.ndarray) -> np.ndarray: ...

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None: ...


class ResidualMember:
    """Signed residual ``(x - expected) / scale``."""

    name: ClassVar[str] = "residual"

    def init_state(self, n: int) -> State:
        return {}

    def statistic(self, st: State, base: SeasonalBaseline, x: np.ndarray, expected: np.ndarray,
                  season: np.ndarray) -> np.ndarray:
        r = (x - expected) / base.scale(st)
        return np.where(st["b.n"] >= base.warmup, r, np.nan)

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None:
        """Nothing of its own: the baseline learns the residual scale."""


def _ew_var(alpha: float) -> float:
    """Variance of an exponentially weighted mean of unit-variance white noise."""
    return alpha / (2.0 - alpha)


class ChangeMember:
    """Short-window mean vs long memory, the larger of two window lengths.

    The statistic is normalised by its own decayed mean absolute value
    (guarded), because real residuals are autocorrelated and the white-noise
    standard error understates the natural swing of a window mean.
    """

    name: ClassVar[str] = "change"

    def __init__(self, alpha_norm: float = 0.01) -> None:
        self.alpha_norm = alpha_norm

    def init_state(self, n: int) -> State:
        return {"c.norm": np.full(n, np.nan), "c.k": np.zeros(n)}

    def statistic(self, st: State, base: SeasonalBaseline, x: np.ndarray, expected: np.ndarray,
                  season: np.ndarray) -> np.ndarray:
        sigma = 1.25 * base.scale(st)
        deseason = x - season
        v_slow = _ew_var(base.alpha_slow)
        fast = st["b.fast"] + base.alpha_fast * (deseason - st["b.fast"])
        mid = st["b.mid"] + base.alpha_mid * (deseason - st["b.mid"])
        d_fast = (fast - st["b.slow"]) / (sigma * np.sqrt(_ew_var(base.alpha_fast) + v_slow))
        d_mid = (mid - st["b.slow"]) / (sigma * np.sqrt(_ew_var(base.alpha_mid) + v_slow))
        d = np.where(np.abs(d_mid) >= np.abs(d_fast), d_mid, d_fast)
        norm = st["c.norm"]
        out = d / np.where(np.isfinite(norm) & (norm > 0), norm, 1.0)
        return np.where(st["b.n"] >= base.warmup, out, np.nan)

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None:
        norm = st["c.norm"]
        known = np.isfinite(norm) & (norm > 0)
        ok = np.isfinite(stat) & (weight > 0)
        raw = np.abs(stat) * np.where(known, norm, 1.0)
        raw = np.minimum(raw, np.where(known, 5.0 * norm, np.inf))
        st["c.k"] = k = st["c.k"] + ok
        alpha = np.maximum(self.alpha_norm, 1.0 / np.maximum(k, 1.0)) * weight
        upd = np.where(known, norm, 0.0) + alpha * (raw - np.where(known, norm, 0.0))
        st["c.norm"] = np.where(ok, upd, norm)


class VolatilityMember:
    """Recent typical residual size vs the learned one: noise bursts up, flatlines down.

    ``log`` of a short exponentially weighted mean of ``|residual| / scale``
    (the latest point included); the scale is the long, guarded mean of
    ``|residual|``, so the statistic sits near 0 on normal data, is large and
    positive when a series turns erratic and large and negative when it goes
    flat (a stuck sensor, a silent agent that reports a constant).
    """

    name: ClassVar[str] = "volatility"

    def __init__(self, alpha: float = 1 / 8, alpha_norm: float = 0.01) -> None:
        self.alpha = alpha
        self.alpha_norm = alpha_norm

    def init_state(self, n: int) -> State:
        return {"v.short": np.ones(n), "v.next": np.ones(n), "v.norm": np.full(n, np.nan), "v.k": np.zeros(n)}

    def statistic(self, st: State, base: SeasonalBaseline, x: np.ndarray, expected: np.ndarray,
                  season: np.ndarray) -> np.ndarray:
        z = np.minimum(np.abs(x - expected) / base.scale(st), 50.0)
        nxt = st["v.short"] + self.alpha * (z - st["v.short"])
        st["v.next"] = np.where(np.isnan(nxt), st["v.short"], nxt)
        raw = np.log(np.maximum(nxt, 1e-3))
        norm = st["v.norm"]
        out = raw / np.where(norm > 0, norm, 1.0)
        return np.where(st["b.n"] >= base.warmup, out, np.nan)

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None:
        ok = ~np.isnan(stat)
        st["v.short"] = np.where(ok, st["v.next"], st["v.short"])
        norm = st["v.norm"]
        known = norm > 0
        raw = np.abs(stat) * np.where(known, norm, 1.0)
        raw = np.minimum(raw, np.where(known, 5.0 * norm, np.inf))
        use = ok & (weight > 0)
        st["v.k"] = k = st["v.k"] + use
        alpha = np.maximum(self.alpha_norm, 1.0 / np.maximum(k, 1.0)) * weight
        base = np.where(known, norm, 0.0)
        st["v.norm"] = np.where(use, base + alpha * (raw - base), norm)


class RangeMember:
    """How far a value lies beyond the range the series has shown: new records.

    The learned range (``r.hi`` / ``r.lo``) is widened by every accepted point
    and shrinks slowly (``shrink`` of its width per step) where it is not
    refreshed, so an old extreme is forgotten over a few thousand steps.
    The statistic is 0 inside the range and the excess in residual scales
    outside it: a slow drift to a level never seen before scores even when
    each step is small.
    """

    name: ClassVar[str] = "range"

    def __init__(self, shrink: float = 1 / 2000, min_points: int = 50) -> None:
        self.shrink = shrink
        self.min_points = min_points

    def init_state(self, n: int) -> State:
        return {"r.hi": np.full(n, np.nan), "r.lo": np.full(n, np.nan)}

    def statistic(self, st: State, base: SeasonalBaseline, x: np.ndarray, expected: np.ndarray,
                  season: np.ndarray) -> np.ndarray:
        hi, lo = st["r.hi"], st["r.lo"]
        over = np.maximum(x - hi, 0.0) - np.maximum(lo - x, 0.0)
        out = over / base.scale(st)
        return np.where((st["b.n"] >= self.min_points) & ~np.isnan(hi), out, np.where(np.isnan(x), np.nan, 0.0))

    def learn(self, st: State, stat: np.ndarray, weight: np.ndarray) -> None:
        """Needs the value itself: see :meth:`learn_value` (the ensemble calls both)."""

    def learn_value(self, st: State, x: np.ndarray, weight: np.ndarray) -> None:
        ok = ~np.isnan(x) & (weight > 0.5)
        hi, lo = st["r.hi"], st["r.lo"]
        fresh = ok & np.isnan(hi)
        width = np.where(np.isnan(hi), 0.0, hi - lo) * self.shrink
        st["r.hi"] = np.where(fresh, x, np.where(ok, np.maximum(x, hi - width), hi - width))
        st["r.lo"] = np.where(fresh, x, np.where(ok, np.minimum(x, lo + width), lo + width))
