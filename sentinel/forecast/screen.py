"""A vectorised first pass: which series could reach their limit at all?

Model selection costs up to a second per series, and in a fleet nearly every
disk and memory series is stable.  So before fitting, every series gets a
least-squares line over the whole window and over its most recent quarter
(both vectorised over series, NaN-aware).  A series goes on to the full
forecaster only when a pessimistic reading of either line (slope moved 3
standard errors toward the limit, starting from the farthest the series has
swung toward the limit around its line: seasonal dips count) reaches the
limit within the horizon, or it is already at or beyond the limit.  The others are reported
with the whole-window line as their forecast and no runway.

>>> t = np.arange(0, 86400, 300)
>>> v = np.vstack([1000.0 - t / 60.0, 1000.0 + np.sin(t / 5000.0)])   # a fill and a stable disk
>>> at_risk, line = screen(t, v, limit=0.0, direction="down", horizon=48 * 3600)
>>> at_risk.tolist(), bool(np.all(np.isfinite(line(t[-1] + 3600))))
([True, False], True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_MARGIN_SE = 3.0


def _lines(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-row least-squares slope, its standard error, the mean time and mean value (NaN-aware)."""
    ok = np.isfinite(v)
    n = ok.sum(axis=1)
    tt = np.where(ok, t[None, :].astype(float), 0.0)
    vv = np.where(ok, v, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tbar = tt.sum(axis=1) / n
        vbar = vv.sum(axis=1) / n
        dt = np.where(ok, tt - tbar[:, None], 0.0)
        dv = np.where(ok, vv - vbar[:, None], 0.0)
        sxx = (dt * dt).sum(axis=1)
        slope = (dt * dv).sum(axis=1) / sxx
        resid = np.where(ok, dv - slope[:, None] * dt, 0.0)
        se = np.sqrt((resid * resid).sum(axis=1) / np.maximum(n - 2, 1) / sxx)
    return slope, se, tbar, vbar


def screen(
    t: np.ndarray, v: np.ndarray, limit: float, direction: str, horizon: int
) -> tuple[np.ndarray, Callable[[float], np.ndarray]]:
    """``(at_risk, line)``: a boolean per series, and the whole-window line as a function of time."""
    slope, se, tbar, vbar = _lines(t, v)
    recent = t >= t[-1] - (t[-1] - t[0]) / 4
    r_slope, r_se, _, _ = _lines(t[recent], v[:, recent])
    ok = np.isfinite(v)
    last = v[np.arange(len(v)), v.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)]
    if direction == "auto":
        way = np.where(limit >= last, 1.0, -1.0)
    else:
        way = np.full(len(v), 1.0 if direction == "up" else -1.0)
    at_risk = ~((limit - last) * way > 0)  # crossed already, or no data (let the forecaster say why)
    # the farthest the series has swung toward the limit from its line (seasonal dips, bursts)
    with np.errstate(invalid="ignore"):
        resid = (v - (vbar[:, None] + slope[:, None] * (t - tbar[:, None]))) * way[:, None]
    swing = np.where(ok & np.isfinite(resid), resid, -np.inf).max(axis=1, initial=-np.inf)
    distance = (limit - (vbar + slope * (t[-1] - tbar))) * way - np.where(np.isfinite(swing), swing, 0.0)
    for s, e in ((slope, se), (r_slope, r_se)):
        toward = np.nan_to_num(s * way + _MARGIN_SE * e, nan=np.inf)
        at_risk |= (distance <= 0) | ((toward > 0) & (distance <= toward * horizon))

    def line(at: float) -> np.ndarray:
        return vbar + slope * (at - tbar)

    return at_risk, line
