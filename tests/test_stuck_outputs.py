"""The stuck alert in sentinel's outputs: its own words on the console, its own resolution text for Alertmanager.

The real round trip through Alertmanager is ``tests/test_stuck_services.py``;
these check each output's rule alone, on events as the policy makes them.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sentinel.alerting.console import ConsoleOutput
from sentinel.alerting.outbox import Outbox
from sentinel.alerting.policy import AlertEvent
from sentinel.config import Config
from sentinel.store import Store

AGENT = (("agent", "a1"),)
FIRED = 'w: {agent="a1"}: value 42 unchanged for 35m, a run of one value far longer than any this series had shown.'


def stuck(status: str, at: int, value: float, description: str = "") -> AlertEvent:
    """A stuck alert transition as the policy makes it (band and a calm score included)."""
    return AlertEvent(status, "w", AGENT, 600, at, kind="stuck", value=value, expected=41.0, lower=30.0,
                      upper=50.0, score=0.42, summary='w: {agent="a1"} is stuck at 42', description=description)


def rows(*events: AlertEvent) -> list[list[str]]:
    """The console's table rows (header dropped), split into columns."""
    out = io.StringIO()
    ConsoleOutput(out).emit(events)
    return [line.split("  ") for line in out.getvalue().splitlines()[1:]]


def cells(row: list[str]) -> list[str]:
    return [c.strip() for c in row if c.strip()]


def test_stuck_alerts_print_stuck_then_moving_without_band_or_score() -> None:
    fired, moved = rows(stuck("firing", 600, 42.0), stuck("resolved", 4200, 17.0))
    assert cells(fired)[1:] == ["STUCK", "warning", "w", '{agent="a1"}', "42", "unchanged", "-"]
    assert cells(moved)[1:] == ["MOVING", "warning", "w", '{agent="a1"}', "17", "after 1h", "-"]


@pytest.mark.parametrize(("kind", "words"), [("anomaly", ["FIRING", "RESOLVED"]), ("absent", ["ABSENT", "BACK"])])
def test_other_kinds_keep_their_words(kind: str, words: list[str]) -> None:
    got = rows(*(AlertEvent(s, "w", AGENT, 600, at, kind=kind, value=42.0, expected=41.0, lower=30.0, upper=50.0,
                            score=0.999) for s, at in (("firing", 600), ("resolved", 4200))))
    assert [cells(r)[1] for r in got] == words


def outbox(tmp_path: Path) -> tuple[Outbox, Config]:
    cfg = Config.model_validate({"alertmanager": {"url": "http://127.0.0.1:9"}, "prometheus": {},
                                 "watches": [{"name": "w", "query": "up", "alert": {"stuck": True}}]})
    return Outbox(Store(tmp_path / "s.db"), cfg), cfg


def test_a_stuck_resolution_tells_alertmanager_how_it_ended(tmp_path: Path) -> None:
    box, cfg = outbox(tmp_path)
    box.observe(cfg.watches[0], [stuck("firing", 600, 42.0, FIRED)], interval=60, now=1e9)
    (held,) = box.observe(cfg.watches[0], [stuck("resolved", 4200, 17.0, "value changed from 42 to 17 after 1h10m "
                                                 "unchanged.")], interval=60, now=1e9)
    assert held.ends_at == 4200 and held.annotations["summary"] == 'w: {agent="a1"} is stuck at 42'
    assert held.annotations["description"] == "value changed from 42 to 17 after 1h10m unchanged."


def test_an_anomaly_resolution_keeps_the_evidence_that_fired_it(tmp_path: Path) -> None:
    box, cfg = outbox(tmp_path)
    fired = AlertEvent("firing", "w", AGENT, 600, 600, value=90.0, summary="s", description="value 90, expected 41")
    calm = AlertEvent("resolved", "w", AGENT, 600, 900, value=40.0, description="value 40, expected 41")
    box.observe(cfg.watches[0], [fired], interval=60, now=1e9)
    (held,) = box.observe(cfg.watches[0], [calm], interval=60, now=1e9)
    assert held.annotations["description"] == "value 90, expected 41"
