"""Capacity planning: the expected peak over the next week, with headroom, as a table and a plot.

For each signal (e.g. the fleet's queue depth and token rate) the series
are summed into a fleet total (and optionally kept per series), forecast a
week ahead, and summarised as: current value, expected peak (the highest
point of the median forecast) and when, the upper bound of the interval at
its highest, and the capacity to provision = upper peak x (1 + headroom).

>>> t = np.arange(0, 4 * 86400, 3600)
>>> b = Batch.from_rows([{"agent": "a"}], t, [10 + 5 * np.sin(2 * np.pi * t / 86400)])
>>> rows = capacity_table({"queue": b}, horizon=86400, headroom=0.2)
>>> [(r.signal, r.series, round(r.peak)) for r in rows]
[('queue', 'fleet total', 15)]
>>> print(markdown_table(rows).splitlines()[0])
| signal | series | current | expected peak | peak at | upper (95%) | provision (+20%) | method |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sentinel.forecast.forecaster import Forecast, Forecaster
from sentinel.series import Batch, format_labels

WEEK = 7 * 86400


@dataclass(frozen=True)
class CapacityRow:
    """One line of the capacity report."""

    signal: str
    series: str
    current: float
    peak: float
    peak_at: int
    upper_peak: float
    provision: float
    headroom: float
    level: float
    method: str
    history_t: np.ndarray
    history_y: np.ndarray
    forecast: Forecast


def _rows_of(signal: str, batch: Batch, per_series: bool) -> list[tuple[str, np.ndarray]]:
    with np.errstate(all="ignore"):
        seen = np.isfinite(batch.values).any(axis=0)
        total = np.where(seen, np.nansum(batch.values, axis=0), np.nan)
    out = [("fleet total", total)]
    if per_series and batch.n_series > 1:
        out += [(format_labels(lb), batch.values[i]) for i, lb in enumerate(batch.labels)]
    return out


def capacity_table(
    batches: Mapping[str, Batch],
    horizon: int = WEEK,
    headroom: float = 0.2,
    level: float = 0.95,
    per_series: bool = False,
    scale: Mapping[str, float] | None = None,
) -> list[CapacityRow]:
    """Forecast every signal's fleet total (and each series with ``per_series``) ``horizon`` ahead.

    ``scale`` multiplies a signal's values first (e.g. 3600 to turn tokens/s
    into tokens per hour).  Raises ValueError, naming the series, when one cannot be forecast.
    """
    if headroom < 0:
        raise ValueError("headroom must be >= 0")
    rows = []
    for signal, batch in batches.items():
        k = (scale or {}).get(signal, 1.0)
        for name, y in _rows_of(signal, batch, per_series):
            y = y * k
            f = Forecaster(level=level)
            try:
                fc = f.forecast(batch.timestamps, y, horizon)
            except ValueError as exc:  # name the series: with --csv-dir, which of the files
                raise ValueError(f"{signal} ({name}): {exc}") from None
            j = int(np.argmax(fc.yhat))
            upper = float(fc.upper.max())
            rows.append(CapacityRow(signal, name, f.last_value_, float(fc.yhat[j]), int(fc.timestamps[j]), upper,
                                    upper * (1 + headroom), headroom, level, fc.method, batch.timestamps, y, fc))
    return rows


def markdown_table(rows: list[CapacityRow]) -> str:
    """The report as a markdown table (readable as plain text too)."""
    if not rows:
        return "(no series)\n"
    lvl, hr = rows[0].level, rows[0].headroom
    head = (f"| signal | series | current | expected peak | peak at | upper ({lvl:.0%}) | provision (+{hr:.0%}) "
            "| method |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        at = np.datetime64(r.peak_at, "s").astype(str).replace("T", " ")
        lines.append(f"| {r.signal} | {r.series} | {r.current:.4g} | {r.peak:.4g} | {at} | {r.upper_peak:.4g} "
                     f"| {r.provision:.4g} | {r.method} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[CapacityRow], path: str | Path, history: int = 3 * 86400) -> Path:
    """One panel per fleet-total row: recent history, forecast, interval, peak and provision lines (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    totals = [r for r in rows if r.series == "fleet total"] or rows
    fig, axes = plt.subplots(len(totals), 1, figsize=(10, 3.2 * len(totals)), squeeze=False)
    for ax, r in zip(axes[:, 0], totals, strict=True):
        keep = r.history_t > r.history_t[-1] - history
        ht = r.history_t[keep].astype("datetime64[s]")
        ft = r.forecast.timestamps.astype("datetime64[s]")
        ax.plot(ht, r.history_y[keep], color="0.3", lw=0.8, label="history")
        ax.plot(ft, r.forecast.yhat, color="tab:blue", lw=1, label=f"forecast ({r.method})")
        ax.fill_between(ft, r.forecast.lower, r.forecast.upper, color="tab:blue", alpha=0.2,
                        label=f"{r.level:.0%} interval")
        ax.axhline(r.peak, color="tab:orange", ls="--", lw=0.8, label=f"expected peak {r.peak:.4g}")
        ax.axhline(r.provision, color="tab:red", ls=":", lw=1,
                   label=f"provision {r.provision:.4g} (+{r.headroom:.0%})")
        ax.set_title(f"{r.signal}: {r.series}")
        ax.legend(loc="upper left", fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
