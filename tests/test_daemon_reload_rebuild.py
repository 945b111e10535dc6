"""A reload that rebuilds a watch (its query, step or detector changed): its open alerts wait for the new model.

Session 11 resolved them at the reload, with the reason in the ``resolution`` annotation; but a condition that
persists fires again from the new model's warm-up, so the SRE got a resolution and then the same alert anew.
Now they stay firing until the new model's first cycle: an alert the new model also fires continues (its new
episode supersedes the old, so Alertmanager is never sent a resolution for it), the others resolve, saying why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sentinel.daemon import Daemon
from tests.services import pump_outbox
from tests.test_daemon import HOUR, T0, _config, _drive


def _rebuild(d: Daemon, path: Path, detector: dict[str, Any]) -> None:
    doc = d.config.model_dump(mode="json", by_alias=True, exclude_none=True)
    doc["watches"][0]["detector"] = detector
    path.write_text(yaml.safe_dump(doc))
    assert d.reload()


@pytest.mark.parametrize("detector", [{"kind": "likelihood"}, {"kind": "default", "params": {"counts": False}}],
                         ids=["other-model", "same-model"])
def test_a_rebuilt_watch_keeps_what_its_new_model_confirms_and_resolves_the_rest_saying_why(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, detector: dict[str, Any]) -> None:
    path = tmp_path / "sentinel.yaml"
    d = Daemon(_config(tmp_path), config_path=path)
    d.start(schedule=False, serve=False)
    try:
        _drive(d, T0, T0 + 6 * HOUR)
        firing = {a.key: a for a in d.notifier.outbox.alerts("lat", firing_only=True)}
        assert firing, "the touchy policy should have something firing"
        rate = {a.key for a in d.notifier.outbox.alerts("rate", firing_only=True)}
        _rebuild(d, path, detector)
        assert set(firing) <= {a.key for a in d.notifier.outbox.alerts("lat", firing_only=True)}, \
            "the reload itself resolves nothing"
        with caplog.at_level(logging.INFO, logger="sentinel"):
            _drive(d, T0 + 7 * HOUR, T0 + 7 * HOUR)
        now = {a.key: a for a in d.notifier.outbox.alerts("lat")}
        live = {tuple(sorted(a.labels.items())) for a in now.values() if not a.resolved and not a.superseded}
        continued = resolved = 0
        for key, old in firing.items():
            after = now[key]
            if tuple(sorted(old.labels.items())) in live:  # the new model fires it: one alert, never resolved
                assert after.superseded or not after.resolved, "a resolution would be sent"
                continued += 1
            else:
                assert after.resolved and "reconfigured" in after.annotations["resolution"], after.annotations
                resolved += 1
        if resolved:
            assert f"watch lat: resolved {resolved} alert(s): resolved by sentinel: the watch was reconfigured" \
                in caplog.text
        if detector["kind"] == "default":
            assert continued, "the same model re-learned from the warm-up fires at least one of the same alerts"
        assert {a.key for a in d.notifier.outbox.alerts("rate", firing_only=True)} == rate  # untouched watch
        _drive(d, T0 + 8 * HOUR, T0 + 8 * HOUR)
        assert all("resolution" not in a.annotations for a in d.notifier.outbox.alerts("lat")
                   if a.key not in firing), "only the first cycle after the rebuild resolves with the reason"
    finally:
        d.stop()


@pytest.mark.services
def test_alertmanager_never_hears_a_resolution_for_an_alert_the_rebuilt_watch_still_fires(
        alertmanager_factory: Callable[..., Any], tmp_path: Path) -> None:
    am = alertmanager_factory()
    path = tmp_path / "sentinel.yaml"
    d = Daemon(_config(tmp_path, alertmanager={"url": am.url, "resend_delay": "2s"}), config_path=path)
    d.start(schedule=False, serve=False)

    def active() -> set[str]:
        return {a["labels"]["agent"] for a in am.alerts()
                if a["status"]["state"] == "active" and a["labels"].get("watch") == "lat"}

    def lat(status: str) -> set[str]:
        return {a["labels"]["agent"] for a in am.webhook.alerts()
                if a["status"] == status and a["labels"].get("watch") == "lat"}

    try:
        _drive(d, T0, T0 + 6 * HOUR)
        before = {a.labels["agent"] for a in d.notifier.outbox.alerts("lat", firing_only=True)}
        pump_outbox(d, lambda: active() == before and before <= lat("firing"), seen=lambda: (active(), before))
        time.sleep(2.5)  # the alerts have fired for longer than resend_delay, as at any real reload
        _rebuild(d, path, {"kind": "default", "params": {"counts": False}})
        d.run_cycle("rate", T0 + 7 * HOUR)  # another watch's cycle flushes the outbox before lat's next one,
        d.notifier.drain(5)
        time.sleep(3)  # and a few of Alertmanager's group intervals pass (a resolution sent would be notified)
        _drive(d, T0 + 7 * HOUR, T0 + 7 * HOUR)
        after = {a.labels["agent"] for a in d.notifier.outbox.alerts("lat", firing_only=True)}
        kept, ended = before & after, before - after
        assert kept, "the same model re-learned from the warm-up fires at least one of the same alerts"
        pump_outbox(d, lambda: active() == after and d.notifier.outbox.counts()["resolved_pending"] == 0,
                    seen=lambda: (active(), after, d.notifier.outbox.counts()))
        am.webhook.wait_for(lambda _: ended <= lat("resolved"))
        time.sleep(3)  # a few group intervals: a resolution for a kept alert would have been notified by now
        assert not kept & lat("resolved"), "Alertmanager was told a continuing alert resolved"
    finally:
        d.stop()
