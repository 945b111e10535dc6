"""``sentinel detect FILE.csv --output OUT.csv``: offline, causal scoring of one series.

Contract (DESIGN §5): input ``timestamp,value``; output
``timestamp,value,score,anomaly`` with one row per input row (after the
documented treatment of bad rows, see :mod:`sentinel.detect.csvio`; rows
are written in time order), score in
[0, 1] (empty where the value is missing) and ``anomaly`` = 1 on the row where
the default alert policy raises an alert (the first row of an alert episode).
The file is replayed step by step through the same online detector and policy
the daemon uses, so the score of row t only uses rows <= t.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer

from sentinel.cli.app import app, fail


@dataclass
class DetectResult:
    rows: int
    alerts: int
    warnings: list[str]


def detect_file(src: Path, dst: Path, kind: str = "default", threshold: float | None = None) -> DetectResult:
    """Score ``src`` into ``dst`` (the command's body, reusable in-process by benchmarks)."""
    from sentinel.alerting.policy import Policy
    from sentinel.config import AlertPolicyConfig, DetectorConfig
    from sentinel.detect.csvio import read_series_csv, write_scores_csv
    from sentinel.detect.registry import build_detector
    from sentinel.series import Batch

    data = read_series_csv(src)
    batch = Batch.from_rows([{}], data.grid, data.grid_values[None, :], step=data.step)
    detector = build_detector(DetectorConfig(kind=kind), step=data.step)
    scores = detector.process(batch)
    policy_cfg = AlertPolicyConfig() if threshold is None else AlertPolicyConfig(threshold=threshold)
    events = Policy(policy_cfg, watch="detect").update(batch, scores)
    onset = np.zeros(len(data.grid), dtype=np.int8)
    starts = np.array([e.at for e in events if e.status == "firing"], dtype=np.int64)
    onset[np.searchsorted(data.grid, starts)] = 1
    row_scores = scores.score[0, data.positions]
    write_scores_csv(dst, data, row_scores, onset[data.positions] * data.scored)
    return DetectResult(rows=len(data.positions), alerts=len(starts), warnings=data.warnings)


@app.command("detect")
def detect(
    file: Path = typer.Argument(..., help="CSV with columns timestamp,value"),
    output: Path = typer.Option(..., "--output", "-o", help="where to write timestamp,value,score,anomaly"),
    detector: str = typer.Option("default", help="detector kind (see the README)"),
    threshold: float = typer.Option(
        None, min=0.0, max=1.0, help="alert threshold on the score (default: the alert policy's)"
    ),
) -> None:
    """Score every row of a timestamp,value CSV, online and causally."""
    from sentinel.detect.csvio import CSVError

    try:
        res = detect_file(file, output, kind=detector, threshold=threshold)
    except CSVError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{output}: cannot write ({exc.strerror or exc})")
    for w in res.warnings:
        typer.echo(f"sentinel: warning: {file}: {w}", err=True)
    typer.echo(f"{res.rows} rows scored, {res.alerts} alert(s) -> {output}", err=True)
