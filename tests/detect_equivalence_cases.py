"""Frozen reference runs of the online detectors, for the speed-equivalence test.

The compiled detector (``sentinel.detect``) must give the same numbers as the
numpy implementation it replaced.  This module builds one varied fleet
(seasonal, noisy, spiky, level shifts, NaN gaps, constant, counts, drift,
clock offsets, huge and tiny values) and drives detectors through every
entry point: ``process`` over several batches (one of them a reordered
subset of the series), ``score`` then ``learn`` of the same batch, a
checkpoint round trip, and the per-step ``_score_step``/``_learn_step`` calls
with partial weights that wrappers such as the likelihood make.  All
constructor parameters are explicit, so later changes of the defaults do not
move the frozen numbers.

Freeze the outputs of a reference implementation (a copy of the numpy
modules from git, importable as package ``refdetect``)::

    python -m tests.detect_equivalence_cases --reference /tmp/detref \\
        --out tests/fixtures/detect_reference.npz
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sentinel.series import Batch

STEP = 600
N_STEPS = 1100
START = 1_700_000_000
# (start, stop) column ranges driven one after another (see run_process)
SEGMENTS = ((0, 450), (450, 750), (750, 1000), (1000, 1050), (1050, 1100))
THIN = 4  # stored every THIN-th column for the bulky outputs

BASELINE = {
    "alpha_local": 0.1, "alpha_level": 0.02, "alpha_slow": 0.01, "alpha_fast": 0.25, "alpha_mid": 1 / 16,
    "alpha_season": 0.2, "alpha_scale": 0.02, "alpha_select": 0.01, "clip": 4.0, "daily_slots": 288,
    "weekly_slots": 168, "warmup": 12, "rough_floor": 0.1,
}
ENSEMBLE_A = {
    "step": STEP, "members": ("residual", "change", "range"), "band": 4.0, "half_life": 3000.0, "cal_floor": 1.0,
    "stride": 1, "baseline": BASELINE, "refractory": 48.0, "episode_floor": 2.5, "prior": (10.0, 2.0, 4.0),
    "tail_power": 4.0,  # the prior's power: the calibrators' tail as frozen (before tail_power existed)
}
ENSEMBLE_B = {
    "step": STEP, "members": ("residual", "change", "volatility", "range"), "band": 3.0, "half_life": 500.0,
    "cal_floor": 0.5, "stride": 2, "baseline": {**BASELINE, "warmup": 20}, "refractory": 0.0, "episode_floor": 2.0,
    "prior": (5.0, 1.5, 3.0), "tail_power": 3.0,
}
GUARD = {"learn_below": 0.99, "skip_above": 0.999, "relearn_after": 10}
OFFSET_ROW, OFFSET = 18, 3 * 3600


def make_values() -> np.ndarray:
    """24 series x N_STEPS: one of each kind a fleet produces (rows documented inline)."""
    rng = np.random.default_rng(20261125)
    t = np.arange(N_STEPS) * STEP
    day = np.sin(2 * np.pi * t / 86400)
    week = np.sin(2 * np.pi * t / (7 * 86400))
    v = np.empty((24, N_STEPS))
    for r in range(4):  # daily seasonal, different amplitude / phase / noise
        v[r] = 100 + (10 + 20 * r) * np.sin(2 * np.pi * t / 86400 + r) + rng.normal(0, 1 + r, N_STEPS)
    v[4] = 50 + 10 * day + 15 * week + rng.normal(0, 1, N_STEPS)  # daily + weekly
    v[5] = 500 + 100 * np.maximum(day, 0) * (1 + (week > 0)) + rng.normal(0, 5, N_STEPS)
    v[6] = rng.normal(10, 1, N_STEPS)  # white noise
    v[7] = rng.normal(-3, 0.01, N_STEPS)
    v[8] = rng.normal(20, 1, N_STEPS)  # spikes both ways
    v[8, rng.choice(N_STEPS, 25, replace=False)] += rng.choice([-1, 1], 25) * rng.uniform(5, 50, 25)
    v[9] = np.abs(rng.normal(0, 0.1, N_STEPS))
    v[9, rng.choice(N_STEPS, 10, replace=False)] = 30.0
    v[10] = rng.normal(100, 2, N_STEPS) + 30 * (np.arange(N_STEPS) >= 300)  # level shift up, mid-batch
    v[11] = rng.normal(100, 2, N_STEPS) - 40 * (np.arange(N_STEPS) >= 750)  # level shift down at a batch edge
    v[12] = 30 + 5 * day + rng.normal(0, 1, N_STEPS)  # NaN gaps: scattered and one long
    v[12, rng.random(N_STEPS) < 0.1] = np.nan
    v[12, 500:600] = np.nan
    v[13] = 5.0  # constant
    v[14] = 0.0  # flat zero with rare spikes
    v[14, [200, 640, 900]] = [3.0, 7.0, 1.0]
    v[15] = rng.poisson(4 + 3 * (1 + day))  # counts
    v[16] = np.linspace(0, 200, N_STEPS) + rng.normal(0, 1, N_STEPS)  # drift
    v[17] = rng.normal(0, 1, N_STEPS) * np.where((t > 400 * STEP) & (t < 480 * STEP), 8.0, 1.0)  # noise burst
    v[18] = 80 + 20 * np.sin(2 * np.pi * (t + OFFSET) / 86400) + rng.normal(0, 1, N_STEPS)  # clock offset
    v[19] = 40 + 10 * day + rng.standard_t(2, N_STEPS)  # heavy tails
    v[20] = 1e9 + 1e6 * day + rng.normal(0, 1e4, N_STEPS)  # huge
    v[21] = 1e-6 * (1 + 0.2 * day + 0.05 * rng.normal(size=N_STEPS))  # tiny
    v[22] = 60 + 8 * day + rng.normal(0, 1, N_STEPS)  # gap across a batch edge
    v[22, 430:470] = np.nan
    v[23] = rng.normal(10, 1, N_STEPS)  # short excursion, then a stuck sensor
    v[23, 600:620] += 15
    v[23, 800:900] = v[23, 799]
    v[:, 333] = np.nan  # a step where every series is missing (a failed scrape)
    return v


def _labels(rows: np.ndarray) -> list[dict[str, str]]:
    return [{"series": f"s{r:02d}"} for r in rows]


def _batch(values: np.ndarray, rows: np.ndarray, a: int, b: int) -> Batch:
    ts = START + np.arange(a, b, dtype=np.int64) * STEP
    return Batch.from_rows(_labels(rows), ts, values[np.ix_(rows, np.arange(a, b))], step=STEP)


def _state(det: Any) -> dict[str, np.ndarray]:
    """The learned state, less the drift check's (``dr.*``: newer than the numpy reference; tests/test_drift.py).

    The calibrators' counts are int32 since session 12 (the same values): as the reference's int64.
    """
    return {f"state:{k}": np.asarray(v).astype(np.int64) if k.endswith("cal.count") else np.asarray(v)
            for k, v in det.state_.items() if not k.startswith("dr.")}


def run_process(make: Callable[[], Any], roundtrip: Callable[[Any], Any], values: np.ndarray,
                store_all: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Drive a detector through process / subset process / round trip / score / learn / process.

    Returns the scores as (series, time) arrays in the original series order
    (NaN where a series was not in the batch), thinned to every ``THIN``-th
    column except for the names in ``store_all``, plus the final state.
    """
    n = len(values)
    det = make()
    det.set_state((("series", f"s{OFFSET_ROW:02d}"),), "b.offset", OFFSET)  # before any batch, as detect does
    out: dict[str, np.ndarray] = {}

    def put(rows: np.ndarray, a: int, b: int, scores: Any) -> None:
        named = {"score": scores.score, "expected": scores.expected, "lower": scores.lower, "upper": scores.upper}
        named.update({f"member:{k}": v for k, v in (scores.members or {}).items()})
        for k, arr in named.items():
            full = out.setdefault(k, np.full((n, N_STEPS), np.nan))
            full[rows, a:b] = arr

    every = np.arange(n)
    (a, b), (c, d), (e, f), (g, h), (i, j) = SEGMENTS
    put(every, a, b, det.process(_batch(values, every, a, b)))
    subset = np.random.default_rng(7).permutation(n)[: n - 3]  # reordered, three series absent
    put(subset, c, d, det.process(_batch(values, subset, c, d)))
    det = roundtrip(det)
    put(every, e, f, det.process(_batch(values, every, e, f)))
    put(every, g, h, det.score(_batch(values, every, g, h)))
    det.learn(_batch(values, every, g, h))
    put(every, i, j, det.process(_batch(values, every, i, j)))
    thin = {k: (v if k in store_all else v[:, ::THIN]) for k, v in out.items()}
    return {**thin, **_state(det)}


def run_steps(make: Callable[[], Any], values: np.ndarray) -> dict[str, np.ndarray]:
    """The per-step protocol a wrapper uses: score, then learn with partial weights (sometimes learn only)."""
    n = len(values)
    det = make()
    every = np.arange(n)
    b = _batch(values, every, 0, 800)
    det._on_batch(b)
    _, state = det._gather(b)
    score = np.full((n, b.n_steps), np.nan)
    member = np.full((n, b.n_steps), np.nan)
    for col, t in enumerate(b.timestamps.tolist()):
        x = b.values[:, col]
        if col % 97 != 5:  # now and then learn without scoring first (the guard judges the point itself)
            s = det._score_step(state, t, x)
            score[:, col] = s.score
            member[:, col] = s.members["change"]
        weight = ((every * 7 + col * 3) % 5) / 4.0
        det._learn_step(state, t, x, weight)
    return {"score": score, "member:change": member[:, ::THIN], **_state(det)}


def run_all(lib: Any, roundtrip: Callable[[Any], Any]) -> dict[str, np.ndarray]:
    """Every case with the classes of ``lib`` (a module namespace with Ensemble and Guard)."""
    values = make_values()
    cases = {
        "guarded": run_process(lambda: lib.Guard(lib.Ensemble(**ENSEMBLE_A), **GUARD), roundtrip, values,
                               ("score", "expected")),
        "ensemble": run_process(lambda: lib.Ensemble(**ENSEMBLE_B), roundtrip, values, ("score",)),
        "steps": run_steps(lambda: lib.Guard(lib.Ensemble(**ENSEMBLE_A), **GUARD), values),
    }
    flat = {f"{case}/{k}": v for case, res in cases.items() for k, v in res.items()}
    flat["inputs_checksum"] = np.array([np.nansum(values), np.isnan(values).sum()])
    return flat


def assert_case_matches(ref: dict[str, np.ndarray], new: dict[str, np.ndarray], case: str) -> None:
    """Every frozen array of ``case`` is reproduced (same keys, shapes, dtypes; rtol 1e-9)."""
    keys = sorted(k for k in ref if k.startswith(case + "/"))
    assert keys and keys == sorted(k for k in new if k.startswith(case + "/"))
    for k in keys:
        want, got = ref[k], new[k]
        assert got.shape == want.shape and got.dtype == want.dtype, k
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=k)


def _reference_lib(root: Path) -> Any:
    sys.path.insert(0, str(root))
    ens = importlib.import_module("refdetect.ensemble")
    guard = importlib.import_module("refdetect.guard")
    return argparse.Namespace(Ensemble=ens.Ensemble, Guard=guard.Guard)


def main() -> None:
    ap = argparse.ArgumentParser(description="freeze reference outputs")
    ap.add_argument("--reference", type=Path, required=True, help="directory holding the package refdetect")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    res = run_all(_reference_lib(args.reference), lambda det: det)
    np.savez_compressed(args.out, **res)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes, {len(res)} arrays)")


if __name__ == "__main__":
    main()
