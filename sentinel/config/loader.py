"""The whole document: :class:`Config`, and reading it with errors that name the field and the fix.

:func:`load_config` reads ``sentinel.yaml``; :func:`parse_config` validates an
already parsed document.  ``${VAR}`` / ``${VAR:-default}`` is replaced from
the environment first, then every problem becomes one line of
:class:`ConfigError` (``watches[0].alert.threshhold: unknown key (did you
mean 'threshold'?)``) instead of a pydantic traceback.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from sentinel.config.connections import AlertmanagerConfig, ElasticsearchConfig, GrafanaConfig, PrometheusConfig
from sentinel.config.runtime import ServerConfig, SimulatorConfig, StoreConfig, TracingConfig
from sentinel.config.values import StrictModel
from sentinel.config.watches import WatchConfig


class Config(StrictModel):
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
        promql = [w.name for w in self.watches if w.query is not None]
        if promql and self.prometheus is None and self.simulator is None:  # as log watches need elasticsearch
            more = f" (and {len(promql) - 1} more)" if len(promql) > 1 else ""
            raise ValueError(f"watch {promql[0]!r}{more} has a PromQL `query` but there is no `prometheus:` section: "
                             "add one saying where to read it, e.g. `prometheus: {url: http://127.0.0.1:9090}` "
                             "(or a `simulator:` section to watch the embedded fleet)")
        return self

    def advisories(self) -> list[str]:
        """Every watch's :meth:`WatchConfig.advisories`, with the watch's path in the config."""
        return [f"watches[{i}] ({w.name}).{a}" for i, w in enumerate(self.watches) for a in w.advisories()]


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
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
            where = where or "(top level)"
            problems.append(f"{where}: {_hint(err, _fields_at(loc))}")
        raise ConfigError(problems) from None
    problems = _detector_problems(cfg) + _warmup_problems(cfg)
    if problems:
        raise ConfigError(problems)
    return cfg


def _warmup_problems(cfg: Config) -> list[str]:
    """Refuse a warm-up longer than one fetch may span (:data:`sentinel.sources.base.MAX_FETCH_STEPS`).

    A fresh watch's first cycle fetches its whole warm-up at once; over the
    cap that fetch would fail on every cycle and the watch never start.
    """
    from prometheus_client import CollectorRegistry

    from sentinel.sources.base import MAX_FETCH_STEPS
    from sentinel.sourceset import SourceSet

    sources, problems = SourceSet(cfg, CollectorRegistry()), []
    for i, watch in enumerate(cfg.watches):
        steps = -(-sources.warmup(watch) // watch.sample_step)
        if steps > MAX_FETCH_STEPS:
            field = "simulator.warmup" if sources.kind(watch) == "simulated" else "prometheus.backfill"
            problems.append(f"watches[{i}] ({watch.name}): the warm-up ({field}) is {steps:,} steps of "
                            f"{watch.sample_step}s, more than one fetch may span ({MAX_FETCH_STEPS:,}): shorten "
                            f"{field} or sample with a longer step")
    return problems


def _detector_problems(cfg: Config) -> list[str]:
    """Build every watch's detector once, so a bad kind or parameter is a config error.

    The online kinds' parameters are known only to the classes they
    configure (:mod:`sentinel.detect.registry`); unchecked, ``detector:
    {kind: nope}`` passed ``check-config`` and then crashed ``sentinel run``
    (or a SIGHUP reload) with a traceback.  Building costs milliseconds.
    """
    from sentinel.detect.registry import build_detector

    problems = []
    for i, watch in enumerate(cfg.watches):
        if watch.detector is not None:
            try:
                build_detector(watch.detector, step=watch.sample_step)
            except (TypeError, ValueError) as exc:
                problems.append(f"watches[{i}].detector: {exc}")
    return problems


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
