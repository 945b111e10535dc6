"""Periodic retraining: a batch detector as an online one (detector kind ``stl``).

A batch model (``fit(history)`` then score new data) is the right tool for
seasonal series: a robust decomposition of two weeks sees the daily and weekly
shape at once.  A watch, though, speaks the online protocol
(:class:`~sentinel.detect.base.OnlineDetector`: ``process(batch) -> Scores``,
causal).  :class:`Retrained` bridges the two:

- it keeps a bounded rolling **window** of every series (``state_["r.window"]``,
  series x ``window / step`` float64, a ring indexed by absolute time, so
  appending a cycle costs only the new columns);
- it **refits** the model on that window at the first point where the window
  holds ``min_history`` of data, then at every multiple of ``retrain`` on the
  absolute clock (6 h: 00:00, 06:00, ... UTC).  The refit times depend on the
  timestamps only, so a stream scores the same however it is cut into
  cycles (up to float rounding), and a restart from a checkpoint does not
  refit before the next boundary;
- every point is scored by the **last fit before it** (causal: the score at t
  comes from a model fitted on data before t), continuing the model's level
  memory across cycles (:meth:`~sentinel.detect.stl.STLDetector.advance`).
  Scores, expected values and bands are the model's own, on the common
  calibrated scale (:mod:`sentinel.detect.tail`, fitted on the history's
  honest out-of-sample-like residuals at every refit).

Why not re-calibrate online with :class:`~sentinel.detect.calibrate.TailCalibrator`
(score first, then learn, guard-weighted)?  Measured on the simulated fleet
(14 days of history, 6 h refits, 2 days scored): 12 % of token-rate scores
>= 0.99 instead of 3 % with the fit's own calibration, because a calibrator that
does not learn what it flags never catches up when a refit changes the
residual scale.  The fit's calibration is the better one here; its drift is
reported in ``benchmarks/results/simulator_stl.json``.

A series joins the model at the first refit where the window holds at least
a quarter of ``min_history`` of its points; until then (and for series the
model has not seen) its scores are NaN: "still learning", never an alert.
What a refit learns is the window as it is: the robust (bisquare) fit keeps
spikes out of the profiles, but a level shift is absorbed only at the next
refit, so it shows as one episode lasting up to ``retrain``.

Checkpoints (:mod:`sentinel.detect.persist`) hold the window, the fitted model
and the clock (``first_t_``, ``end_t_``, ``fit_at_``): a reloaded detector
scores identically and refits only when the next boundary comes.

>>> import numpy as np
>>> from sentinel.series import Batch
>>> ts = np.arange(0, 4 * 86400, 300)
>>> x = 10 + 3 * np.sin(2 * np.pi * ts / 86400) + np.random.default_rng(0).normal(0, 0.3, len(ts))
>>> x[-5] += 6
>>> det = Retrained(**check_params({"retrain": "6h", "window": "7d"}), step=300)
>>> s = det.process(Batch.from_rows([{"s": "a"}], ts, x[None, :])).score[0]
>>> bool(np.isnan(s[: 2 * 288]).all()), det.fit_at_ // 3600   # no score before two days of history
(True, 90)
>>> bool(s[-5] > 0.999), bool((s[-4:] < 0.99).all())
(True, True)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np
from prometheus_client import Counter

from sentinel.detect import stream
from sentinel.detect.base import OnlineDetector
from sentinel.detect.multivariate import AgentMultivariateDetector
from sentinel.detect.retrain_params import WRAPPER_DEFAULTS, check_params, check_step
from sentinel.detect.scores import Scores
from sentinel.detect.stl import STLDetector
from sentinel.series import Batch, Labels

__all__ = ["MODELS", "Retrained", "check_params"]

MODELS: dict[str, type] = {"stl": STLDetector, "multivariate": AgentMultivariateDetector}
log = logging.getLogger(__name__)

FITS = Counter("sentinel_retrain_fits", "Refits of periodically retrained detectors, by model and result "
               "(ok; skipped: no series had enough history; error: the model refused the window)",
               ["model", "result"])

class Retrained(OnlineDetector):
    """A batch model refitted on a rolling window every ``retrain`` seconds (see the module docstring)."""

    name: ClassVar[str] = "retrained"
    checkpoint_attrs: ClassVar[tuple[str, ...]] = ("model_", "first_t_", "end_t_", "fit_at_")
    """Learned attributes besides ``state_`` that checkpoints hold (see :mod:`sentinel.detect.persist`)."""

    def __init__(self, model: str = "stl", retrain: int = WRAPPER_DEFAULTS["retrain"],
                 window: int = WRAPPER_DEFAULTS["window"], min_history: int = WRAPPER_DEFAULTS["min_history"],
                 step: int | None = None,
                 params: dict[str, Any] | None = None) -> None:
        super().__init__()
        if model not in MODELS:
            raise ValueError(f"unknown batch model {model!r}: choose from {', '.join(MODELS)}")
        if min(retrain, window, min_history) <= 0 or min_history > window:
            raise ValueError("retrain, window and min_history must be positive, min_history <= window")
        self.model = model
        self.retrain = int(retrain)
        self.window = int(window)
        self.min_history = int(min_history)
        self.step = step
        self.params = dict(params or {})
        if step is not None:
            self._check_step(int(step))
        self.model_: Any = None
        self.first_t_: int | None = None
        self.end_t_: int | None = None
        self.fit_at_: int | None = None

    def get_params(self) -> dict[str, Any]:
        return {"model": self.model, "retrain": self.retrain, "window": self.window,
                "min_history": self.min_history, "step": self.step, "params": self.params}

    def _check_step(self, step: int) -> None:
        check_step(self.window, self.min_history, step)

    @property
    def _cols(self) -> int:
        assert self.step is not None, "the step is known before state is created"
        return self.window // self.step

    def _on_batch(self, batch: Batch) -> None:
        if self.step is None:
            self._check_step(batch.step)
            self.step = int(batch.step)
        elif batch.step != self.step:
            raise ValueError(f"batch step {batch.step}s differs from this detector's step {self.step}s")

    def _init_state(self, n: int) -> dict[str, np.ndarray]:
        return {"r.window": np.full((n, self._cols), np.nan)}

    # -- the window ------------------------------------------------------------------
    def _slots(self, timestamps: np.ndarray) -> np.ndarray:
        return (timestamps // self.step) % self._cols

    def _append(self, rows: np.ndarray, seg: Batch) -> None:
        """Write a segment into the ring; every slot it passes over is cleared first (absent series: NaN)."""
        buf = self.state_["r.window"]
        step, ncol = int(self.step or seg.step), self._cols
        if self.end_t_ is not None:
            passed = (seg.end - self.end_t_) // step
            if passed >= ncol:
                buf[:] = np.nan
            else:
                buf[:, self._slots(self.end_t_ + step * np.arange(1, passed + 1))] = np.nan
        m = min(seg.n_steps, ncol)
        buf[rows[:, None], self._slots(seg.timestamps[-m:])[None, :]] = seg.values[:, -m:]
        if self.first_t_ is None:
            seen = np.isfinite(seg.values).any(axis=0)
            if seen.any():
                self.first_t_ = int(seg.timestamps[int(np.argmax(seen))])
        self.end_t_ = seg.end

    def _history(self, t: int) -> Batch | None:
        """The window before ``t`` for the series with enough points, from its first observed column."""
        step, ncol = int(self.step or 1), self._cols
        ts = t - step * np.arange(ncol, 0, -1, dtype=np.int64)
        values = self.state_["r.window"][:, self._slots(ts)]
        values[:, ts > (self.end_t_ if self.end_t_ is not None else t)] = np.nan
        counts = np.isfinite(values).sum(axis=1)
        rows = np.flatnonzero(counts >= max(10, self.min_history // step // 4))
        if not len(rows):
            return None
        seen = np.isfinite(values[rows]).any(axis=0)
        c0 = int(np.argmax(seen))
        if ncol - c0 < 2:
            return None
        return Batch(ts[c0:], values[rows, c0:], tuple(self.index_.keys[r] for r in rows), step)

    # -- refits ------------------------------------------------------------------------
    def _due_time(self, batch: Batch, j: int) -> float:
        """When the next refit is due (the first fit: once ``min_history`` has passed since the first data)."""
        if self.fit_at_ is not None:
            return (self.fit_at_ // self.retrain + 1) * self.retrain
        first = self.first_t_
        if first is None:
            seen = np.isfinite(batch.values[:, j:]).any(axis=0)
            if not seen.any():
                return math.inf
            first = int(batch.timestamps[j + int(np.argmax(seen))])
        return first + self.min_history

    def _refit(self, t: int) -> None:
        self.fit_at_ = t
        hist = self._history(t)
        if hist is None:
            FITS.labels(self.model, "skipped").inc()
            return
        try:
            self.model_ = MODELS[self.model](**self.params).fit(hist)
        except ValueError as exc:  # e.g. no series carries the agent label: keep the last fit
            FITS.labels(self.model, "error").inc()
            log.warning("%s refit at %d failed (%s); keeping the previous fit", self.model, t, exc)
            return
        FITS.labels(self.model, "ok").inc()

    # -- the online protocol ---------------------------------------------------------------
    def process(self, batch: Batch) -> Scores:
        """Score every column with the last fit before it, add it to the window, refit when due (causal)."""
        j = stream.new_columns(batch, self.step, self.end_t_, self.model)  # skips what was learned (stream.py)
        if batch.n_series == 0:
            return Scores.empty(0, batch.n_steps)
        self._on_batch(batch)
        rows = self.index_.rows(batch.labels)
        self._grow(len(self.index_))
        out = Scores.empty(batch.n_series, batch.n_steps)
        ts = batch.timestamps
        while j < batch.n_steps:
            due = self._due_time(batch, j)
            if ts[j] >= due:
                self._refit(int(ts[j]))
                due = self._due_time(batch, j)
            k = max(int(np.searchsorted(ts, due, side="left")), j + 1)
            seg = batch.window(j, k)
            if self.model_ is not None:
                sc = self.model_.advance(seg)
                for name in ("score", "expected", "lower", "upper"):
                    getattr(out, name)[:, j:k] = getattr(sc, name)
                for name, values in (sc.members or {}).items():  # e.g. which metrics drive an agent's score
                    if out.members is None:
                        out.members = {}
                    out.members.setdefault(name, np.full(out.score.shape, np.nan))[:, j:k] = values
            self._append(rows, seg)
            j = k
        return out

    def score(self, batch: Batch) -> Scores:
        """Scores of ``batch`` under the last fit, learning nothing (NaN before the first fit)."""
        self._on_batch(batch)
        if self.model_ is None:
            return Scores.empty(batch.n_series, batch.n_steps)
        if isinstance(self.model_, AgentMultivariateDetector):
            return self.model_.series_view(batch, advance=False)
        return self.model_.score(batch)

    def learn(self, batch: Batch) -> None:
        """Add ``batch`` to the window (refitting when due) without keeping its scores."""
        self.process(batch)

    def forget(self, labels: Iterable[Labels]) -> None:
        """Drop gone series from the rolling window and from the fitted model (:mod:`sentinel.retention`)."""
        labels = list(labels)
        super().forget(labels)
        if self.model_ is not None:
            self.model_.forget(labels)

    def state_bytes(self) -> int:
        """Bytes of the window plus the fitted model's arrays."""
        fitted = vars(self.model_).values() if self.model_ is not None else ()
        arrays = [a for v in fitted for a in (v if isinstance(v, list) else [v]) if isinstance(a, np.ndarray)]
        return super().state_bytes() + sum(a.nbytes for a in arrays)

    def card_info(self) -> dict[str, Any]:
        """What the model card says about the last fit."""
        m = self.model_
        stl = None if m is None else m if isinstance(m, STLDetector) else next(iter(m.stl_.values()), None)
        return {
            "model": self.model,
            "last_fit_at": None if self.fit_at_ is None else
            datetime.fromtimestamp(self.fit_at_, UTC).isoformat().replace("+00:00", "Z"),
            "fitted_series": None if stl is None else len(stl.index_),
            "fitted_agents": len(m.agents_) if isinstance(m, AgentMultivariateDetector) else None,
            "periods_steps": None if stl is None else list(stl.periods_),
        }
