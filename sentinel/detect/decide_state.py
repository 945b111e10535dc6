"""The decision layer's state in a detector's ``state_``: which ``lk.*`` arrays, how they start, and older checkpoints.

:class:`~sentinel.detect.likelihood.Likelihood` keeps its per-series state
next to its inner detector's in one dict (so checkpoints and series growth
work as for any detector), and its kernels take it as
:class:`sentinel.detect.decide.Arrays`.  Which arrays there are depends on
the channels the parameters turn on, never on the data; a checkpoint of an
older version lacks the arrays of channels added since, and gets them in
their starting state (:meth:`Layout.fill_missing`) rather than being
refused: weeks of learned seasonality outweigh a channel's warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sentinel.detect import decide
from sentinel.detect import sequence as sq
from sentinel.detect.sequence import SequenceModel

_EMPTY = np.empty(0)
_EMPTY_INT = np.empty(0, dtype=np.int64)
_KEYS = ("lk.q", "lk.env", "lk.n", "lk.L", "lk.t", "lk.qs", "lk.S", "lk.ew", "lk.rlo", "lk.rhi", "lk.elo", "lk.ehi",
         "lk.nv", "lk.rt", "lk.E", "lk.kb", "lk.klo", "lk.khi", "lk.kc", "lk.cb", "lk.cm", "lk.clo", "lk.chi",
         "lk.sv", "lk.sr", "lk.sm", "lk.sc", "lk.sb")
_INT_KEYS = ("lk.n", "lk.t", "lk.nv", "lk.kc", "lk.sr", "lk.sc")
_EMPTY_2D = {"lk.kb": np.empty((0, 0)), "lk.cb": np.empty((0, 0), dtype=np.float32)}
_NO_SEQ = sq.Arrays(np.empty((0, 0), dtype=np.float32), _EMPTY, _EMPTY, _EMPTY,
                    np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
_NO_SEQ_PARAMS = sq.Params(2, 1, 2, 1.0, 1.0, 0.5, 0.0, 1)  # placeholder: the kernels never read it without a channel


@dataclass(frozen=True)
class Layout:
    """What the wrapper's parameters decide about its state (the sampling step, learned later, does not)."""

    start: float  # where the quantile trackers start (decades)
    seq: SequenceModel | None  # the sequence channel (None: off)
    novelty: bool
    floor: bool  # the deviation floor
    budget: bool
    budget_rate: float  # the budget's starting rate
    rise_k: int  # 0: no rise check
    ceil_blocks: int  # 0: no ceiling check
    stuck: bool = False  # the stuck check

    def initial(self, n: int) -> dict[str, np.ndarray]:
        """The state of ``n`` new series (the inner's not included)."""
        st = {
            "lk.q": np.full(n, float(self.start)),  # quantile of L at level q (decades)
            "lk.env": np.zeros(n),  # refractory envelope of Lrel
            "lk.n": np.zeros(n, dtype=np.int64),  # scored samples so far
            "lk.L": np.full(n, np.nan),  # L of the last scored step (NaN: no score)
            "lk.t": np.full(n, np.iinfo(np.int64).min, dtype=np.int64),
        }
        if self.seq is not None:
            st.update(self.seq.init_state(n))
            st["lk.qs"] = np.full(n, float(self.start))  # quantile of the sequence surprise S at level q
            st["lk.S"] = np.full(n, np.nan)  # S of the last scored step
        st.update(self._novelty(n))
        st.update(self._budget(n))
        st.update(self._floor(n))
        st.update(self._scale(n))
        st.update(self._stuck(n))
        return st

    def _stuck(self, n: int) -> dict[str, np.ndarray]:
        """The stuck check's state: no last value, no run, no run longer than 1 seen, nothing learned, not resting."""
        if not self.stuck:
            return {}
        return {"lk.sv": np.full(n, np.nan), "lk.sr": np.zeros(n, dtype=np.int64), "lk.sm": np.ones(n),
                "lk.sc": np.zeros(n, dtype=np.int64), "lk.sb": np.zeros(n)}

    def _scale(self, n: int) -> dict[str, np.ndarray]:
        """The rise and ceiling checks' state: nothing kept, no ranges (each waits ``n_warm`` values' worth)."""
        st: dict[str, np.ndarray] = {}
        if self.rise_k:
            st.update({"lk.kb": np.full((n, self.rise_k - 1), np.nan), "lk.klo": np.full(n, np.nan),
                       "lk.khi": np.full(n, np.nan)})
        if self.ceil_blocks:
            st.update({"lk.cb": np.full((n, self.ceil_blocks), np.nan, dtype=np.float32),
                       "lk.cm": np.full(n, np.nan), "lk.clo": np.full(n, np.nan), "lk.chi": np.full(n, np.nan)})
        if st:
            st["lk.kc"] = np.zeros(n, dtype=np.int64)
        return st

    def _floor(self, n: int) -> dict[str, np.ndarray]:
        """The deviation floor's memory of the inner's expected value at the last scored step (NaN: none yet)."""
        return {"lk.E": np.full(n, np.nan)} if self.floor else {}

    def _budget(self, n: int) -> dict[str, np.ndarray]:
        """The report budget's rate, starting at ``budget_rate`` (no extra margin until a series over-reports)."""
        return {"lk.rt": np.full(n, float(self.budget_rate))} if self.budget else {}

    def _novelty(self, n: int) -> dict[str, np.ndarray]:
        """The novelty channel's state: EW mean, ranges of the value and of the EW mean, values learned."""
        if not self.novelty:
            return {}
        st = {k: np.full(n, np.nan) for k in ("lk.ew", "lk.rlo", "lk.rhi", "lk.elo", "lk.ehi")}
        st["lk.nv"] = np.zeros(n, dtype=np.int64)
        return st

    def fill_missing(self, state: dict[str, np.ndarray]) -> None:
        """State a checkpoint from an older version lacks: the novelty channel starts fresh (it waits ``n_warm``
        values to report), the deviation floor with no expected value yet, the budget neutral, the rise check
        and ceiling checks fresh (they wait ``n_warm`` values' worth), the stuck check fresh (it waits ``n_warm``
        values of its own); the sequence model's context counts of older versions are dropped (now the sums of
        their rows of transition counts, which a checkpoint holds)."""
        if self.seq is not None:
            state.pop(f"{self.seq.prefix}.ctx", None)
        if self.novelty and "lk.nv" not in state:
            state.update(self._novelty(len(state["lk.q"])))
        if self.floor and "lk.E" not in state:  # from before the deviation floor: none until the next score
            state.update(self._floor(len(state["lk.q"])))
        if self.budget and "lk.rt" not in state:  # a checkpoint from before the budget: start it neutral
            state.update(self._budget(len(state["lk.q"])))
        fresh = self._scale(len(state["lk.q"]))
        if set(fresh) - set(state):  # from before the rise / ceiling checks: both start fresh (one count) and wait
            state.update(fresh)
        if self.stuck and "lk.sc" not in state:  # from before the stuck check: fresh, with its own count
            state.update(self._stuck(len(state["lk.q"])))

    def kernel_args(self, state: dict[str, np.ndarray], lp: decide.Params, steps: int = 0) -> tuple:
        """State and constants in the order the kernels of :mod:`sentinel.detect.decide` take them.

        ``steps``: the batch's, for the batch kernels' scratch row (a batch of
        up to ``steps`` steps runs the sequence model ahead of the decisions).
        """
        for k in _KEYS:  # the kernels write in place
            if k in state and not state[k].flags.c_contiguous:
                state[k] = np.ascontiguousarray(state[k])
        la = decide.Arrays(*(state.get(k, _EMPTY_INT if k in _INT_KEYS else _EMPTY_2D.get(k, _EMPTY))
                             for k in _KEYS), np.empty((4, steps)))
        if self.seq is None:
            return la, lp, _NO_SEQ, _NO_SEQ_PARAMS
        return la, lp, self.seq.arrays(state), self.seq.params
