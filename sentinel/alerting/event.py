"""An alert transition (:class:`AlertEvent`) and the text of an anomaly alert (:func:`describe`).

Kept apart from :mod:`sentinel.alerting.policy` so the notifier, the store,
the console and the forecast and log watches share the event without the
policy's state machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sentinel.series import Labels, format_labels


@dataclass
class AlertEvent:
    """One alert transition, with the evidence a person needs to judge it."""

    status: str  # "firing" | "resolved"
    watch: str
    labels: Labels
    starts_at: int
    at: int  # when this transition happened (= starts_at for firing)
    kind: str = "anomaly"  # "anomaly" | "absent" | "stuck" | "drift" | "forecast" | "new_pattern"
    severity: str = "warning"
    value: float = float("nan")
    expected: float = float("nan")
    lower: float = float("nan")
    upper: float = float("nan")
    score: float = float("nan")
    members: list[str] = field(default_factory=list)
    summary: str = ""
    description: str = ""

    @property
    def ends_at(self) -> int | None:
        return self.at if self.status == "resolved" else None

    @property
    def key(self) -> tuple[str, str, Labels]:
        """Identity of the alert episode's series (watch, kind, labels)."""
        return (self.watch, self.kind, self.labels)


def describe(event: AlertEvent) -> tuple[str, str]:
    """A one-line summary and a description: value and band at the transition, the episode's peak score.

    The score is the episode's highest (:mod:`sentinel.alerting.peak`): the detector lowers the score
    of an event's rest, so the score at the moment of firing says little.
    """
    who = format_labels(event.labels)
    direction = "above" if event.value > event.upper else "below" if event.value < event.lower else "outside"
    summary = f"{event.watch}: {who} is {direction} its expected range"
    deviation = event.value - event.expected
    half_band = (event.upper - event.lower) / 2
    widths = f" = {abs(deviation) / half_band:.1f} half-bands" if half_band > 0 else ""
    desc = (
        f"value {event.value:.4g}, expected {event.expected:.4g} "
        f"(band {event.lower:.4g} .. {event.upper:.4g}), deviation {deviation:+.4g}{widths}, "
        f"peak score {event.score:.4f}"
    )
    if event.members:
        desc += f"; flagged by {', '.join(event.members)}"
    return summary, desc
