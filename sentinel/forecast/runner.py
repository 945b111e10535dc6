"""One watch's forecasting step, for the watch cycle: history in, forecasts out.

Fitting costs around 0.05-0.3 s of CPU per series (statsmodels fits plus
the rolling-origin validation, with single-threaded BLAS: ``threads.py``),
far more than online scoring, and a capacity
forecast barely moves in a few minutes.  So a runner re-forecasts at most
every ``forecast.every`` seconds (default 15 min) and the cycle skips it otherwise.
The caller fetches the history (``watch.forecast.history`` seconds up to the
cycle's end), publishes ``bf.exporter_args()`` to the /metrics collector and
hands the forecasts to the predictive-alert policy (:mod:`sentinel.alerting.forecast`).

>>> import numpy as np
>>> from sentinel.config import WatchConfig
>>> from sentinel.series import Batch
>>> w = WatchConfig.model_validate({"name": "disk", "query": "node_filesystem_avail_bytes", "every": "5m",
...                                 "forecast": {"limit": 0, "horizon": "12h", "warn_within": "6h"}})
>>> r = ForecastRunner(w)
>>> t = np.arange(0, 86400, 300)
>>> bf = r.run(Batch.from_rows([{"mountpoint": "/"}], t, [300.0 - t / 300.0]))
>>> bool(3000 < bf.time_to_limit[0] < 5000), r.due(t[-1] + 60)  # 13 left, 1 less every 5 min: 65 min
(True, False)
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry

from sentinel.config import WatchConfig
from sentinel.forecast.result import BatchForecast, forecast_batch
from sentinel.series import Batch


class ForecastRunner:
    """Forecast, when due, for one watch with a ``forecast:`` section."""

    def __init__(self, watch: WatchConfig, registry: CollectorRegistry = REGISTRY) -> None:
        if watch.forecast is None:
            raise ValueError(f"watch {watch.name!r} has no forecast section")
        self.watch = watch
        self.cfg = watch.forecast
        self.every = watch.forecast.every
        self.registry = registry
        self.last_at: int | None = None

    def due(self, now: float) -> bool:
        """Whether a new forecast is due at ``now`` (the data time of the cycle)."""
        return bool(self.last_at is None or now - self.last_at >= self.every)

    def run(self, history: Batch) -> BatchForecast:
        """Forecast every series of ``history``."""
        bf = forecast_batch(history, self.cfg, self.watch.name, registry=self.registry)
        self.last_at = bf.at
        return bf
