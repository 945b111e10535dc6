"""sentinel.yaml -> validated settings, with errors that name the field and the fix.

Everything sentinel does is declared here: where to read (Prometheus,
Elasticsearch, the simulated fleet), what to watch, how to decide, where to
send.  Unknown keys are errors (a typo must not silently disable an alert).
Secrets never live in the file: ``${VAR}`` / ``${VAR:-default}`` is replaced
from the environment, and ``*_file`` fields read a secret from a file.

>>> cfg = Config.model_validate({"watches": [{"name": "w", "query": "up", "every": "1m"}]})
>>> cfg.watches[0].every
60
>>> cfg.watches[0].alert.threshold
0.99
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

# -- value types --------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: Any) -> int:
    """Seconds from a Prometheus-style duration (``30s``, ``5m``, ``48h``, ``1w``) or a number.

    >>> parse_duration("5m"), parse_duration("2d"), parse_duration(90)
    (300, 172800, 90)
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 1h, 2d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration: use a number of seconds or 30s, 5m, 1h, 2d, 1w")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return round(seconds)


def format_duration(seconds: float) -> str:
    """Short human form of a duration.

    >>> format_duration(5400), format_duration(45), format_duration(200000)
    ('1h30m', '45s', '2d7h')
    """
    s = round(seconds)
    for unit, size, sub, subsize in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if s >= size:
            rest = (s % size) // subsize
            return f"{s // size}{unit}" + (f"{rest}{sub}" if rest else "")
    return f"{s}s"


Duration = Annotated[int, BeforeValidator(parse_duration)]


class Deviation(BaseModel):
    """A minimum deviation: absolute (``5``) or relative to the expected value (``"20%"``)."""

    model_config = ConfigDict(frozen=True)
    value: float = 0.0
    relative: bool = False

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, v: Any) -> Any:
        if isinstance(v, dict | Deviation):
            return v
        if isinstance(v, str) and v.strip().endswith("%"):
            return {"value": float(v.strip()[:-1]) / 100.0, "relative": True}
        try:
            return {"value": float(v), "relative": False}
        except (TypeError, ValueError):
            raise ValueError(f"{v!r} is not a deviation: use a number (absolute) or a percentage like '20%'") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# -- connections -------------------------------------------------------------


class HTTPClientConfig(_Strict):
    """Shared HTTP settings: TLS is verified unless you say otherwise."""

    url: str
    timeout: Duration = 30
    tls_verify: bool | str = True
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    headers: dict[str, str] = Field(default_factory=dict)

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


class StoreConfig(_Strict):
    path: Path = Path("sentinel.db")
    models_dir: Path = Path("models")
    checkpoint_every: Duration = 300
    event_retention: Duration = 30 * 86400


class ServerConfig(_Strict):
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


class SimulatorConfig(_Strict):
    """The embedded simulated agent fleet (the default source)."""

    agents: int = Field(20, gt=0, le=10_000)
    seed: int = 7
    step: Duration = 60
    speed: float = Field(600.0, gt=0, description="simulated seconds per wall-clock second")
    warmup: Duration = Field(3 * 86400, description="simulated history learned before watching")
    incident_rate: float = Field(1.0, ge=0, description="incidents per simulated day")


class TracingConfig(_Strict):
    otlp_endpoint: str | None = Field(None, description="e.g. http://127.0.0.1:4318/v1/traces (Jaeger >= 1.35)")
    service_name: str = "sentinel"


# -- watches -----------------------------------------------------------------


class AlertPolicyConfig(_Strict):
    """When scores become alerts (see :mod:`sentinel.alerting.policy`)."""

    threshold: float = Field(0.99, ge=0, le=1)
    for_: Duration = Field(0, alias="for")
    hysteresis: float = Field(0.05, ge=0, le=1, description="resolve when score < threshold - hysteresis")
    resolve_after: Duration = Field(0, description="stay below the resolve level this long before resolving")
    direction: Literal["up", "down", "both"] = "both"
    min_deviation: Deviation = Deviation()
    severity: Literal["info", "warning", "critical"] = "warning"
    absent_for: Duration | None = Field(None, description="alert when a known series sends no data this long")
    enabled: bool = True


class DetectorConfig(_Strict):
    """Which model scores a watch, and its parameters."""

    kind: str = "default"
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, v: Any) -> Any:
        return {"kind": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check_retrained(self) -> DetectorConfig:
        """The periodically retrained kinds check their params here, so `sentinel check-config` names a bad one."""
        if self.kind in ("stl", "multivariate"):
            from sentinel.detect.retrain_params import check_params

            check_params(self.params, self.kind)
        return self


class ForecastConfig(_Strict):
    horizon: Duration = 48 * 3600
    limit: float | None = None
    direction: Literal["up", "down", "auto"] = Field("auto", description="which way the limit is crossed")
    warn_within: Duration = 24 * 3600
    critical_within: Duration = 4 * 3600
    min_probability: float = Field(0.5, gt=0, le=1)
    history: Duration = 7 * 86400
    method: str = "auto"
    every: Duration = Field(900, description="re-forecast at most this often (a runway barely moves in minutes)")


class LogsQueryConfig(_Strict):
    index: str
    query: str = "*"
    group_by: list[str] = Field(default_factory=lambda: ["service.name"])
    max_groups: int = Field(1000, gt=0)
    templates: bool = True
    max_templates: int = Field(1000, gt=0)
    max_template_series: int = Field(2000, gt=0, description="(group, template) count series scored; more are dropped")
    new_pattern_levels: list[str] = Field(default_factory=lambda: ["error", "warn", "warning", "critical", "fatal"])


class WatchConfig(_Strict):
    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    query: str | None = Field(None, description="PromQL (or a simulator signal name for the embedded fleet)")
    logs: LogsQueryConfig | None = None
    every: Duration = 60
    step: Duration | None = Field(None, description="sample step; defaults to `every`")
    delay: Duration = Field(0, description="evaluate this far behind now, so late scrapes are complete")
    detector: DetectorConfig | None = DetectorConfig()
    forecast: ForecastConfig | None = None
    alert: AlertPolicyConfig = AlertPolicyConfig()
    labels: dict[str, str] = Field(default_factory=dict, description="extra labels on every alert")
    runbook_url: str | None = None
    max_series: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> WatchConfig:
        if (self.query is None) == (self.logs is None):
            raise ValueError("a watch needs exactly one of `query` (metrics) or `logs` (Elasticsearch)")
        if self.every <= 0:
            raise ValueError("`every` must be positive")
        return self

    @model_validator(mode="after")
    def _retrained_on_metrics(self) -> WatchConfig:
        if self.detector is None or self.detector.kind not in ("stl", "multivariate"):
            return self
        if self.logs is not None:
            raise ValueError(f"detector kind {self.detector.kind!r} scores metric watches (`query`); log counts "
                             "need a count-aware kind: use `detector: default`")
        from sentinel.detect.retrain_params import check_params, check_step

        p = check_params(self.detector.params, self.detector.kind)
        check_step(p.get("window", 14 * 86400), p.get("min_history", 2 * 86400), self.sample_step)
        return self

    @property
    def sample_step(self) -> int:
        return self.step or self.every


class Config(_Strict):
    prometheus: PrometheusConfig | None = None
    alertmanager: AlertmanagerConfig | None = None
    elasticsearch: ElasticsearchConfig | None = None
    grafana: GrafanaConfig | None = None
    simulator: SimulatorConfig | None = None
    store: StoreConfig = StoreConfig()
    server: ServerConfig = ServerConfig()
    tracing: TracingConfig = TracingConfig()
    watches: list[WatchConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        seen: set[str] = set()
        for w in self.watches:
            if w.name in seen:
                raise ValueError(f"watch name {w.name!r} is used twice; names must be unique")
            seen.add(w.name)
        simulated_logs = self.simulator is not None and self.prometheus is None  # the fleet's own logs
        if any(w.logs for w in self.watches) and self.elasticsearch is None and not simulated_logs:
            raise ValueError("log watches need an `elasticsearch:` section")
        return self


# -- loading -----------------------------------------------------------------

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A config that cannot be used; ``problems`` holds one line per error."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _interpolate(node: Any, path: str, missing: list[str]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in string values from the environment."""
    if isinstance(node, dict):
        return {k: _interpolate(v, f"{path}.{k}" if path else str(k), missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, f"{path}[{i}]", missing) for i, v in enumerate(node)]
    if isinstance(node, str):

        def sub(m: re.Match[str]) -> str:
            val = os.environ.get(m.group(1), m.group(2))
            if val is None:
                var = m.group(1)
                hint = f"export it, or use ${{{var}:-default}}"
                missing.append(f"{path}: environment variable {var} is not set (hint: {hint})")
                return ""
            return val

        return _ENV_REF.sub(sub, node)
    return node


def _hint(err: dict[str, Any], model_fields: list[str]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(err["loc"][-1]), model_fields, n=1)
        if close:
            return f"unknown key (did you mean {close[0]!r}?)"
        return "unknown key: remove it or check the README's configuration reference"
    if kind == "missing":
        return "required: add it"
    return err["msg"].removeprefix("Value error, ")


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Known field names of the model at ``loc``'s parent (for 'did you mean')."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        for c in candidates:
            for inner in (c, *getattr(c, "__args__", ())):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    model = inner
                    break
            else:
                continue
            break
    names = list(getattr(model, "model_fields", {}))
    return names + [f.alias for f in getattr(model, "model_fields", {}).values() if f.alias]


def parse_config(data: Any) -> Config:
    """Validate a parsed YAML document; raises :class:`ConfigError` listing every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["(top level): the config must be a mapping of sections, e.g. `watches: [...]`"])
    missing: list[str] = []
    data = _interpolate(data, "", missing)
    if missing:
        raise ConfigError(missing)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
            where = where or "(top level)"
            problems.append(f"{where}: {_hint(err, _fields_at(loc))}")
        raise ConfigError(problems) from None


def load_config(path: str | Path) -> Config:
    """Read and validate ``sentinel.yaml``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read ({exc.strerror})"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{p}: not UTF-8 text"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{p}: invalid YAML{at}: {getattr(exc, 'problem', exc)}"]) from None
    return parse_config(data)
