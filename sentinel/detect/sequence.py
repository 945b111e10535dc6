"""Sequence novelty: how unexpected is this value *after the last few*, in the series' own history?

Residual-based members judge one value against an expected value.  Some
changes never produce an unusual value: a series that starts oscillating
between its usual levels, a daily shape that loses a bump, a counter whose
bursts come in a new rhythm.  Each value is ordinary; the *order* is new.
Contextual detectors (CAD OSE, HTM's sequence memory, ARTime) catch these
by remembering which short patterns have been seen.  This is the cheapest
vectorised version of that idea, per series:

1. quantise the value into ``bins`` equal-width bins of the range the series
   has shown (the range widens at once and forgets ``shrink`` of its width
   per step, as the ensemble's range member does; values outside it fall in
   the edge bins);
2. the context is the last ``order`` bins; keep exponentially decayed counts
   (``decay`` per learned point) of (context, next bin) and of each context;
3. the surprise of a value is ``-log10 P(bin | context)`` with a small prior
   ``(count + a / bins) / (context count + a)``, in decades like every other
   surprise in sentinel.

State per series: ``bins**(order+1)`` + ``bins**order`` float32 counts (320
for the defaults, 1.25 KB) and four numbers.  A step is a few gathers and
scatters over all series; no per-series Python.

The surprise is *not* calibrated (a noisy series is surprised all the
time); :class:`~sentinel.detect.likelihood.Likelihood` calibrates it per
series with its own quantile tracker before it may report anything.

>>> import numpy as np
>>> m = SequenceModel()
>>> st = m.init_state(1)
>>> x = np.tile([0.0, 1.0, 2.0, 3.0], 200)  # a steady rhythm ...
>>> x[600:] = np.tile([0.0, 3.0], 100)        # ... that changes to a new one with the same values
>>> s = np.array([m.step(st, np.array([v]))[0] for v in x])
>>> bool(np.nanmax(s[400:600]) < 0.2), bool(s[600:604].max() > 2.0)
(True, True)
"""

from __future__ import annotations

import numpy as np


class SequenceModel:
    """Decayed order-``order`` transition counts over quantised values (see module doc)."""

    def __init__(self, bins: int = 4, order: int = 3, decay: float = 0.9995, prior: float = 0.5,
                 shrink: float = 1 / 2000, prefix: str = "sq") -> None:
        if bins < 2 or order < 1 or bins ** (order + 1) > 4096:
            raise ValueError("sequence model needs bins >= 2, order >= 1 and bins**(order+1) <= 4096")
        if not 0 < decay <= 1 or prior <= 0 or not 0 <= shrink < 1:
            raise ValueError("sequence model needs 0 < decay <= 1, prior > 0 and 0 <= shrink < 1")
        self.bins = bins
        self.order = order
        self.decay = decay
        self.prior = prior
        self.shrink = shrink
        self.prefix = prefix
        self.n_ctx = bins**order
        self._cache: tuple | None = None

    def init_state(self, n: int) -> dict[str, np.ndarray]:
        p = self.prefix
        return {
            f"{p}.next": np.zeros((n, self.n_ctx * self.bins), dtype=np.float32),  # (context, bin) counts
            f"{p}.ctx": np.zeros((n, self.n_ctx), dtype=np.float32),  # context counts
            f"{p}.inc": np.ones(n),  # weight of the next point (grows by 1/decay: lazy decay)
            f"{p}.lo": np.full(n, np.nan),
            f"{p}.hi": np.full(n, np.nan),
            f"{p}.c": np.zeros(n, dtype=np.int64),  # current context
            f"{p}.n": np.zeros(n, dtype=np.int64),  # values seen
        }

    def _bin(self, st: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        """Bin of ``x`` in the learned range (edge bins outside it; a missing value gets some bin, unused)."""
        p = self.prefix
        lo, hi = st[f"{p}.lo"], st[f"{p}.hi"]
        with np.errstate(invalid="ignore", over="ignore"):
            b = (x - lo) * (self.bins / np.maximum(hi - lo, 1e-300))
        return np.fmax(np.fmin(b, self.bins - 1), 0.0).astype(np.int64)  # fmin/fmax: NaN -> an edge bin

    def _cells(self, st: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat indices of each series' (context, bin) and context cells, and the bins."""
        p = self.prefix
        ctx = st[f"{p}.c"]
        b = self._bin(st, x)
        rows = np.arange(len(x))
        return rows * (self.n_ctx * self.bins) + ctx * self.bins + b, rows * self.n_ctx + ctx, b

    def surprise(self, st: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        """``-log10 P(bin of x | last bins)`` per series; NaN for missing values and the first ``order`` values."""
        p = self.prefix
        cells = self._cells(st, x)
        self._cache = (x, st[f"{p}.c"], st[f"{p}.lo"], cells)  # learn() of the same step reuses the cells
        inv = 1.0 / st[f"{p}.inc"]
        c = st[f"{p}.next"].reshape(-1)[cells[0]] * inv
        tot = st[f"{p}.ctx"].reshape(-1)[cells[1]] * inv
        prob = (c + self.prior / self.bins) / (tot + self.prior)
        ready = np.isfinite(x) & (st[f"{p}.n"] > self.order)
        return np.where(ready, -np.log10(prob), np.nan)

    def learn(self, st: dict[str, np.ndarray], x: np.ndarray) -> None:
        """Count the transition into ``x`` (missing values teach nothing) and update the range."""
        p = self.prefix
        ok = np.isfinite(x)
        if not ok.any():
            return
        x0 = np.where(ok, x, 0.0)
        lo, hi = st[f"{p}.lo"], st[f"{p}.hi"]
        fresh = ok & np.isnan(lo)
        cache = getattr(self, "_cache", None)
        if fresh.any() or cache is None or cache[0] is not x or cache[1] is not st[f"{p}.c"] or cache[2] is not lo:
            lo[fresh] = x0[fresh]
            hi[fresh] = x0[fresh]
            cells = self._cells(st, x0)
        else:
            cells = cache[3]
        self._cache = None
        nxt, ctx_cell, b = cells
        inc = st[f"{p}.inc"]
        add = np.where(ok, inc, 0.0).astype(np.float32)
        for k in (f"{p}.next", f"{p}.ctx"):  # the flat views below must write into the state itself
            if not st[k].flags.c_contiguous:
                st[k] = np.ascontiguousarray(st[k])
        flat_next, flat_ctx = st[f"{p}.next"].reshape(-1), st[f"{p}.ctx"].reshape(-1)
        flat_next[nxt] += add  # one cell per series: no repeated indices
        flat_ctx[ctx_cell] += add
        inc /= np.where(ok, self.decay, 1.0)
        big = inc > 1e18
        if big.any():
            st[f"{p}.next"][big] /= inc[big, None].astype(np.float32)
            st[f"{p}.ctx"][big] /= inc[big, None].astype(np.float32)
            inc[big] = 1.0
        ctx = st[f"{p}.c"]
        st[f"{p}.c"] = np.where(ok, (ctx * self.bins + b) % self.n_ctx, ctx)
        width = np.where(np.isnan(hi), 0.0, hi - lo) * self.shrink
        st[f"{p}.hi"] = np.where(ok, np.maximum(x0, hi - width), hi)
        st[f"{p}.lo"] = np.where(ok, np.minimum(x0, lo + width), lo)
        st[f"{p}.n"] = st[f"{p}.n"] + ok

    def step(self, st: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        """Surprise of ``x``, then learn it (a convenience for tests and notebooks)."""
        s = self.surprise(st, x)
        self.learn(st, x)
        return s
