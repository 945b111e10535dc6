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

from sentinel.cli.app import app, fail, refuse_overwriting_input


@dataclass
class DetectResult:
    rows: int
    alerts: int
    warnings: list[str]


def detect_files(pairs: list[tuple[Path, Path]], kind: str = "default",
                 threshold: float | None = None) -> list[DetectResult]:
    """Score each ``(src, dst)`` pair (the command's body, also used in-process by benchmarks).

    Files with the same step are scored side by side as series of one batch
    (each with its own clock offset, so its seasonal slots follow its own
    timestamps): the results are the same as scoring each file alone, and
    many files cost little more than one.
    """
    from sentinel.alerting.policy import Policy
    from sentinel.config import AlertPolicyConfig, DetectorConfig
    from sentinel.detect.csvio import CSVError, read_series_csv, write_scores_csv
    from sentinel.detect.registry import build_detector
    from sentinel.series import Batch, labels_key

    datas = []
    for src, _ in pairs:
        try:
            datas.append(read_series_csv(src))
        except CSVError as exc:
            msg = str(exc)
            raise CSVError(msg if msg.startswith(str(src)) else f"{src}: {msg}") from None
    policy_cfg = AlertPolicyConfig() if threshold is None else AlertPolicyConfig(threshold=threshold)
    results: list[DetectResult | None] = [None] * len(pairs)
    for step in sorted({d.step for d in datas}):
        members = [i for i, d in enumerate(datas) if d.step == step]
        width = max(len(datas[i].grid) for i in members)
        values = np.full((len(members), width), np.nan)
        for row, i in enumerate(members):
            values[row, : len(datas[i].grid)] = datas[i].grid_values
        labels = [labels_key({"file": str(i)}) for i in members]
        batch = Batch.from_rows(labels, np.arange(width, dtype=np.int64) * step, values, step=step)
        detector = build_detector(DetectorConfig(kind=kind), step=step)
        for lab, i in zip(labels, members, strict=True):
            detector.set_state(lab, "b.offset", int(datas[i].grid[0]))
        scores = detector.process(batch)
        events = Policy(policy_cfg, watch="detect").update(batch, scores)
        onset = np.zeros((len(members), width), dtype=np.int8)
        row_of = {lab: r for r, lab in enumerate(labels)}
        for e in events:
            if e.status == "firing" and e.kind == "anomaly":
                onset[row_of[e.labels], e.at // step] = 1
        for row, i in enumerate(members):
            d = datas[i]
            write_scores_csv(pairs[i][1], d, scores.score[row, d.positions], onset[row, d.positions] * d.scored)
            results[i] = DetectResult(rows=len(d.positions), alerts=int(onset[row].sum()), warnings=d.warnings)
    return [r for r in results if r is not None]


def detect_file(src: Path, dst: Path, kind: str = "default", threshold: float | None = None) -> DetectResult:
    """Score one file (see :func:`detect_files`)."""
    return detect_files([(src, dst)], kind=kind, threshold=threshold)[0]


@app.command("detect")
def detect(
    files: list[Path] = typer.Argument(..., help="CSV file(s) with columns timestamp,value"),
    output: Path = typer.Option(None, "--output", "-o", help="where to write timestamp,value,score,anomaly"),
    output_dir: Path = typer.Option(None, "--output-dir", help="with several files: write DIR/<file name> for each"),
    detector: str = typer.Option("default", help="detector kind (see the README)"),
    threshold: float = typer.Option(
        None, min=0.0, max=1.0, help="alert threshold on the score (default: the alert policy's)"
    ),
) -> None:
    """Score every row of timestamp,value CSV file(s), online and causally."""
    from sentinel.detect.csvio import CSVError

    if (output is None) == (output_dir is None):
        fail("give exactly one of --output OUT.csv (one file) or --output-dir DIR")
    if output is not None and len(files) > 1:
        fail(f"{len(files)} input files need --output-dir DIR, not --output")
    if output_dir is not None:
        names = [f.name for f in files]
        if len(set(names)) < len(names):
            fail("input files share a file name; --output-dir would overwrite: score them separately")
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"{output_dir}: cannot create ({exc.strerror or exc})")
        pairs = [(f, output_dir / f.name) for f in files]
    else:
        pairs = [(files[0], output)]
    if detector in ("stl", "multivariate"):  # batch models: no per-file clock offset (detect_files needs one)
        fail(f"detect scores with the online kinds (default, likelihood, guarded, ensemble), not {detector!r}; "
             "to replay a file with stl: `sentinel backtest --csv FILE --detector stl`")
    for src, dst in pairs:
        refuse_overwriting_input(src, dst)
    try:
        results = detect_files(pairs, kind=detector, threshold=threshold)
    except (CSVError, ValueError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write output ({exc.strerror or exc}: {exc.filename})")
    for (src, dst), res in zip(pairs, results, strict=True):
        for w in res.warnings:
            typer.echo(f"sentinel: warning: {src}: {w}", err=True)
        typer.echo(f"{src}: {res.rows} rows scored, {res.alerts} alert(s) -> {dst}", err=True)
