"""``timestamp,value`` CSV files in and out (the ``sentinel detect`` contract, DESIGN §5).

Reading is forgiving where a sensible treatment exists and strict where it
does not; every treatment is reported as a one-line warning:

- a missing, non-numeric or infinite value: the row is kept, its value is
  missing (its score is empty, its anomaly 0);
- rows out of time order: sorted (stable);
- repeated timestamps: the last row of each is scored; the others are written
  out with the same score and never raise an alert of their own;
- gaps in an otherwise regular series: the grid is kept (gap rows are
  missing values that are not written out);
- irregular spacing: the rows are scored as a sequence at the median step
  (:func:`sentinel.timegrid.place`, the rule forecasts and library calls share).

An empty file, a missing header, a missing column or an unparseable
timestamp is an error (:class:`CSVError`, one line naming the row), and so is
a numeric timestamp beyond ``MAX_UNIX_SECONDS`` (not Unix seconds).
Timestamps may be dates (``2013-12-02 21:15:00``, ISO 8601; naive ones are
UTC) or Unix seconds.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sentinel.series import MAX_UNIX_SECONDS  # beyond it a number is not seconds, and differences would overflow
from sentinel.timegrid import place


class CSVError(ValueError):
    """A file that cannot be scored; the message is one line."""


@dataclass
class SeriesCSV:
    """One series read from CSV: every row in time order, and the grid to score it on."""

    raw_timestamps: list[str]  # as written in the file, every row, in time order
    raw_values: list[str]
    positions: np.ndarray  # grid index of every row (repeated timestamps share one)
    scored: np.ndarray  # bool per row: the row whose value the grid cell holds
    grid: np.ndarray  # int64 timestamps of the scoring grid
    grid_values: np.ndarray  # float64 per grid step, NaN = missing
    step: int
    forecast_grid: np.ndarray  # ``grid`` ending at the real last timestamp (differs only for irregular input)
    warnings: list[str] = field(default_factory=list)


def _parse_float(cell: str) -> float:
    try:
        v = float(cell)
    except ValueError:
        return math.nan
    return v if math.isfinite(v) else math.nan


def _parse_times(cells: list[str], first_row: int) -> np.ndarray:
    nums = pd.to_numeric(pd.Series(cells), errors="coerce")
    if not nums.isna().any():
        secs = nums.to_numpy(dtype=np.float64)
        out = np.flatnonzero(~(np.abs(secs) <= MAX_UNIX_SECONDS))
        if len(out):
            i = int(out[0])
            raise CSVError(f"row {i + first_row}: timestamp {cells[i]!r} is out of range for Unix seconds "
                           f"(|t| <= {MAX_UNIX_SECONDS:.0e}, about 3,000 years either side of 1970)")
        return np.floor(secs).astype(np.int64)
    parsed = pd.to_datetime(pd.Series(cells), errors="coerce", utc=True, format="mixed")
    unparsed = parsed.isna().to_numpy()
    bad = np.flatnonzero(unparsed & nums.isna().to_numpy())  # neither a date nor a number
    if len(bad):
        i = int(bad[0])
        raise CSVError(
            f"row {i + first_row}: cannot read timestamp {cells[i]!r} (use e.g. 2024-01-31 12:00:00 or Unix seconds)"
        )
    if unparsed.any():  # blamed the number before, not the date beside it
        i, j = int(np.flatnonzero(unparsed)[0]), int(np.flatnonzero(~unparsed)[0])
        raise CSVError(f"row {i + first_row}: timestamp {cells[i]!r} is Unix seconds but row {j + first_row} "
                       f"has a date ({cells[j]!r}): use one style")
    secs = parsed.dt.tz_convert(None).to_numpy().astype("datetime64[s]")
    return secs.astype(np.int64)


def read_series_csv(path: str | Path) -> SeriesCSV:
    """Read and normalise a ``timestamp,value`` file (see the module doc)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise CSVError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise CSVError(f"{p}: not a CSV file ({exc})") from None
    if not rows:
        raise CSVError(f"{p}: empty file (expected a header `timestamp,value` and rows)")
    header = [c.strip().lower() for c in rows[0]]
    if "timestamp" not in header or "value" not in header:
        raise CSVError(f"{p}: the first line must be a header with columns `timestamp` and `value`, got {rows[0][:4]}")
    ti, vi = header.index("timestamp"), header.index("value")
    body = rows[1:]
    if not body:
        raise CSVError(f"{p}: no data rows after the header")
    warnings: list[str] = []
    raw_t = [r[ti].strip() if ti < len(r) else "" for r in body]
    raw_v = [r[vi].strip() if vi < len(r) else "" for r in body]
    try:
        ts = _parse_times(raw_t, first_row=2)
    except CSVError as exc:  # name the file: capacity-report reads a directory of them
        raise CSVError(f"{p}: {exc}") from None
    vals = np.array([_parse_float(c) for c in raw_v], dtype=np.float64)
    n_missing = int(np.isnan(vals).sum())
    if n_missing:
        warnings.append(f"{n_missing} row(s) with a missing or non-numeric value: scored as missing")
    order = np.argsort(ts, kind="stable")
    if (np.diff(ts) < 0).any():
        warnings.append("rows were not in time order: sorted by timestamp")
    ts, vals = ts[order], vals[order]
    raw_t = [raw_t[i] for i in order]
    raw_v = [raw_v[i] for i in order]
    last = np.r_[ts[1:] != ts[:-1], True]
    if not last.all():
        warnings.append(f"{int((~last).sum())} repeated timestamp(s): the last row of each is scored, "
                        "its duplicates are written with the same score")
    uts = ts[last]
    try:
        placed = place(uts)  # the one rule for irregular input (sentinel.timegrid)
    except ValueError as exc:
        raise CSVError(f"{p}: {exc}") from None
    if placed.irregular:
        warnings.append(f"irregular time steps: scored as a sequence at the median step of {placed.step}s")
    group = np.cumsum(np.r_[0, last[:-1]])  # unique-timestamp index of every row
    cell, grid, step = placed.cells, placed.grid, placed.step
    grid_values = np.full(len(grid), np.nan)
    grid_values[cell] = vals[last]
    return SeriesCSV(raw_t, raw_v, cell[group], last, grid, grid_values, step, placed.forecast_grid, warnings)


def format_score(score: float) -> str:
    """Scores keep their resolution near 1 (thresholds like 0.99999 must stay rankable).

    >>> format_score(0.9999999123456), format_score(float("nan"))
    ('0.9999999123', '')
    """
    return "" if math.isnan(score) else f"{score:.10f}".rstrip("0").rstrip(".") if score else "0"


def write_scores_csv(path: str | Path, data: SeriesCSV, scores: np.ndarray, anomaly: np.ndarray) -> None:
    """Write ``timestamp,value,score,anomaly``, one row per input row."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["timestamp", "value", "score", "anomaly"])
        for t, v, s, a in zip(data.raw_timestamps, data.raw_values, scores.tolist(), anomaly.tolist(), strict=True):
            w.writerow([t, v, format_score(s), int(a)])
