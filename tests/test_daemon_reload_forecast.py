"""A reload that changes only a watch's ``forecast:`` section takes effect at once, keeping what was learned.

Before: the forecaster and its predictive-alert policy were built once with the watch, and a reload (which
keeps a watch whose query, step and detector are unchanged) only swapped the anomaly policy, so a new
``limit``, ``warn_within`` or ``horizon`` was silently ignored until a restart, a forecast section added to a
watch never forecast, and a removed one went on forecasting and alerting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sentinel.daemon import Daemon
from tests.test_daemon import HOUR, T0, _config, _drive

DISK = {"name": "disk", "query": "node_filesystem_avail_bytes", "every": "5m", "detector": None}
FORECAST = {"horizon": "6h", "limit": 0, "history": "6h", "warn_within": "3h", "critical_within": "1h"}
CROSSED = FORECAST | {"limit": 1e15, "direction": "down"}  # every disk is below it: critical at once


def _reload(d: Daemon, path: Path, forecast: dict[str, Any] | None) -> None:
    doc = d.config.model_dump(mode="json", by_alias=True, exclude_none=True)
    doc["watches"][0].pop("forecast", None)
    doc["watches"][0]["detector"] = d.config.watches[0].detector and d.config.watches[0].detector.model_dump()
    if forecast is not None:
        doc["watches"][0]["forecast"] = forecast
    path.write_text(yaml.safe_dump(doc))
    assert d.reload()


def _open(d: Daemon) -> set[str]:
    return {a.key for a in d.notifier.outbox.alerts("disk", firing_only=True) if a.kind == "forecast"}


def test_a_changed_forecast_section_applies_at_the_reload_and_keeps_the_open_alerts(tmp_path: Path) -> None:
    path = tmp_path / "sentinel.yaml"
    d = Daemon(_config(tmp_path, watches=[{**DISK, "forecast": CROSSED}]), config_path=path)
    d.start(schedule=False, serve=False)
    try:
        _drive(d, T0, T0 + 2 * HOUR)
        firing = _open(d)
        assert firing, "a limit above every disk fires"
        runner = d.slots["disk"].runner
        held, history = list(runner.forecast_policy.index_.keys), runner.history  # type: ignore[union-attr]
        _reload(d, path, CROSSED | {"warn_within": "2h"})
        runner = d.slots["disk"].runner
        assert runner.forecast_policy is not None and runner.forecast_policy.cfg.warn_within == 7200
        assert runner.forecast_policy.index_.keys == held and runner.history is history  # nothing re-learned
        assert runner.forecaster is not None and runner.forecaster.due(T0 + 2 * HOUR + 1)  # forecast again
        _drive(d, T0 + 2 * HOUR + 300, T0 + 2 * HOUR + 300)
        assert _open(d) == firing, "still crossed under the new warn_within: the same alerts, not new ones"
        _reload(d, path, FORECAST)  # limit 0: nothing will cross within the horizon
        assert d.slots["disk"].runner.forecaster.cfg.limit == 0  # type: ignore[union-attr]
        _drive(d, T0 + 2 * HOUR + 600, T0 + 2 * HOUR + 600)
        assert not _open(d), "the new limit resolves them"
    finally:
        d.stop()


def test_a_forecast_section_added_or_removed_by_a_reload_starts_or_stops_forecasting(tmp_path: Path) -> None:
    path = tmp_path / "sentinel.yaml"
    d = Daemon(_config(tmp_path, watches=[DISK | {"detector": {"kind": "default"}}]), config_path=path)
    d.start(schedule=False, serve=False)
    try:
        _drive(d, T0, T0 + HOUR)
        assert d.slots["disk"].runner.forecaster is None
        _reload(d, path, CROSSED)
        _drive(d, T0 + 2 * HOUR, T0 + 3 * HOUR)
        assert _open(d), "the added section forecasts and alerts"
        _reload(d, path, None)
        runner = d.slots["disk"].runner
        assert runner.forecaster is None and runner.forecast_policy is None
        _drive(d, T0 + 4 * HOUR, T0 + 4 * HOUR)
        assert not _open(d), "a removed section's alerts resolve"
    finally:
        d.stop()
