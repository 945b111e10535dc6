"""NAB scoring, implemented from the rules in ../shared/bench/README.md.

- the first ``min(floor(0.15 * rows), 750)`` rows of a file are probation:
  detections there are ignored;
- inside a window only the earliest detection counts; it earns
  ``tp * sigma(pos) / sigma(-1)`` with ``pos = -(right - i + 1) / width``
  (-1 at the window's first row, ~0 at its last) and
  ``sigma(x) = 2 / (1 + exp(5x)) - 1``;
- a window without a detection costs ``-fn``;
- every detection outside all windows costs ``fp * sigma(d)`` (a negative
  number), ``d = (i - right_prev) / width_prev`` in widths after the previous
  window, the full ``-fp`` from 3 widths on and before the first window;
- normalised score ``100 * (S - S_null) / (S_perfect - S_null)`` over the
  corpus (null: no detection; perfect: one detection at each window start).

The threshold sweep (:func:`best_threshold`) walks all rows of the corpus in
descending score order once, so the corpus-optimised threshold is exact.

>>> f = FileTruth.build(rows=100, windows=[(50, 59)])
>>> prof = PROFILES["standard"]
>>> round(f.score(np.zeros(100, bool), prof), 3)        # null detector
-1.0
>>> det = np.zeros(100, bool); det[50] = True            # at the window start
>>> round(f.score(det, prof), 3)
1.0
>>> det[5] = True                                        # probation: ignored
>>> det[30] = True                                       # before the window: -fp
>>> round(f.score(det, prof), 3)
0.89
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Profile:
    tp: float
    fn: float
    fp: float


PROFILES = {
    "standard": Profile(1.0, 1.0, 0.11),
    "reward_low_FP_rate": Profile(1.0, 1.0, 0.22),
    "reward_low_FN_rate": Profile(1.0, 2.0, 0.11),
}


def sigma(x: np.ndarray | float) -> np.ndarray:
    """NAB's scaled sigmoid, -1 beyond 3 widths."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * np.minimum(x, 50.0))) - 1.0)


MAX_TP = float(sigma(-1.0))


@dataclass
class FileTruth:
    """Per-row scoring weights of one file (independent of the detector)."""

    rows: int
    probation: int
    window_of: np.ndarray  # window index per row, -1 outside
    tp_credit: np.ndarray  # unweighted TP credit per row (inside windows)
    fp_cost: np.ndarray  # unweighted (negative) FP cost per row (outside windows)
    n_windows: int

    @classmethod
    def build(cls, rows: int, windows: list[tuple[int, int]]) -> FileTruth:
        """``windows``: inclusive row ranges, in time order."""
        window_of = np.full(rows, -1, dtype=np.int64)
        tp_credit = np.zeros(rows)
        fp_cost = np.full(rows, -1.0)
        idx = np.arange(rows)
        for w, (left, right) in enumerate(windows):
            width = right - left + 1
            window_of[left : right + 1] = w
            pos = -(right - idx[left : right + 1] + 1) / width
            tp_credit[left : right + 1] = sigma(pos) / MAX_TP
            stop = windows[w + 1][0] if w + 1 < len(windows) else rows
            after = idx[right + 1 : stop]
            fp_cost[right + 1 : stop] = sigma((after - right) / width)
        fp_cost[window_of >= 0] = 0.0
        probation = min(math.floor(0.15 * rows), 750)
        return cls(rows, probation, window_of, tp_credit, fp_cost, len(windows))

    def counts(self, det: np.ndarray) -> tuple[int, int, int]:
        """(true positive windows, missed windows, false positive rows)."""
        d = det.copy()
        d[: self.probation] = False
        hit = np.unique(self.window_of[d & (self.window_of >= 0)])
        return len(hit), self.n_windows - len(hit), int((d & (self.window_of < 0)).sum())

    def score(self, det: np.ndarray, prof: Profile) -> float:
        """Raw NAB score of a detection mask."""
        d = det.copy()
        d[: self.probation] = False
        total = prof.fp * float(self.fp_cost[d & (self.window_of < 0)].sum())
        for w in range(self.n_windows):
            inside = d & (self.window_of == w)
            total += prof.tp * float(self.tp_credit[inside].max()) if inside.any() else -prof.fn
        return total

    def null(self, prof: Profile) -> float:
        return -prof.fn * self.n_windows

    def perfect(self, prof: Profile) -> float:
        return prof.tp * self.n_windows


def normalise(raw: float, null: float, perfect: float) -> float:
    return 100.0 * (raw - null) / (perfect - null)


def best_threshold(files: list[FileTruth], scores: list[np.ndarray], prof: Profile) -> tuple[float, float]:
    """Corpus-optimised threshold: ``(threshold, normalised score)``, exact sweep."""
    parts_s, parts_f, parts_r = [], [], []
    for k, (f, s) in enumerate(zip(files, scores, strict=True)):
        r = np.arange(f.probation, f.rows)
        s = np.nan_to_num(s[r], nan=-np.inf)
        parts_s.append(s)
        parts_f.append(np.full(len(r), k))
        parts_r.append(r)
    s_all = np.concatenate(parts_s)
    f_all = np.concatenate(parts_f)
    r_all = np.concatenate(parts_r)
    order = np.argsort(-s_all, kind="stable")
    null = sum(f.null(prof) for f in files)
    perfect = sum(f.perfect(prof) for f in files)
    best_credit: dict[tuple[int, int], float] = {}
    total = null
    best = (math.inf, total)
    svals = s_all[order]
    fis = f_all[order]
    ris = r_all[order]
    for n in range(len(order)):
        f = files[fis[n]]
        i = ris[n]
        w = f.window_of[i]
        if w < 0:
            total += prof.fp * f.fp_cost[i]
        else:
            key = (int(fis[n]), int(w))
            old = best_credit.get(key)
            new = prof.tp * f.tp_credit[i]
            if old is None:
                total += prof.fn + new
                best_credit[key] = new
            elif new > old:
                total += new - old
                best_credit[key] = new
        last_of_tie = n + 1 == len(order) or svals[n + 1] != svals[n]
        if last_of_tie and svals[n] > -np.inf and total > best[1]:
            best = (float(svals[n]), total)
    return best[0], normalise(best[1], null, perfect)
