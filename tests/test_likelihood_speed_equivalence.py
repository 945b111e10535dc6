"""The compiled decision layer (likelihood + sequence model) gives the numbers of the numpy version it replaced.

``tests/fixtures/likelihood_reference.npz`` holds the outputs of the numpy
implementation of the ``default`` detector kind (frozen with
``python -m tests.likelihood_equivalence_cases`` before the kernels of
:mod:`sentinel.detect.decide` existed) on the fleet of
:mod:`tests.detect_equivalence_cases`, driven through ``process`` in several
batches (one a reordered subset), ``score`` then ``learn``, a checkpoint
round trip and the per-step protocol.  ``likelihood_checkpoint.npz`` is the
``default`` case's checkpoint after two batches, *written by the numpy
implementation*: the ``default`` case continues from it, so old checkpoints
must load and score the same.

Scores and the final learned state must agree to ``rtol=1e-9``
(``atol=1e-12`` for values that are zero up to rounding).  The kernels use
libm's ``log10``/``expm1`` and may contract ``a + b * c`` into one rounding,
so agreement is to the last bits, not bit for bit.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from sentinel.detect import persist
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard
from sentinel.detect.likelihood import Likelihood
from sentinel.detect.sequence import SequenceModel
from sentinel.series import Batch
from tests import detect_equivalence_cases as base
from tests import likelihood_equivalence_cases as cases

FIXTURES = Path(__file__).parent / "fixtures"


def _roundtrip(det: object) -> object:
    with tempfile.TemporaryDirectory() as d:
        persist.save(det, d)
        return persist.load(d)


def _spec_off(det: Likelihood) -> Likelihood:
    """The same detector and state with the channels added after the freeze switched off."""
    off = Likelihood(det.inner, **{**det.get_params(), "margin_seq": det.margin, "novelty": False,
                                   "budget_alpha": 0.0})
    off.state_ = det.state_
    return off


@pytest.fixture(scope="module")
def outputs() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    with np.load(FIXTURES / "likelihood_reference.npz") as ref:
        old = FIXTURES / "likelihood_checkpoint.npz"
        return dict(ref), cases.run_all(_roundtrip, lambda det: _spec_off(cases.tail_as_frozen(persist.load(old))))


def test_inputs_are_the_frozen_inputs(outputs: tuple[dict, dict]) -> None:
    ref, new = outputs
    np.testing.assert_allclose(new["inputs_checksum"], ref["inputs_checksum"], rtol=1e-12)


@pytest.mark.parametrize("case", ["default", "fastseq", "noseq", "counts", "steps"])
def test_same_numbers_as_the_numpy_implementation(outputs: tuple[dict, dict], case: str) -> None:
    base.assert_case_matches(*outputs, case)


def test_the_reference_reports_something(outputs: tuple[dict, dict]) -> None:
    """The frozen runs exercise the decision layer: reports, sequence reports and renormalised counts."""
    ref, _ = outputs
    for case in ("default", "fastseq", "noseq", "counts"):
        assert 0 < np.nansum(ref[f"{case}/score"] >= 0.99) < 0.02 * np.isfinite(ref[f"{case}/score"]).sum(), case
    assert (ref["fastseq/state:sq.inc"] < 1e17).all() and (ref["fastseq/state:sq.n"] > 1000).any()


def test_batch_pass_equals_the_per_step_loop() -> None:
    """``process`` (one compiled pass per series) and the per-step protocol share one kernel: same numbers."""
    values = base.make_values()[:, :600]
    b = Batch.from_rows([{"s": str(i)} for i in range(len(values))],
                        1_700_000_000 + np.arange(values.shape[1]) * 600, values, step=600)
    fast, slow = cases.make_fastseq(), cases.make_fastseq()
    got = fast.process(b)
    slow._on_batch(b)
    _, st = slow._gather(b)
    want = np.full(values.shape, np.nan)
    for j, t in enumerate(b.timestamps.tolist()):
        want[:, j] = slow._score_step(st, t, b.values[:, j]).score
        slow._learn_step(st, t, b.values[:, j], np.ones(len(values)))
    np.testing.assert_array_equal(got.score, want)
    for k, v in st.items():
        np.testing.assert_array_equal(fast.state_[k], v, err_msg=k)


def test_sequence_model_methods_share_the_kernel_state() -> None:
    """``SequenceModel.step`` learns in place even from a state that is not C-contiguous (e.g. a gathered view)."""
    m = SequenceModel(bins=3, order=2)
    st = m.init_state(2)
    st["sq.next"] = np.asfortranarray(st["sq.next"])
    x = np.tile([1.0, 2.0, 3.0], 50)
    for v in x:
        m.step(st, np.array([v, np.nan]))
    assert st["sq.n"].tolist() == [150, 0] and st["sq.next"].sum() > 0


def test_likelihood_without_a_guard_still_replays() -> None:
    x = np.random.default_rng(0).normal(10, 1, (2, 400))
    b = Batch.from_rows([{"s": "a"}, {"s": "b"}], np.arange(400) * 60, x, step=60)
    inner = Ensemble(step=60).process(b)
    wrapped = Likelihood(Ensemble(step=60)).process(b)
    np.testing.assert_array_equal(wrapped.expected, inner.expected)
    assert np.isfinite(wrapped.score[:, 1:]).all()


def test_guarded_wrapper_defaults_are_the_registry_default() -> None:
    from sentinel.config import DetectorConfig
    from sentinel.detect import build_detector

    det = build_detector(DetectorConfig(kind="default"), step=60)
    assert isinstance(det, Likelihood) and isinstance(det.inner, Guard) and det.params.sequence


@pytest.fixture(scope="module")
def spec_outputs() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    with np.load(FIXTURES / "likelihood_spec_reference.npz") as ref:
        return dict(ref), cases.run_spec(_roundtrip)


@pytest.mark.parametrize("case", ["spec", "spec_steps", "spec_upgrade", "budget", "budget_steps", "floor",
                                  "floor_steps"])
def test_novelty_layer_keeps_its_frozen_numbers(spec_outputs: tuple[dict, dict], case: str) -> None:
    """The layer with the novelty channel and sequence margin, as frozen after checking it against its spec."""
    base.assert_case_matches(*spec_outputs, case)


def test_the_novelty_channel_reports_and_an_upgraded_checkpoint_waits(spec_outputs: tuple[dict, dict]) -> None:
    ref, _ = spec_outputs
    s = ref["spec/score"]
    novelty_only = np.isclose(s, 1 - 10.0**-3, rtol=0, atol=1e-15)  # D = 2 + nov_rel: nothing else beyond its bar
    assert novelty_only.any()
    up = ref["spec_upgrade/score"][:, 750:1000]  # the first batch after loading the old checkpoint
    assert ref["spec_upgrade/state:lk.nv"].max() <= 1100 - 750
    assert not np.isclose(up[:, :150], 1 - 10.0**-3, rtol=0, atol=1e-15).any()  # novelty waits n_warm values
