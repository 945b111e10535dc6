"""The compiled online detector gives the numbers of the numpy implementation it replaced.

``tests/fixtures/detect_reference.npz`` holds the outputs of the numpy
implementation (git ``HEAD`` before the compiled kernels, frozen with
``python -m tests.detect_equivalence_cases``) on a varied fleet driven
through every entry point (see :mod:`tests.detect_equivalence_cases`).
Scores, expected values, bands, member scores and the final learned state
must agree to ``rtol=1e-9`` (``atol=1e-12`` for values that are zero up to
rounding, e.g. the score ``1 - p`` of a p-value of one).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from sentinel.detect import ensemble as ensemble_module
from sentinel.detect import persist
from sentinel.detect.base import OnlineDetector
from sentinel.detect.baseline import SeasonalBaseline
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard
from sentinel.detect.likelihood import Likelihood
from sentinel.series import Batch
from tests import detect_equivalence_cases as cases

FIXTURE = Path(__file__).parent / "fixtures" / "detect_reference.npz"


def _roundtrip(det: object) -> object:
    with tempfile.TemporaryDirectory() as d:
        persist.save(det, d)
        return persist.load(d)


@pytest.fixture(scope="module")
def outputs() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    lib = type("lib", (), {"Ensemble": Ensemble, "Guard": Guard})
    with np.load(FIXTURE) as ref:
        return dict(ref), cases.run_all(lib, _roundtrip)


def test_inputs_are_the_frozen_inputs(outputs: tuple[dict, dict]) -> None:
    ref, new = outputs
    np.testing.assert_allclose(new["inputs_checksum"], ref["inputs_checksum"], rtol=1e-12)


@pytest.mark.parametrize("case", ["guarded", "ensemble", "steps"])
def test_same_numbers_as_the_numpy_implementation(outputs: tuple[dict, dict], case: str) -> None:
    cases.assert_case_matches(*outputs, case)


def test_a_late_series_scores_as_if_alone() -> None:
    """A series that starts later than its batch neighbours learns exactly as when scored alone.

    (The numpy implementation let the missing values of a not-yet-seen series
    poison its seasonal state whenever another series in the step had a value.)
    """
    t = 1_700_000_000 + np.arange(1500) * 300
    rng = np.random.default_rng(4)
    x = 10 + 3 * np.sin(2 * np.pi * t / 86400) + 0.2 * rng.standard_normal((2, len(t)))
    x[1, :7] = np.nan
    both = Guard(Ensemble(step=300)).process(Batch.from_rows([{"s": "0"}, {"s": "1"}], t, x))
    alone = Guard(Ensemble(step=300)).process(Batch.from_rows([{"s": "1"}], t, x[1:]))
    np.testing.assert_array_equal(both.score[1], alone.score[0])
    np.testing.assert_array_equal(both.expected[1], alone.expected[0])


class _PlainResidual:
    """The residual member in plain numpy, without a compiled kernel (as a new member would start)."""

    name = "residual"

    def init_state(self, n: int) -> dict[str, np.ndarray]:
        return {}

    def statistic(self, st: dict[str, np.ndarray], base: SeasonalBaseline, x: np.ndarray, expected: np.ndarray,
                  season: np.ndarray) -> np.ndarray:
        return np.where(st["b.n"] >= base.warmup, (x - expected) / base.scale(st), np.nan)

    def learn(self, st: dict[str, np.ndarray], stat: np.ndarray, weight: np.ndarray) -> None:
        """Nothing: the baseline learns the scale."""


def test_a_member_without_kernel_runs_the_per_step_path_with_the_same_numbers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    values = cases.make_values()[:, :400]
    b = Batch.from_rows([{"s": str(i)} for i in range(len(values))],
                        1_700_000_000 + np.arange(values.shape[1]) * 600, values, step=600)
    fast = Guard(Ensemble(step=600)).process(b)
    monkeypatch.setitem(ensemble_module.MEMBERS, "residual", _PlainResidual)
    det = Guard(Ensemble(step=600))
    assert not det.inner.fusable
    slow = det.process(b)
    for k in ("score", "expected", "lower", "upper"):
        np.testing.assert_allclose(getattr(slow, k), getattr(fast, k), rtol=1e-12, atol=1e-12, equal_nan=True)
    for k in fast.members:
        np.testing.assert_allclose(slow.members[k], fast.members[k], rtol=1e-12, atol=1e-12, equal_nan=True)


def test_importing_the_detectors_does_not_import_numba() -> None:
    """numba costs about a second to import; only the first scoring call pays it."""
    code = "import sys, sentinel.detect, sentinel.detect.ensemble; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_wrapper_replaying_the_fused_batch_equals_its_step_by_step_loop() -> None:
    """The likelihood lets the guarded ensemble run the batch compiled, then decides it in its own compiled pass."""
    values = cases.make_values()[:, :500]
    b = Batch.from_rows([{"s": str(i)} for i in range(len(values))],
                        1_700_000_000 + np.arange(values.shape[1]) * 600, values, step=600)
    fast, slow = Likelihood(Guard(Ensemble(step=600))), Likelihood(Guard(Ensemble(step=600)))
    for det in (fast, slow):
        det._on_batch(b)
    _, st_fast = fast._gather(b)
    _, st_slow = slow._gather(b)
    got = fast._process_state(st_fast, b)
    want = OnlineDetector._process_state(slow, st_slow, b)  # the plain loop of _score_step / _learn_step
    for k in ("score", "expected", "lower", "upper"):
        np.testing.assert_allclose(getattr(got, k), getattr(want, k), rtol=1e-12, atol=1e-12, equal_nan=True)
    for k, v in st_slow.items():
        np.testing.assert_allclose(st_fast[k], v, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=k)
