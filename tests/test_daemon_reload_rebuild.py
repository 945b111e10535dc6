"""A reload that rebuilds a watch (its query, step or detector changed) ends its open alerts, and says why.

Before: the alerts stayed firing until the new model's first cycle reconciled them away as if the model
no longer confirmed them, with no word in the resolution; the SRE saw a resolved alert, then (the condition
persisting) a new one, and no reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from sentinel.daemon import Daemon
from tests.test_daemon import HOUR, T0, _config, _drive


def test_rebuilt_watch_resolves_its_alerts_with_the_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = _config(tmp_path)
    path = tmp_path / "sentinel.yaml"
    d = Daemon(cfg, config_path=path)
    d.start(schedule=False, serve=False)
    try:
        _drive(d, T0, T0 + 6 * HOUR)
        firing = d.notifier.outbox.alerts("lat", firing_only=True)
        assert firing, "the touchy policy should have something firing"
        rate = {a.key for a in d.notifier.outbox.alerts("rate", firing_only=True)}
        doc = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
        doc["watches"][0]["detector"] = {"kind": "likelihood"}
        path.write_text(yaml.safe_dump(doc))
        with caplog.at_level(logging.INFO, logger="sentinel"):
            assert d.reload()
        assert not d.notifier.outbox.alerts("lat", firing_only=True)
        ended = {a.key: a for a in d.notifier.outbox.alerts("lat")}
        for a in firing:
            assert "reconfigured" in ended[a.key].annotations["resolution"], ended[a.key].annotations
        assert f"watch lat: resolved {len(firing)} alert(s): resolved by sentinel: the watch was reconfigured" \
            in caplog.text
        assert {a.key for a in d.notifier.outbox.alerts("rate", firing_only=True)} == rate  # untouched watch
    finally:
        d.stop()
