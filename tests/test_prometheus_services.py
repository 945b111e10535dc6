"""The real-service fixtures themselves: backfill, webhook delivery, Alertmanager restart."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.services import AlertmanagerServer, PrometheusServer, ServiceError, backfill, openmetrics

pytestmark = pytest.mark.services


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _post_alert(am: AlertmanagerServer, labels: dict[str, str], ends_at: datetime | None = None) -> None:
    alert: dict[str, Any] = {"labels": labels, "annotations": {"summary": "s"}}
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    req = urllib.request.Request(
        f"{am.url}/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def test_backfilled_history_is_queryable_at_once(prometheus_factory: Callable[..., PrometheusServer]) -> None:
    t0 = 1_600_000_020  # years old: kept only thanks to the long retention
    text = openmetrics("fx_total", "counter", [({"a": "1"}, [(t0 + 15 * k, float(k)) for k in range(100)])])
    prom = prometheus_factory([text[: len(text) // 2], text[len(text) // 2 :]])  # streamed in chunks
    got = _get(f"{prom.url}/api/v1/query?query=fx_total&time={t0 + 15 * 99}")["data"]["result"]
    assert got == [{"metric": {"__name__": "fx_total", "a": "1"}, "value": [t0 + 15 * 99, "99"]}]


def test_backfill_rejects_bad_text_with_promtool_message(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.raises(ServiceError, match="promtool backfill failed"):
        backfill("not openmetrics at all\n", tmp_path_factory.mktemp("bad") / "data")


def test_shared_alertmanager_delivers_to_webhook(alertmanager: AlertmanagerServer) -> None:
    _post_alert(alertmanager, {"alertname": "FixtureShared", "watch": "w"})
    alerts = alertmanager.webhook.wait_for(
        lambda a: any(x["labels"].get("alertname") == "FixtureShared" for x in a)
    )
    mine = [a for a in alerts if a["labels"]["alertname"] == "FixtureShared"]
    assert mine[0]["status"] == "firing" and mine[0]["annotations"] == {"summary": "s"}


def test_alertmanager_restart_keeps_port_and_delivers_resolution(
    alertmanager_factory: Callable[..., AlertmanagerServer],
) -> None:
    am = alertmanager_factory()
    labels = {"alertname": "FixtureRestart", "severity": "warning"}
    _post_alert(am, labels)
    am.webhook.wait_for(lambda a: any(x["status"] == "firing" for x in a))
    # Alertmanager logs a notification (nflog) just *after* the webhook answered; a stop
    # in between forgets it was sent, and then it never sends the resolution.
    time.sleep(1)
    url = am.url
    am.stop()
    assert not am.running
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/-/ready", timeout=2)
    am.start()
    assert am.url == url and am.alerts() == []  # alerts live in memory: the sender must re-send
    _post_alert(am, labels, ends_at=datetime.now(UTC) - timedelta(seconds=1))
    am.webhook.wait_for(lambda a: any(x["status"] == "resolved" for x in a))
