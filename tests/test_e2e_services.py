"""End to end against real servers: backfilled Prometheus -> sentinel -> real Alertmanager -> webhook.

The fleet's history (OpenMetrics, ``promtool tsdb create-blocks-from``)
holds two incidents with ground truth; sentinel's cycles are driven on a
controlled clock over the backfilled range (no waiting on wall time), so the
whole day replays in seconds.  Alerts then travel through a real
Alertmanager to a webhook receiver.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sentinel.config import Config
from sentinel.daemon import Daemon
from sentinel.fleet import Fleet, Incident
from sentinel.fleet.openmetrics import write_openmetrics
from tests.services import pump_outbox, unix_seconds

pytestmark = [pytest.mark.services, pytest.mark.slow]

HOUR = 3600
# mean task latency: with a handful of tasks per agent per 5m, histogram_quantile over the buckets is too
# noisy to see a 2.4x regression (measured: p95 jumps 10 -> 15 -> 10 s between minutes on clean data)
LATENCY = ("sum by (agent) (rate(agent_task_duration_seconds_sum[5m]))"
           " / sum by (agent) (rate(agent_task_duration_seconds_count[5m]))")
TOKENS = "sum by (agent, gen_ai_token_type) (rate(gen_ai_client_token_usage_sum[5m]))"


class History:
    def __init__(self, fleet: Fleet, incidents: list[Incident], prom_url: str) -> None:
        self.fleet, self.incidents, self.prom_url = fleet, incidents, prom_url
        self.start = fleet.start


@pytest.fixture(scope="module")
def history(prometheus_factory: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    base = Fleet(agents=4, incident_rate=0)
    incidents = [
        base.make_incident("latency_regression", "agent-01", base.start + 5 * HOUR, HOUR),
        base.make_incident("runaway_loop", "agent-02", base.start + 8 * HOUR, 45 * 60),
    ]
    fleet = base.with_incidents(incidents)
    path = tmp_path_factory.mktemp("history") / "fleet.om"
    write_openmetrics(fleet, path, fleet.start - 12 * HOUR, fleet.start + 12 * HOUR)
    prom = prometheus_factory(path)
    yield History(fleet, incidents, prom.url)


def _config(tmp: Path, prom_url: str, am_url: str) -> Config:
    # `for: 2m`: the default ensemble absorbs a level shift within ~10-15 minutes, so `for: 5m` never fired
    policy = {"threshold": 0.99, "for": "2m", "direction": "up", "resolve_after": "5m"}
    return Config.model_validate({
        "prometheus": {"url": prom_url, "backfill": "12h"},
        "alertmanager": {"url": am_url, "resend_delay": "1s", "external_url": "http://sentinel.example:9108"},
        "store": {"path": str(tmp / "sentinel.db"), "models_dir": str(tmp / "models")},
        "server": {"listen": "127.0.0.1:0"},
        "watches": [
            {"name": "task_latency_p95", "query": LATENCY, "every": "1m", "runbook_url": "https://rb.example/latency",
             "alert": {**policy, "min_deviation": "30%", "severity": "warning"}},
            {"name": "llm_tokens", "query": TOKENS, "every": "1m",
             "alert": {**policy, "min_deviation": "50%", "severity": "critical"}},
        ],
    })


def _drive(d: Daemon, start: int, end: int, every: int = HOUR // 2) -> None:
    for now in range(start, end + 1, every):
        for name in d.slots:
            d.run_cycle(name, now)


def _episodes(alerts: list[dict[str, Any]], status: str) -> set[tuple[str, str]]:
    return {(a["labels"]["watch"], a["labels"]["agent"]) for a in alerts if a["status"] == status}


EXPECTED = {("task_latency_p95", "agent-01"), ("llm_tokens", "agent-02")}


def test_incidents_alert_through_alertmanager_and_resolve(
    history: History, alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    am = alertmanager_factory()
    d = Daemon(_config(tmp_path, history.prom_url, am.url))
    d.start(schedule=False)
    try:
        _drive(d, history.start, history.start + 12 * HOUR)
        pump_outbox(d, lambda: _episodes(am.webhook.alerts(), "resolved") >= EXPECTED,
              seen=lambda: [(a["status"], a["labels"]) for a in am.webhook.alerts()])
        alerts = am.webhook.alerts()
        firing = [a for a in alerts if a["status"] == "firing"]
        assert _episodes(alerts, "firing") >= EXPECTED
        # clean agents (agent-03 never has an incident; agent-00 had none here) raise nothing
        assert not [a for a in alerts if a["labels"]["agent"] in ("agent-00", "agent-03")]
        lat = next(a for a in firing if a["labels"]["watch"] == "task_latency_p95")
        assert lat["labels"] == {"alertname": "SentinelAnomaly", "severity": "warning", "watch": "task_latency_p95",
                                 "agent": "agent-01"}
        assert "agent-01" in lat["annotations"]["summary"] and "above" in lat["annotations"]["summary"]
        assert lat["annotations"]["description"].startswith("value ")
        assert "band" in lat["annotations"]["description"] and "score" in lat["annotations"]["description"]
        assert lat["annotations"]["runbook_url"] == "https://rb.example/latency"
        assert lat["annotations"]["sentinel_url"] == "http://sentinel.example:9108/alerts?watch=task_latency_p95"
        gen = urlsplit(lat["generatorURL"])
        assert f"{gen.scheme}://{gen.netloc}{gen.path}" == f"{history.prom_url}/graph"
        assert parse_qs(gen.query)["g0.expr"] == [LATENCY]  # the evidence: the watch's own query, around the alert
        inc = history.incidents[0]
        starts = unix_seconds(lat["startsAt"])
        assert inc.start <= starts <= inc.start + 20 * 60, "fires within 20 minutes of the incident's start"
        tok = next(a for a in alerts if a["status"] == "resolved" and a["labels"]["watch"] == "llm_tokens")
        assert tok["labels"]["severity"] == "critical" and unix_seconds(tok["endsAt"]) > unix_seconds(tok["startsAt"])
        assert not [a for a in am.alerts() if a["status"]["state"] == "active"], "nothing stays firing"
        # /metrics shows the cycle and the delivery
        with urllib.request.urlopen(f"http://127.0.0.1:{d.server.port}/metrics", timeout=10) as r:
            text = r.read().decode()
        assert 'sentinel_anomaly_score{agent="agent-01",watch="task_latency_p95"}' in text
        assert "sentinel_notifications_sent_total" in text
    finally:
        d.stop()


def test_alertmanager_outage_mid_run_loses_nothing_and_strands_nothing(
    history: History, alertmanager_factory: Callable[..., Any], tmp_path: Path
) -> None:
    am = alertmanager_factory()
    d = Daemon(_config(tmp_path, history.prom_url, am.url))
    d.start(schedule=False, serve=False)
    try:
        _drive(d, history.start, history.start + 4 * HOUR)
        am.stop()
        _drive(d, history.start + 4 * HOUR + HOUR // 2, history.start + 12 * HOUR)  # both incidents happen
        d.notifier.drain(10)
        assert d.registry.get_sample_value("sentinel_notifications_failed_total", {"reason": "connection"}) > 0
        assert d.notifier.outbox.counts()["resolved_pending"] >= 2
        am.start()
        pump_outbox(d, lambda: _episodes(am.webhook.alerts(), "firing") >= EXPECTED
              and _episodes(am.webhook.alerts(), "resolved") >= EXPECTED)
        assert not [a for a in am.alerts() if a["status"]["state"] == "active"], "nothing stays firing"
        assert d.notifier.outbox.counts()["resolved_pending"] == 0
    finally:
        d.stop()
