"""The detector protocol shared by every model.

An *online* detector keeps its learned state in numpy arrays whose first axis
is the series (``state_[name][row]``), so one time step of 100k series is a
handful of vector operations.  It implements two per-step methods, in the
spirit of river's ``score_one`` / ``learn_one`` but vectorised over series:

- ``_score_step(state, t, x) -> StepScores``: score column ``x`` (one value
  per series, NaN = missing) at Unix time ``t`` against what was learned so
  far, without learning;
- ``_learn_step(state, t, x, weight)``: learn from ``x`` with a per-series
  weight in [0, 1] (0 = do not learn; this is how a wrapper keeps anomalies
  out of the baseline, see :mod:`sentinel.detect.guard`).

The public methods work on whole :class:`~sentinel.series.Batch` objects:
:meth:`OnlineDetector.process` scores each column, then learns it, so the
score at time t only uses data up to t-1 (causal).  Scores are on one
calibrated scale: ``score`` in [0, 1] is one minus the tail probability under
the learned normal, and every score carries the expected value and a band.

Batch detectors (``fit(history) -> self``, ``score(batch)``) follow
scikit-learn: parameters in ``__init__``, learned attributes end in ``_``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np

from sentinel.detect import stream
from sentinel.detect.scores import Scores, StepScores
from sentinel.series import Batch, Labels
from sentinel.series_index import SeriesIndex, compact


class _Replay:
    """Stands in for a wrapper's inner detector: serves the per-step scores the inner computed for a batch."""

    def __init__(self, scores: Scores, timestamps: np.ndarray) -> None:
        self.scores = scores
        self.column = {t: j for j, t in enumerate(timestamps.tolist())}

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        s, j = self.scores, self.column[t]
        members = {k: v[:, j] for k, v in s.members.items()} if s.members else None
        stuck = None if s.stuck is None else s.stuck[:, j]
        drift = None if s.drift is None else s.drift[:, j]
        return StepScores(s.score[:, j], s.expected[:, j], s.lower[:, j], s.upper[:, j], members, stuck, drift)

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        """The inner detector has learned the batch already."""


class OnlineDetector:
    """Base class: series bookkeeping, batch loops and persistence.

    Subclasses define ``_init_state(n)`` (fresh state arrays for n series),
    ``_score_step`` and ``_learn_step``.  Everything learned lives in
    ``state_`` so that checkpointing is ``dict(state_)`` plus the params,
    and ``end_t_``: the last time learned, which keeps the stream on one
    step and grid, moving forward (:mod:`sentinel.detect.stream`).
    """

    name: ClassVar[str] = "online"
    checkpoint_attrs: ClassVar[tuple[str, ...]] = ("end_t_",)
    """Learned attributes besides ``state_`` that checkpoints hold (see :mod:`sentinel.detect.persist`)."""

    def __init__(self) -> None:
        self.index_ = SeriesIndex()
        self.state_: dict[str, np.ndarray] = {}
        self.end_t_: int | None = None

    # -- to implement ---------------------------------------------------------
    def _init_state(self, n: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        raise NotImplementedError

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        raise NotImplementedError

    def _rebase(self, state: dict[str, np.ndarray], mask: np.ndarray) -> None:
        """Accept a sustained shift in the masked series (called by the guard; default: nothing)."""

    def _process_replayed(self, state: dict[str, np.ndarray], batch: Batch) -> Scores:
        """``_process_state`` for a wrapper whose inner detector (``self.inner``) runs a batch faster alone.

        Valid for a wrapper that passes the learning weight through to the
        inner unchanged and reads only the inner's scores, never its state
        (the likelihood does): then the inner's learning does not depend on
        the wrapper, so the inner may score and learn the whole batch first
        (the guarded ensemble's compiled pass) and the wrapper's own steps
        replay those scores.  Same numbers as the step-by-step loop.
        """
        inner = self.inner  # type: ignore[attr-defined]
        scores = inner._process_state(state, batch)
        self.inner = _Replay(scores, batch.timestamps)  # type: ignore[attr-defined]
        try:
            return OnlineDetector._process_state(self, state, batch)
        finally:
            self.inner = inner  # type: ignore[attr-defined]

    def _on_batch(self, batch: Batch) -> None:
        """Hook run before a batch is gathered (e.g. to learn the sampling step)."""

    def _process_state(self, state: dict[str, np.ndarray], batch: Batch) -> Scores:
        """Score then learn every column of ``batch`` on the gathered ``state``, one step at a time.

        A detector that can run a whole batch in one compiled pass (the
        guarded ensemble) overrides this; the results must be the same.
        """
        out = Scores.empty(batch.n_series, batch.n_steps)
        ones = np.ones(batch.n_series)
        for j, t in enumerate(batch.timestamps.tolist()):
            x = batch.values[:, j]
            out.put(j, self._score_step(state, t, x))
            self._learn_step(state, t, x, ones)
        return out

    # -- public API -----------------------------------------------------------
    @property
    def n_series(self) -> int:
        return len(self.index_)

    def sampling_step(self) -> int | None:
        """The step this detector learns at: given when it was built, else its first batch's (None before)."""
        step = getattr(self, "step", None)
        inner = getattr(self, "inner", None)
        if step is None and isinstance(inner, OnlineDetector):
            return inner.sampling_step()
        return None if step is None else int(step)

    def _new_part(self, batch: Batch) -> tuple[int, Batch]:
        """``(skipped, rest)``: the columns of ``batch`` learned already and the batch after them
        (:func:`sentinel.detect.stream.new_columns`: another step or grid is refused)."""
        j = stream.new_columns(batch, self.sampling_step(), self.end_t_, self.name)
        return j, batch.window(j) if j else batch

    def process(self, batch: Batch) -> Scores:
        """Score every column, then learn it (causal: row t sees rows < t).

        The batch must continue the stream on the detector's step and grid;
        columns at or before the last time learned are skipped, NaN in the
        scores (:mod:`sentinel.detect.stream`).
        """
        skipped, part = self._new_part(batch)
        if batch.n_series == 0 or part.n_steps == 0:  # an empty query result, or nothing new: nothing to learn
            return Scores.empty(batch.n_series, batch.n_steps)
        self._on_batch(part)
        rows, state = self._gather(part)
        out = self._process_state(state, part)
        self._scatter(rows, state)
        self.end_t_ = part.end
        return stream.behind(out, skipped) if skipped else out

    def score(self, batch: Batch) -> Scores:
        """Score every column against the current state, learning nothing (any time range, the detector's step).

        Scoring writes per-step scratch into the state it is given (the last
        score, its time), so it works on a copy: a concurrent reader of
        ``state_`` (the exporter, a notebook) never sees a half-scored batch.
        """
        stream.check_step(batch, self.sampling_step())
        self._on_batch(batch)
        _, state = self._gather(batch, copy=True)
        out = Scores.empty(batch.n_series, batch.n_steps)
        for j, t in enumerate(batch.timestamps.tolist()):
            out.put(j, self._score_step(state, t, batch.values[:, j]))
        return out

    def learn(self, batch: Batch) -> None:
        """Learn every column without scoring (the same stream rules as :meth:`process`)."""
        _, batch = self._new_part(batch)
        if batch.n_series == 0 or batch.n_steps == 0:
            return
        self._on_batch(batch)
        rows, state = self._gather(batch)
        ones = np.ones(batch.n_series)
        for j, t in enumerate(batch.timestamps.tolist()):
            self._learn_step(state, t, batch.values[:, j], ones)
        self._scatter(rows, state)
        self.end_t_ = batch.end

    def set_state(self, labels: Labels, key: str, value: float) -> None:
        """Set one state value of one series, creating the series if new.

        For per-series settings that live in the state, e.g. a clock offset
        (``b.offset`` of the seasonal baseline: the series' own time is the
        batch time plus this many seconds).
        """
        row = int(self.index_.rows([labels])[0])
        self._grow(len(self.index_))
        if key not in self.state_:
            raise KeyError(f"{type(self).__name__} has no state {key!r}")
        self.state_[key][row] = value

    def forget(self, labels: Iterable[Labels]) -> None:
        """Drop the learned state of series that are gone (:mod:`sentinel.retention`); one that comes back
        starts fresh.  Wrappers share their inner's index and hold the whole state, so the outermost does it once.
        """
        keep = self.index_.forget(labels)
        if keep is not None and self.state_:
            self.state_ = compact(self.state_, keep)

    def state_bytes(self) -> int:
        """Bytes of learned state (for the memory-per-series benchmark)."""
        return sum(a.nbytes for a in self.state_.values())

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (scikit-learn style), for checkpoints."""
        return {f.name: getattr(self, f.name) for f in fields(self)} if hasattr(self, "__dataclass_fields__") else {}

    # -- series bookkeeping ---------------------------------------------------
    def _gather(self, batch: Batch, copy: bool = False) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """State rows for the batch's series, growing state for new series.

        Returns ``(None, state_)`` when the batch covers all known series in
        order (the common case: no copies, unless ``copy``), otherwise a gathered copy.
        """
        rows = self.index_.rows(batch.labels)  # the same series as last time is a cheap comparison
        self._grow(len(self.index_))
        if len(rows) == len(self.index_) and np.array_equal(rows, np.arange(len(rows))):
            return None, {k: v.copy() for k, v in self.state_.items()} if copy else self.state_
        return rows, {k: v[rows] for k, v in self.state_.items()}

    def _scatter(self, rows: np.ndarray | None, state: dict[str, np.ndarray]) -> None:
        if rows is not None:
            for k, v in state.items():
                self.state_[k][rows] = v

    def _fill_missing(self, state: dict[str, np.ndarray]) -> None:
        """Add the state arrays a checkpoint written by an older version lacks (default: the inner's, if any)."""
        inner = getattr(self, "inner", None)
        if isinstance(inner, OnlineDetector):
            inner._fill_missing(state)

    def _grow(self, n: int) -> None:
        if self.state_:
            self._fill_missing(self.state_)
        have = next(iter(self.state_.values())).shape[0] if self.state_ else 0
        if n <= have:
            return
        fresh = self._init_state(n - have)
        if not self.state_:
            self.state_ = fresh
        else:
            self.state_ = {k: np.concatenate([v, fresh[k]]) for k, v in self.state_.items()}
