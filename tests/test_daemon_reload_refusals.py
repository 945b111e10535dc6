"""SIGHUP with a config that is now unusable: the running config is kept, with one log line and a counter.

``sentinel run`` refuses a config without watches at start; a reload used to
accept one (an empty file, as an editor or a config-management tool leaves
it mid-write), remove every watch and resolve every alert.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from sentinel.daemon import Daemon
from tests.test_daemon import T0, _config


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "watches: []\n", "watches: [\n", b"\xff\xfe"],
                         ids=["empty", "comment-only", "no-watches", "bad-yaml", "not-utf8"])
def test_an_unusable_config_on_reload_keeps_the_running_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str | bytes
) -> None:
    cfg = _config(tmp_path)
    path = tmp_path / "sentinel.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_unset=True)))
    d = Daemon(cfg, config_path=path)
    d.start(schedule=False, serve=False)
    try:
        d.run_cycle("lat", T0)
        firing_before = d.notifier.outbox.alerts(firing_only=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        with caplog.at_level(logging.WARNING, logger="sentinel"):
            assert d.reload() is False
        assert sorted(d.slots) == ["lat", "rate"] and d.config is cfg
        assert d.notifier.outbox.alerts(firing_only=True) == firing_before  # nothing resolved by the refusal
        assert d.registry.get_sample_value("sentinel_config_reload_errors_total") == 1
        assert d.registry.get_sample_value("sentinel_config_reloads_total") == 0
        lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) == 1 and lines[0].startswith("reload refused") and "\n" not in lines[0]
    finally:
        d.stop()
