"""The default detector's one-pass batch (:mod:`sentinel.detect.pipeline`) gives the two passes' numbers.

``Likelihood(Guard(Ensemble))`` runs each series through the guarded
ensemble and then the decision layer before the next series; the older
order (the ensemble over every series, then the decisions over every
series) must give bit-identical scores, bands and learned state, and so
must the decision layer's batch shortcuts (the evidence and sequence bin
kept from scoring to learning, the skipped ``log(1)`` and ``expm1(0)``).
"""

from __future__ import annotations

import numpy as np
import pytest

from sentinel.detect import decide_batch
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.scores import Scores
from sentinel.detect.sequence import SequenceModel
from sentinel.series import Batch


class TwoPasses(Likelihood):
    """The decision layer run after the inner's whole batch, as before the one-pass pipeline."""

    def _process_state(self, state: dict[str, np.ndarray], batch: Batch) -> Scores:
        held = self._held(batch.n_series, batch.n_steps)
        out = self.inner._process_state(state, batch)
        decide_batch.run_batch(*self._kernel_args(state, len(batch.timestamps)),
                               np.ascontiguousarray(batch.timestamps, dtype=np.int64),
                               np.ascontiguousarray(batch.values, dtype=np.float64), out.score,
                               np.ascontiguousarray(out.expected, dtype=np.float64), held)
        out.stuck = held
        return out


def _batch(n: int = 12, steps: int = 900) -> Batch:
    rng = np.random.default_rng(7)
    t = np.arange(steps)
    x = 100 + 10 * np.sin(2 * np.pi * t / 96)[None, :] + rng.normal(0, 1, (n, steps))
    x[0, 500:] += 30.0  # a level shift the guard relearns
    x[1, 300] = 1e6  # one huge spike
    x[2, ::7] = np.nan  # gaps
    x[3] = 5.0  # constant: the inner's scores are exactly 0
    x[4, 400:420] = x[4, 380:400]  # a repeated pattern
    x[5, 600:700] = x[5, 599]  # stuck: the stuck condition holds from its 30th value
    return Batch.from_rows([{"s": str(i)} for i in range(n)], 1_700_000_000 + t * 300, x, step=300)


@pytest.mark.parametrize("bins", [4, 3])  # 4**3 contexts: the context's modulo is a mask; 3**3: a modulo
def test_one_pass_equals_two_passes(bins: int) -> None:
    b = _batch()
    one = Likelihood(Guard(Ensemble(step=300)), sequence={"bins": bins})
    two = TwoPasses(Guard(Ensemble(step=300)), sequence={"bins": bins})
    for part in (slice(0, 450), slice(450, 900)):  # and across batches
        chunk = Batch(b.timestamps[part], b.values[:, part], b.labels, b.step)
        got, want = one.process(chunk), two.process(chunk)
        for k in ("score", "expected", "lower", "upper", "stuck"):
            np.testing.assert_array_equal(getattr(got, k), getattr(want, k), err_msg=k)
        for k in got.members:
            np.testing.assert_array_equal(got.members[k], want.members[k], err_msg=k)
    assert one.state_.keys() == two.state_.keys()
    for k, v in two.state_.items():
        np.testing.assert_array_equal(one.state_[k], v, err_msg=k)
    assert (got.score >= 0.99).any() and (got.score == 0).any()  # reports, and the skipped log(1) / expm1(0)
    assert (got.stuck[5, 628 - 450:700 - 450] == 1).all() and np.nansum(got.stuck) == 72  # the 30th of 599..699 on


def test_the_sequence_context_wraps_the_same_with_a_mask_or_a_modulo() -> None:
    """A power-of-two number of contexts advances the context with a mask: the same as the modulo it replaces."""
    x = np.tile([0.0, 1.0, 1.0, 0.0, 1.0], 40)
    masked = SequenceModel(bins=2, order=2)
    assert masked.params.ctx_mask == 3
    plain = SequenceModel(bins=2, order=2)
    plain.params = plain.params._replace(ctx_mask=0)
    st_m, st_p = masked.init_state(1), plain.init_state(1)
    s_m = [masked.step(st_m, np.array([v]))[0] for v in x]
    s_p = [plain.step(st_p, np.array([v]))[0] for v in x]
    np.testing.assert_array_equal(s_m, s_p)
    for k in st_m:
        np.testing.assert_array_equal(st_m[k], st_p[k], err_msg=k)
    assert SequenceModel(bins=3, order=3).params.ctx_mask == 0
