"""Frozen reference runs of the ``default`` detector kind (likelihood + sequence on the guarded ensemble).

The compiled decision layer must give the numbers of the numpy version it
replaced.  The fleet and the drivers are those of
:mod:`tests.detect_equivalence_cases` (seasonal, spiky, level shifts, NaN
gaps, constant, counts, drift, clock offsets, huge and tiny values; process
over several batches incl. a reordered subset, score then learn, a checkpoint
round trip, and the per-step protocol with partial weights and learn-only
steps).  The cases here wrap that fleet in:

- ``default``: ``Likelihood(Guard(Ensemble))`` with every parameter explicit;
- ``fastseq``: a small, fast-forgetting sequence model (renormalises its
  counts within the run), a margin and other likelihood constants;
- ``noseq``: no sequence channel, on the other ensemble configuration;
- ``counts``: ``CountFloor`` over the likelihood without sequence channel
  (what the registry builds for count series);
- ``steps``: the per-step ``_score_step``/``_learn_step`` protocol.

The cases above set ``margin_seq = margin`` and ``novelty = False``: they were
frozen before those parameters existed (the numbers of the layer without
them).  ``--spec`` freezes instead the cases of the layer with the novelty
channel and the sequence margin (ported after the frozen cases above still
passed with it switched off, and checked equal to the R&D numpy reference
before freezing):

- ``spec``: every spec parameter explicit (v1's values; v2 only raised the
  default ``margin_seq`` from 0.2 to 0.3, which the algorithm does not see);
- ``spec_steps``: the per-step protocol with them;
- ``spec_upgrade``: the old ``default`` checkpoint continued with the spec on
  (its novelty state is created empty on load and waits ``n_warm`` values);
- ``budget``, ``budget_steps``: the spec layer with the report budget
  (``benchmarks/results/nab.md``), batch and per-step; the spec
  cases above keep it off (``LIKELIHOOD`` sets ``budget_alpha = 0``) and
  were checked equal to the previous fixture before it was re-frozen;
- ``floor``, ``floor_steps``: the budget layer with the deviation floor
  (round 4; every case above sets ``dev_floor = 0`` and was checked equal
  to the previous fixture before the re-freeze; the floor's own numbers
  were checked by ``benchmarks/nab.py`` reproducing the R&D replay's
  figures exactly).  Every case sets ``rank_rate = 0`` (round 5: the rank
  of reports moves only the scores of reported points; its own tests are in
  ``tests/test_detect_rank.py``), ``rise_k = 0`` and ``ceil_blocks = 0``
  (round 6: the novelty channel's rise and ceiling checks add reports of
  their own; their tests are in ``tests/test_detect_rise.py`` and
  ``tests/test_detect_ceiling.py``), and ``stuck_min = 0`` (the stuck
  check, :mod:`sentinel.detect.stuck`: with it on, the fixtures' only
  change is one more report, series 23's stuck sensor at its 30th value,
  column 828 of ``spec``, ``budget`` and ``floor``, plus its four state
  arrays; its tests are in ``tests/test_detect_stuck.py``).

Both fixtures were re-frozen (round 9) when the sequence model stopped keeping
context counts (now the sums of their rows of transition counts): the sums'
float32 rounding moved S by at most 1.7e-7 decades and the scores by at most
1.4e-9, no decision changed, and every other state array stayed equal.  They
hold what the test computes (the ``default`` case continuing from the old
checkpoint below, which still loads: its context counts are dropped).

``--checkpoint`` also writes the ``default`` detector's checkpoint after its
first two batches (written by the code being frozen), so a test can check
that checkpoints of the replaced implementation still load and continue
with the same numbers.

Freeze (with the implementation to be frozen installed)::

    python -m tests.likelihood_equivalence_cases --out tests/fixtures/likelihood_reference.npz \\
        --checkpoint tests/fixtures/likelihood_checkpoint.npz
    python -m tests.likelihood_equivalence_cases --spec --out tests/fixtures/likelihood_spec_reference.npz
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sentinel.detect import persist
from sentinel.detect.counts import CountFloor
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard
from sentinel.detect.likelihood import Likelihood
from tests import detect_equivalence_cases as base

SEQ = {"bins": 4, "order": 3, "decay": 0.9995, "prior": 0.5, "shrink": 1 / 2000}
LIKELIHOOD = {"q": 0.9999, "eta": 0.05, "env_decay": 0.99, "env_gain": 1.3, "n_warm": 150, "max_L": 15.0,
              "start": 2.0, "decide_at": 0.99, "sequence": SEQ, "margin": 0.0, "margin_seq": 0.0, "novelty": False,
              "budget_alpha": 0.0, "dev_floor": 0.0, "rank_rate": 0.0,
              "rise_k": 0, "ceil_blocks": 0, "stuck_min": 0}
FAST_SEQ = {"bins": 3, "order": 2, "decay": 0.96, "prior": 1.0, "shrink": 1 / 200}
LIKELIHOOD_FAST = {**LIKELIHOOD, "q": 0.999, "eta": 0.1, "env_decay": 0.95, "env_gain": 1.1, "n_warm": 40,
                   "max_L": 8.0, "start": 0.5, "decide_at": 0.999, "sequence": FAST_SEQ, "margin": 0.15,
                   "margin_seq": 0.15}
LIKELIHOOD_NOSEQ = {**LIKELIHOOD, "sequence": False, "n_warm": 60}
LIKELIHOOD_SPEC = {**LIKELIHOOD, "margin_seq": 0.2, "novelty": True, "nov_tol": 0.05, "nov_forget": 5e-5,
                   "nov_alpha": 0.1, "nov_rel": 1.0}
# the report budget (round 3), on the spec layer; a fast one (alpha 0.02, rate 0.002) so that the short
# fleet runs over budget and the extra margin acts
LIKELIHOOD_BUDGET = {**LIKELIHOOD_SPEC, "budget_alpha": 0.02, "budget_rate": 2e-3, "budget_gain": 1.0}
# the deviation floor (round 4), on the budget layer
LIKELIHOOD_FLOOR = {**LIKELIHOOD_BUDGET, "dev_floor": 0.05}
OLD_CHECKPOINT = Path(__file__).parent / "fixtures" / "likelihood_checkpoint.npz"
COUNTS = {"half_life": 2000.0, "prior": 1.0, "min_count": 3.0, "band_z": 3.3, "learn_below": 0.999}


def make_default() -> Likelihood:
    return Likelihood(Guard(Ensemble(**base.ENSEMBLE_A), **base.GUARD), **LIKELIHOOD)


def make_fastseq() -> Likelihood:
    return Likelihood(Guard(Ensemble(**base.ENSEMBLE_A), **base.GUARD), **LIKELIHOOD_FAST)


def make_noseq() -> Likelihood:
    return Likelihood(Guard(Ensemble(**base.ENSEMBLE_B), **base.GUARD), **LIKELIHOOD_NOSEQ)


def make_spec() -> Likelihood:
    return Likelihood(Guard(Ensemble(**base.ENSEMBLE_A), **base.GUARD), **LIKELIHOOD_SPEC)


def make_budget() -> Likelihood:
    return Likelihood(Guard(Ensemble(**base.ENSEMBLE_A), **base.GUARD), **LIKELIHOOD_BUDGET)


def make_floor() -> Likelihood:
    return Likelihood(Guard(Ensemble(**base.ENSEMBLE_A), **base.GUARD), **LIKELIHOOD_FLOOR)


def make_counts() -> CountFloor:
    return CountFloor(Likelihood(Guard(Ensemble(**base.ENSEMBLE_A), **base.GUARD),
                                 **{**LIKELIHOOD, "sequence": False}), **COUNTS)


def run_all(roundtrip: Callable[[Any], Any],
            default_roundtrip: Callable[[Any], Any] | None = None) -> dict[str, np.ndarray]:
    """Every case; ``default_roundtrip`` (if given) replaces ``roundtrip`` in the ``default`` case."""
    values = base.make_values()
    cases = {
        "default": base.run_process(make_default, default_roundtrip or roundtrip, values, ("score",)),
        "fastseq": base.run_process(make_fastseq, roundtrip, values, ("score",)),
        "noseq": base.run_process(make_noseq, roundtrip, values, ("score",)),
        "counts": base.run_process(make_counts, roundtrip, values, ("score", "upper")),
        "steps": base.run_steps(make_default, values),
    }
    flat = {f"{case}/{k}": v for case, res in cases.items() for k, v in res.items()}
    flat["inputs_checksum"] = np.array([np.nansum(values), np.isnan(values).sum()])
    return flat


def tail_as_frozen(det: Likelihood) -> Likelihood:
    """``det`` (and its state) with the calibrators' tail the frozen checkpoint was written with.

    Loading a checkpoint that predates ``Ensemble.tail_power`` fills it with
    today's default (0.5); the frozen numbers extrapolate past the calibrators'
    last edge with the prior's power.
    """
    ens = det.inner.inner
    frozen = Ensemble(**{**ens.get_params(), "tail_power": ens.prior[2]})
    frozen.index_ = ens.index_
    out = Likelihood(Guard(frozen, **det.inner.get_params()), **det.get_params())
    out.state_ = det.state_
    return out


def upgrade(det: Likelihood) -> Likelihood:
    """The old checkpoint, continued with the spec's channels on (what loading it with today's defaults does)."""
    old = tail_as_frozen(persist.load(OLD_CHECKPOINT))
    new = Likelihood(old.inner, **LIKELIHOOD_SPEC)
    new.state_ = old.state_
    return new


def run_spec(roundtrip: Callable[[Any], Any]) -> dict[str, np.ndarray]:
    """The cases of the layer with the novelty channel and the sequence margin (``--spec``)."""
    values = base.make_values()
    res = {
        "spec": base.run_process(make_spec, roundtrip, values, ("score",)),
        "spec_steps": base.run_steps(make_spec, values),
        "spec_upgrade": base.run_process(make_spec, upgrade, values, ("score",)),
        "budget": base.run_process(make_budget, roundtrip, values, ("score",)),
        "budget_steps": base.run_steps(make_budget, values),
        "floor": base.run_process(make_floor, roundtrip, values, ("score",)),
        "floor_steps": base.run_steps(make_floor, values),
    }
    return {f"{case}/{k}": v for case, r in res.items() for k, v in r.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description="freeze reference outputs of the default detector kind")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--checkpoint", type=Path, help="also write the default case's mid-run checkpoint here")
    ap.add_argument("--spec", action="store_true", help="freeze the cases of the novelty/sequence-margin layer")
    args = ap.parse_args()

    def keep(det: Any) -> Any:
        """Save the default case's checkpoint with the code being frozen, continue from the loaded copy."""
        with tempfile.TemporaryDirectory() as d:
            persist.save(det, d)
            if args.checkpoint is not None:
                shutil.copyfile(Path(d) / persist.MODEL_FILE, args.checkpoint)
            return persist.load(d)

    def roundtrip(det: Any) -> Any:
        with tempfile.TemporaryDirectory() as d:
            persist.save(det, d)
            return persist.load(d)

    res = run_spec(roundtrip) if args.spec else run_all(roundtrip, keep)
    np.savez_compressed(args.out, **res)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, {len(res)} arrays)")


if __name__ == "__main__":
    main()
