"""sentinel.yaml -> validated settings, with errors that name the field and the fix.

Everything sentinel does is declared here: where to read (Prometheus,
Elasticsearch, the simulated fleet), what to watch, how to decide, where to
send.  Unknown keys are errors (a typo must not silently disable an alert).
Secrets never live in the file: ``${VAR}`` / ``${VAR:-default}`` is replaced
from the environment, and ``*_file`` fields read a secret from a file.

The package is split by concept; import from ``sentinel.config`` (every name
below is re-exported here):

- :mod:`~sentinel.config.values`: durations, deviations, the strict model base;
- :mod:`~sentinel.config.connections`: Prometheus, Alertmanager, Elasticsearch,
  Grafana (HTTP clients);
- :mod:`~sentinel.config.runtime`: store, server, simulator, tracing;
- :mod:`~sentinel.config.watches`: watches, detectors, forecasts, alert policies,
  log queries;
- :mod:`~sentinel.config.loader`: the top-level :class:`Config`, loading and
  :class:`ConfigError`.

>>> cfg = Config.model_validate({"prometheus": {}, "watches": [{"name": "w", "query": "up", "every": "1m"}]})
>>> cfg.watches[0].every
60
>>> cfg.watches[0].alert.threshold
0.99
"""

from sentinel.config.connections import (
    AlertmanagerConfig,
    ElasticsearchConfig,
    GrafanaConfig,
    HTTPClientConfig,
    PrometheusConfig,
)
from sentinel.config.loader import Config, ConfigError, load_config, parse_config
from sentinel.config.runtime import ServerConfig, SimulatorConfig, StoreConfig, TracingConfig
from sentinel.config.values import Deviation, Duration, StrictModel, format_duration, parse_duration
from sentinel.config.watches import (
    AlertPolicyConfig,
    DetectorConfig,
    ForecastConfig,
    LogsQueryConfig,
    WatchConfig,
)

__all__ = [
    "AlertPolicyConfig",
    "AlertmanagerConfig",
    "Config",
    "ConfigError",
    "DetectorConfig",
    "Deviation",
    "Duration",
    "ElasticsearchConfig",
    "ForecastConfig",
    "GrafanaConfig",
    "HTTPClientConfig",
    "LogsQueryConfig",
    "PrometheusConfig",
    "ServerConfig",
    "SimulatorConfig",
    "StoreConfig",
    "StrictModel",
    "TracingConfig",
    "WatchConfig",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
]
