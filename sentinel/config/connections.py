"""Connection sections: the external systems sentinel reads from and writes to.

Prometheus and Elasticsearch (sources), Alertmanager and Grafana (outputs)
share :class:`HTTPClientConfig`: TLS verified unless told otherwise, and
secrets given inline (``${VAR}``-interpolated) or read from a ``*_file``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from sentinel.config.values import Duration, StrictModel


class HTTPClientConfig(StrictModel):
    """Shared HTTP settings: TLS is verified unless you say otherwise."""

    url: str
    timeout: Duration = Field(30, gt=0)
    tls_verify: bool | str = True
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("url", check_fields=False)
    @classmethod
    def _http_url(cls, url: str) -> str:
        """Checked here so ``check-config`` names a bad URL (the clients found it at ``sentinel run``: a traceback)."""
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port that is not a number in 1..65535
            ok = False
        if not ok:
            raise ValueError(f"{url!r} is not an http(s) URL: write it like http://127.0.0.1:9090")
        return url

    def token(self) -> str | None:
        return _secret(self.bearer_token, self.bearer_token_file)

    def basic_auth(self) -> tuple[str, str] | None:
        pw = _secret(self.password, self.password_file)
        return (self.username, pw or "") if self.username else None


def _secret(value: SecretStr | None, path: Path | None) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if path is not None:
        return path.read_text().strip()
    return None


class PrometheusConfig(HTTPClientConfig):
    url: str = "http://127.0.0.1:9090"
    max_series_per_watch: int = Field(10_000, gt=0)
    max_points_per_query: int = Field(11_000, gt=0, description="Prometheus refuses > 11,000 points per series")
    retries: int = Field(3, ge=0)
    backfill: Duration = Field(7 * 86400, description="history pulled on first start to warm models")


class AlertmanagerConfig(HTTPClientConfig):
    url: str = "http://127.0.0.1:9093"
    resend_delay: Duration = 60
    batch_size: int = Field(64, gt=0)
    resolved_retention: Duration = 900
    external_url: str = "http://127.0.0.1:9108"
    queue_capacity: int = Field(10_000, gt=0, description="alerts waiting to be sent; the oldest are dropped beyond")


class ElasticsearchConfig(HTTPClientConfig):
    url: str = "http://127.0.0.1:9200"
    api_key: SecretStr | None = None
    max_messages_per_cycle: int = Field(10_000, gt=0)
    timestamp_field: str = "@timestamp"
    message_field: str = "message"
    level_field: str = "log.level"


class GrafanaConfig(HTTPClientConfig):
    url: str = "http://127.0.0.1:3000"
    folder: str = "sentinel"
    datasource_uid: str = "prometheus"
    dashboard_groups: dict[str, list[str]] = Field(
        default_factory=dict, description="dashboard name -> watch names (default: anomalies, capacity, logs)"
    )
