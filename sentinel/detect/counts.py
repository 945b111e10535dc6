"""Count-aware scoring: a log count a Poisson-like model finds plausible is never anomalous.

Per-group log counts are small integers (``0, 0, 1, 0, 3, 0`` errors per
minute).  A detector built for continuous signals sees the ``3`` as many
scales above a baseline of ~0.5 and fires; an SRE sees three errors.  This
wrapper keeps the inner detector (seasonality, change members, calibration)
and caps its score by how surprising the count is under a **negative
binomial** with the series' learned rate:

* mean ``mu = max(inner expected, learned rate)`` -- the inner model's
  expected value carries the daily cycle, the slow rate (a decayed mean with
  half-life ``half_life`` steps) keeps a quiet hour from making normal
  daytime counts look high;
* dispersion from the decayed variance (overdispersed counts get wider
  tails), and never narrower than the uncertainty of a rate learned from
  little evidence (shape ``<= evidence + prior``): a fresh series is judged
  gently;
* score ``= min(inner score, 1 - P(X >= x))`` above the mean and
  ``min(inner score, 1 - P(X <= x))`` below it, so the cap only ever lowers
  a score (the inner model must find the point unusual too) and the score
  stays one minus a tail probability;
* counts below ``min_count`` (default 3) never score above 0.5 upwards: one
  or two lines in a step are never news, however quiet the series was (a
  rate learned from long silence makes any line "improbable"); 0 disables it.
  On the simulated fleet's error logs (``benchmarks/log_counts.py``, 5-minute
  steps, per-template series) it cut alerts outside incidents from 4 to 1;
* the band is widened to at least ``mu +- z * sd`` of that distribution, so
  an alert's band explains why a count did or did not fire.

Scaled counts (per-template counts estimated from a sample) are not integers:
the tails use the continuous extension of the negative binomial CDF
(regularised incomplete beta), which agrees with it on integers.

What the rate learns follows the wrapper's own score (points it scores
above ``learn_below`` are not learned), as the guard does for the inner model.

>>> import numpy as np
>>> from sentinel.detect.ensemble import Ensemble
>>> from sentinel.detect.guard import Guard
>>> from sentinel.series import Batch
>>> rng = np.random.default_rng(1)
>>> x = rng.poisson(0.4, 2000).astype(float)
>>> x[1900] = 15.0
>>> b = Batch.from_rows([{}], np.arange(2000) * 60, x[None, :])
>>> s = CountFloor(Guard(Ensemble(step=60))).process(b).score[0]
>>> bool(s[1900] > 0.999), int((s[500:1900] >= 0.99).sum())
(True, 0)
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import betainc

from sentinel.detect.base import OnlineDetector
from sentinel.detect.scores import StepScores
from sentinel.series import Batch


def nb_tails(x: np.ndarray, mu: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(P(X >= x), P(X <= x))`` for a negative binomial with mean ``mu`` and shape ``shape``.

    Continuous in ``x`` (regularised incomplete beta), exact on integers.

    >>> up, down = nb_tails(np.array([0.0, 3.0]), np.array([1.0, 1.0]), np.array([1e9, 1e9]))
    >>> [round(float(v), 4) for v in up], [round(float(v), 4) for v in down]  # Poisson(1)
    ([1.0, 0.0803], [0.3679, 0.981])
    """
    p = shape / (shape + np.maximum(mu, 1e-12))
    with np.errstate(invalid="ignore"):
        up = np.where(x > 0, betainc(np.maximum(x, 1e-12), shape, 1.0 - p), 1.0)
        down = betainc(shape, np.maximum(x, 0.0) + 1.0, p)
    return up, down


class CountFloor(OnlineDetector):
    """Wrap an online detector for count series (see the module doc)."""

    name: ClassVar[str] = "counts"

    def __init__(
        self,
        inner: OnlineDetector,
        half_life: float = 2000.0,
        prior: float = 1.0,
        min_count: float = 3.0,
        band_z: float = 3.3,
        learn_below: float = 0.999,
    ) -> None:
        super().__init__()
        if half_life <= 0 or prior <= 0 or min_count < 0 or band_z <= 0 or not 0 < learn_below <= 1:
            raise ValueError("counts needs half_life > 0, prior > 0, min_count >= 0, band_z > 0, "
                             "0 < learn_below <= 1")
        self.inner = inner
        self.half_life = half_life
        self.prior = prior
        self.min_count = min_count
        self.band_z = band_z
        self.learn_below = learn_below
        self._decay = 0.5 ** (1.0 / half_life)
        self.index_ = inner.index_

    def get_params(self) -> dict[str, Any]:
        return {"half_life": self.half_life, "prior": self.prior, "min_count": self.min_count,
                "band_z": self.band_z, "learn_below": self.learn_below}

    def _on_batch(self, batch: Batch) -> None:
        self.inner._on_batch(batch)

    def _rebase(self, state: dict[str, np.ndarray], mask: np.ndarray) -> None:
        self.inner._rebase(state, mask)

    def _init_state(self, n: int) -> dict[str, np.ndarray]:
        st = self.inner._init_state(n)
        st["cf.n"] = np.zeros(n)  # decayed number of learned points
        st["cf.s"] = np.zeros(n)  # decayed sum of counts
        st["cf.q"] = np.zeros(n)  # decayed sum of squared counts
        st["cf.score"] = np.zeros(n)  # this wrapper's score of the last scored step
        st["cf.t"] = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        return st

    def _model(self, state: dict[str, np.ndarray], expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, shape) of the predictive negative binomial per series."""
        n, s, q = state["cf.n"], state["cf.s"], state["cf.q"]
        rate = (s + self.prior * 0.5) / (n + self.prior)
        var = np.where(n > 1, q / np.maximum(n, 1e-12) - (s / np.maximum(n, 1e-12)) ** 2, 0.0)
        mu = np.maximum(np.nan_to_num(expected, nan=0.0), rate)
        excess = np.maximum(var - rate, 1e-9)
        shape = np.minimum(s + self.prior, np.maximum(rate**2 / excess, 1e-3))
        return np.maximum(mu, 1e-6), np.maximum(shape, 1e-3)

    def _floor(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, out: StepScores) -> StepScores:
        """Cap the inner step scores ``out`` by the count model (see the module doc)."""
        mu, shape = self._model(state, out.expected)
        up, down = nb_tails(np.nan_to_num(x, nan=0.0), mu, shape)
        above = x > mu
        cap = np.where(above, 1.0 - up, 1.0 - down)
        if self.min_count > 0:
            cap = np.where(above & (x < self.min_count), np.minimum(cap, 0.5), cap)
        score = np.where(np.isnan(out.score), out.score, np.minimum(out.score, cap))
        sd = np.sqrt(mu + mu**2 / shape)
        lower = np.minimum(out.lower, np.maximum(mu - self.band_z * sd, 0.0))
        upper = np.maximum(out.upper, mu + self.band_z * sd)
        state["cf.score"] = np.nan_to_num(score, nan=0.0)
        state["cf.t"][:] = t
        return StepScores(score, out.expected, lower, upper, out.members, out.stuck, out.drift)

    def _learn_own(self, state: dict[str, np.ndarray], x: np.ndarray, weight: np.ndarray) -> None:
        seen = np.isfinite(x)
        w = np.where(seen & (state["cf.score"] < self.learn_below), weight, 0.0)
        xv = np.where(seen, x, 0.0)
        d = np.where(seen, self._decay, 1.0)
        state["cf.n"] = state["cf.n"] * d + w
        state["cf.s"] = state["cf.s"] * d + w * xv
        state["cf.q"] = state["cf.q"] * d + w * xv * xv

    def _score_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray) -> StepScores:
        return self._floor(state, t, x, self.inner._score_step(state, t, x))

    def _learn_step(self, state: dict[str, np.ndarray], t: int, x: np.ndarray, weight: np.ndarray) -> None:
        if (state["cf.t"] != t).any():  # learn() without score(): judge the point first
            self._score_step(state, t, x)
        self._learn_own(state, x, weight)
        self.inner._learn_step(state, t, x, weight)

    # the inner model learns with full weight whatever the floor decides, and the floor's own state only follows
    # the inner's scores: so the inner may run the whole batch first (compiled) and the floor replay its steps
    _process_state = OnlineDetector._process_replayed
