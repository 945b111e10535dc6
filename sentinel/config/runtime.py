"""Runtime sections: how sentinel itself runs (store, HTTP server, embedded fleet, tracing).

These say nothing about what is watched; the daemon reads them once at start
(a reload warns that ``server``, ``store`` and ``tracing`` changes need a
restart).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from sentinel.config.values import Duration, StrictModel


class StoreConfig(StrictModel):
    path: Path = Path("sentinel.db")
    models_dir: Path = Path("models")
    checkpoint_every: Duration = 300
    event_retention: Duration = 30 * 86400


class ServerConfig(StrictModel):
    listen: str = "127.0.0.1:9108"

    @field_validator("listen")
    @classmethod
    def _check(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{v!r} must be HOST:PORT, e.g. 127.0.0.1:9108")
        return v

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class SimulatorConfig(StrictModel):
    """The embedded simulated agent fleet (the default source)."""

    agents: int = Field(20, gt=0, le=10_000)
    seed: int = 7
    step: Duration = 60
    speed: float = Field(600.0, gt=0, description="simulated seconds per wall-clock second")
    warmup: Duration = Field(3 * 86400, description="simulated history learned before watching")
    incident_rate: float = Field(1.0, ge=0, description="incidents per simulated day")


class TracingConfig(StrictModel):
    otlp_endpoint: str | None = Field(None, description="e.g. http://127.0.0.1:4318/v1/traces (Jaeger >= 1.35)")
    service_name: str = "sentinel"
