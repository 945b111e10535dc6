"""Decision calibration: turn a calibrated score into "rare *for this series*, and new".

The inner detector's ``score`` is one minus a tail probability under its
learned normal.  On real fleets a 1-in-10**4 score is routine for a bursty
counter and unheard of for a smooth gauge, and one event (a level shift, a
slow ramp) keeps scoring high for many steps.  This wrapper fixes both
without touching the model (docs/detector.md tells the
whole story, ``benchmarks/results/nab.md`` how each default was chosen):

1. surprise in decades, ``L = -log10(1 - score)`` (capped at ``max_L``);
2. a per-series quantile tracker ``qL`` of ``L`` at level ``q`` (from
   ``start`` decades, up ``eta`` per exceedance, down ``eta * (1 - q)``
   otherwise): ``Lrel = max(L - qL, 0)`` is how far beyond the series' own
   1-in-``1/(1-q)`` level a point is, and repeated similar bursts stop
   alarming;
3. the sequence channel: the surprise ``S`` of
   :class:`~sentinel.detect.sequence.SequenceModel` (is this value new
   *after the last few*?) with its own tracker ``qS`` (``sequence=False``:
   off; a dict sets its parameters);
4. the novelty channel (:mod:`~sentinel.detect.novelty`): the value, or its
   EW mean (``nov_alpha``), beyond the forgetting range it has shown by
   more than ``nov_tol`` of its width, the floor of the last ``rise_k``
   values never this high (:mod:`~sentinel.detect.rise`), or the last
   day's peak never this low (:mod:`~sentinel.detect.ceiling`, in
   ``ceil_blocks`` blocks of ``step``), or one value repeated at least
   ``stuck_min`` times and over ``stuck_factor`` times the longest run the
   series has shown, not resting at a bound of its range
   (:mod:`~sentinel.detect.stuck`, forgetting ``stuck_forget``) grants
   ``Lrel = nov_rel`` (``novelty=False``, ``rise_k=0``, ``ceil_blocks=0``,
   ``stuck_min=0``: off);
5. margins: L counts above ``margin``, S above ``margin_seq``, and L only
   where ``|x - expected|`` is at least ``dev_floor`` of the value's range;
6. a report budget: above an EW report rate of ``budget_rate`` the L and S
   margins rise by ``budget_gain`` per decade (novelty exempt;
   ``budget_alpha=0``: off), and the same rate ranks reports, ``rank_rate``
   decades per decade of rate; a young model's L and S reports rank up to
   ``young_rank`` decades lower until ``young_n`` scored samples.  Ranks
   never move a report under ``decide_at``;
7. a refractory envelope: ``Lrel`` is reported only above ``env_gain *
   env``, ``env = max(env_decay * env, Lrel)``: one event, one report, and a
   clearly bigger later one still fires;
8. a warm-up: nothing before ``n_warm`` scored samples (nor a novelty
   before ``n_warm`` values learned into its ranges).

NAB (``python benchmarks/nab.py``, one parameter set for the corpus;
standard / low FP / low FN): 77.7 / 67.1 / 83.4 at the corpus-optimised
threshold, 75.4 / 61.8 / 82.2 at the default decisions (0.99), every
parameter checked against the simulator benchmark for generality.

Output in decades ``D`` (``score = 1 - 10**-D``): reported points get
``D = B + Lrel`` (ranked, item 6; at least ``B + 0.001``) with ``B =
-log10(1 - decide_at)``, every other point ``D = 0.999 * min(L, B) < B``,
so ``score >= decide_at`` exactly on reported points: one default
threshold decides for every series, however bursty.  Below ``decide_at``
the score is the inner's calibrated score; from it up it is a *decision*
scale (the report rate, about ``1 - q`` per settled series, not a tail
probability).  ``expected``, ``lower``, ``upper`` and ``members`` are the
inner detector's (a report no member explains came from the sequence or
novelty channel); ``stuck`` (with the stuck check) is the check's
condition per point, which the alert policy's ``stuck`` alert holds on.

The wrapper's state lives next to the inner's in one ``state_`` dict
(``lk.*``, and ``sq.*`` for the sequence model; :mod:`sentinel.detect.decide_state`),
as :class:`~sentinel.detect.guard.Guard` does, so checkpoints
(:mod:`sentinel.detect.persist`) keep working.  The arithmetic is compiled
per series (:mod:`sentinel.detect.decide`); over the guarded ensemble a
batch runs both layers in one pass, series by series
(:mod:`sentinel.detect.pipeline`), over any other inner in a second pass
(:mod:`sentinel.detect.decide_batch`); ``score``/``learn`` run the same
functions one step at a time.

>>> import numpy as np
>>> from sentinel.detect.ensemble import Ensemble
>>> from sentinel.detect.guard import Guard
>>> from sentinel.series import Batch
>>> x = np.random.default_rng(0).normal(10, 1, 900)
>>> x[700] += 25.0
>>> det = Likelihood(Guard(Ensemble(step=60)))
>>> s = det.process(Batch.from_rows([{}], np.arange(900) * 60, x[None, :])).score[0]
>>> bool(s[700] >= 0.99), bool((s[:150] >= 0.99).any())
(True, False)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from sentinel.detect import ceiling, decide, decide_batch, decide_state, likelihood_checks
from sentinel.detect.base import OnlineDetector
from sentinel.detect.guard import Guard
from sentinel.detect.scores import Scores, StepScores
from sentinel.detect.sequence import SequenceModel
from sentinel.series import Batch


class Likelihood(OnlineDetector):
    """Wrap an online detector; report each series' own rare, new events at ``score >= decide_at``."""

    name: ClassVar[str] = "likelihood"

    def __init__(
        self,
        inner: OnlineDetector,
        q: float = 0.9999,
        eta: float = 0.05,
        env_decay: float = 0.99,
        env_gain: float = 1.3,
        n_warm: int = 150,
        max_L: float = 15.0,
        start: float = 2.0,
        decide_at: float = 0.99,
        sequence: bool | dict[str, Any] = True,
        margin: float = 0.0,
        margin_seq: float = 0.3,
        novelty: bool = True,
        nov_tol: float = 0.05,
        nov_forget: float = 5e-5,
        nov_alpha: float = 0.1,
        nov_rel: float = 1.0,
        budget_alpha: float = 2e-3,
        budget_rate: float = 1e-3,
        budget_gain: float = 1.0,
        dev_floor: float = 0.05,
        rank_rate: float = 0.5,
        rise_k: int = 6,
        rise_tol: float = 0.1,
        rise_forget: float = 2e-5,
        ceil_blocks: int = 12,
        ceil_tol: float = 0.15,
        ceil_forget: float = 2e-5,
        stuck_min: int = 30,
        stuck_factor: float = 4.0,
        stuck_forget: float = 2e-5,
        young_n: int = 6000,
        young_rank: float = 0.5,
        step: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(inner, Likelihood):
            raise ValueError("likelihood wraps a detector that is not already a likelihood (they would share state)")
        likelihood_checks.check(**{k: v for k, v in locals().items() if k not in ("self", "inner", "__class__")})
        self.inner = inner
        self.q = q
        self.eta = eta
        self.env_decay = env_decay
        self.env_gain = env_gain
        self.n_warm = n_warm
        self.max_L = max_L
        self.start = start
        self.decide_at = decide_at
        self.margin = margin
        self.margin_seq = margin_seq
        self.novelty = bool(novelty)
        self.nov_tol = nov_tol
        self.nov_forget = nov_forget
        self.nov_alpha = nov_alpha
        self.nov_rel = nov_rel
        self.budget_alpha = budget_alpha
        self.budget_rate = budget_rate
        self.budget_gain = budget_gain
        self.dev_floor = dev_floor
        self.rank_rate = rank_rate
        self.rise_k = int(rise_k)
        self.rise_tol = rise_tol
        self.rise_forget = rise_forget
        self.ceil_blocks = int(ceil_blocks)
        self.ceil_tol = ceil_tol
        self.ceil_forget = ceil_forget
        self.stuck_min = int(stuck_min)
        self.stuck_factor = stuck_factor
        self.stuck_forget = stuck_forget
        self.young_n = int(young_n)
        self.young_rank = young_rank
        self.step = None if step is None else int(step)
        self.sequence = sequence if isinstance(sequence, bool) else dict(sequence)
        self._seq = SequenceModel(**({} if sequence is True else dict(sequence))) if sequence is not False else None
        self._base = float(-np.log10(1.0 - decide_at))
        self.params = decide.Params(float(eta), float(1.0 - q), float(env_decay), float(env_gain), int(n_warm),
                                    float(max_L), float(10.0**-max_L), self._base, float(margin),
                                    self._seq is not None, float(margin_seq), self.novelty, float(nov_tol),
                                    float(nov_forget), float(nov_alpha), float(nov_rel), budget_alpha > 0,
                                    float(budget_alpha), float(budget_rate), float(budget_gain),
                                    self.novelty and dev_floor > 0, float(dev_floor), float(rank_rate),
                                    self.novelty and rise_k > 0, int(rise_k), float(rise_tol), float(rise_forget),
                                    False, 0, float(ceil_tol), float(ceil_forget), float(young_n),
                                    float(young_rank), self.novelty and stuck_min > 0, int(stuck_min),
                                    float(stuck_factor), float(stuck_forget))
        self._layout = decide_state.Layout(float(start), self._seq, self.novelty, self.params.floor,
                                           self.params.budget, float(budget_rate),
                                           self.rise_k if self.params.rise else 0,
                                           self.ceil_blocks if self.novelty else 0, self.params.stuck)
        self._learn_step_size()
        self.index_ = inner.index_

    def get_params(self) -> dict[str, Any]:
        return {"q": self.q, "eta": self.eta, "env_decay": self.env_decay, "env_gain": self.env_gain,
                "n_warm": self.n_warm, "max_L": self.max_L, "start": self.start, "decide_at": self.decide_at,
                "sequence": self.sequence, "margin": self.margin, "margin_seq": self.margin_seq,
                "novelty": self.novelty, "nov_tol": self.nov_tol, "nov_forget": self.nov_forget,
                "nov_alpha": self.nov_alpha, "nov_rel": self.nov_rel, "budget_alpha": self.budget_alpha,
                "budget_rate": self.budget_rate, "budget_gain": self.budget_gain, "dev_floor": self.dev_floor,
                "rank_rate": self.rank_rate, "rise_k": self.rise_k, "rise_tol": self.rise_tol,
                "rise_forget": self.rise_forget, "ceil_blocks": self.ceil_blocks, "ceil_tol": self.ceil_tol,
                "ceil_forget": self.ceil_forget, "stuck_min": self.stuck_min, "stuck_factor": self.stuck_factor,
                "stuck_forget": self.stuck_forget, "young_n": self.young_n, "young_rank": self.young_rank,
                "step": self.step}

    def _learn_step_size(self, step: int | None = None) -> None:
        """Take the sampling step (the first batch's, unless given): the ceiling check's blocks span a day of it."""
        if self.step is None and step is not None:
            self.step = int(step)
        if self.novelty and self.ceil_blocks > 0 and self.step is not None:
            m = ceiling.block_values(self.step, self.ceil_blocks)
            self.params = self.params._replace(ceil=True, ceil_m=m)

    def _on_batch(self, batch: Batch) -> None:
        if self.step is None:
            self._learn_step_size(batch.step)
        self.inner._on_batch(batch)

    def _rebase(self, state: dict[str, np.ndarray], mask: np.ndarray) -> None:
        self.inner._rebase(state, mask)

    def _init_state(self, n: int) -> dict[str, np.ndarray]:
        st = self.inner._init_state(n)
        st.update(self._layout.initial(n))
        return st

    def _fill_missing(self, state: dict[str, np.ndarray]) -> None:
        self._layout.fill_missing(state)
        self.inner._fill_missing(state)

    def _kernel_args(self, state: dict[str, np.ndarray], steps: int = 0) -> tuple:
        """State and constants for the kernels (:meth:`~sentinel.detect.decide_state.Layout.kernel_args`)."""
        return self._layout.kernel_args(state, self.params, steps)

    def _held(self, n: int, steps: int) -> np.ndarray:
        """Room for the stuck condition of ``n`` series x ``steps`` (NaN: missing); (n, 0) without the stuck check."""
        return np.full((n, steps), np.nan) if self.params.stuck else np.empty((n, 0))

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        out = self.inner._score_step(state, t, x)
        score = np.empty(len(x))
        held = self._held(1, len(x))[0]
        decide.score_step(*self._kernel_args(state), t, np.ascontiguousarray(x, dtype=np.float64),
                          np.ascontiguousarray(out.score, dtype=np.float64),
                          np.ascontiguousarray(out.expected, dtype=np.float64), score, held)
        return StepScores(score, out.expected, out.lower, out.upper, out.members,
                          held if self.params.stuck else None, out.drift)

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        if (state["lk.t"] != t).any():  # learn() without score(): judge the point first
            self._score_step(state, t, x)
        decide.learn_step(*self._kernel_args(state), np.ascontiguousarray(x, dtype=np.float64),
                          np.ascontiguousarray(weight, dtype=np.float64))
        self.inner._learn_step(state, t, x, weight)

    def _process_state(self, state: dict[str, np.ndarray], batch: Batch) -> Scores:
        """Let the inner run the whole batch (compiled, for the guarded ensemble), then decide it in one pass.

        Valid because the inner learns with the weight passed through (1
        here) and this wrapper reads only its scores, never its state; same
        numbers as the step-by-step loop of ``_score_step``/``_learn_step``.
        Over the guarded ensemble both run in one compiled pass, series by
        series (:mod:`sentinel.detect.pipeline`).
        """
        steps = len(batch.timestamps)
        held = self._held(batch.n_series, steps)  # the stuck condition, written by the kernels (pipeline's last)
        if isinstance(self.inner, Guard) and self.inner.fusable:
            out = self.inner.fused_process(state, batch, (*self._kernel_args(state, steps), held))
        else:
            out = self.inner._process_state(state, batch)
            decide_batch.run_batch(*self._kernel_args(state, steps),
                                   np.ascontiguousarray(batch.timestamps, dtype=np.int64),
                                   np.ascontiguousarray(batch.values, dtype=np.float64), out.score,  # in place
                                   np.ascontiguousarray(out.expected, dtype=np.float64), held)
        out.stuck = held if self.params.stuck else None
        return out
