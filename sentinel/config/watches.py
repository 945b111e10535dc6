"""Watch sections: what to watch, how to score it, when to forecast, when to alert.

A :class:`WatchConfig` holds one metric query or one log query
(:class:`LogsQueryConfig`), its detector (:class:`DetectorConfig`), optional
capacity forecast (:class:`ForecastConfig`) and alert policy
(:class:`AlertPolicyConfig`).  The periodically retrained detector kinds
check their parameters here, so ``sentinel check-config`` names a bad one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from sentinel.config.values import Deviation, Duration, StrictModel, format_duration
from sentinel.labels import clean_label_name, is_label_name

SERIES_RETENTION = 7 * 86400
"""Default ``series_retention``: the detector's longest season (a week) and the warm-up replay, so a series
that pauses for days (a weekend job, an agent parked for a holiday) keeps what it learned, and one gone longer
would have a stale weekly profile anyway (:mod:`sentinel.retention`)."""
MAX_TRACKED_SERIES = 50_000
"""Default ``max_tracked_series``: five full turnovers of the largest fetch (``prometheus.max_series_per_watch``,
10,000) within one retention window, about 200 MB of detector state; a fleet that needs more churns faster
than a week's retention suits (shorten ``series_retention``) or belongs in several watches."""
TARGET_LABELS = {"job": "job", "instance": "instance"}
"""Default ``target_labels``: the labels Prometheus gives every series of a scrape target, and ``up``."""
DENSITY_MAX_COUNT = 8
"""The most excursions a density condition may ask for (the policy keeps this many start times per series)."""


class DensityConfig(StrictModel):
    """The anomaly alert's density condition: ``count`` excursions ``within`` (:mod:`sentinel.alerting.density`)."""

    count: int = Field(ge=2, le=DENSITY_MAX_COUNT, description="separate excursions outside the band (2 .. 8)")
    within: Duration = Field(gt=0, description="the window they must begin in, e.g. 20m")


class AlertPolicyConfig(StrictModel):
    """When scores become alerts (see :mod:`sentinel.alerting.policy`)."""

    threshold: float = Field(0.99, ge=0, le=1)
    for_: Duration = Field(0, alias="for")
    hysteresis: float = Field(0.05, ge=0, le=1, description="resolve when score < threshold - hysteresis")
    resolve_after: Duration = Field(0, description="stay below the resolve level this long before resolving")
    direction: Literal["up", "down", "both"] = "both"
    min_deviation: Deviation = Deviation()
    severity: Literal["info", "warning", "critical"] = "warning"
    absent_for: Duration | None = Field(None, description="alert when a known series sends no data this long")
    stuck: bool = Field(False, description="alert (kind stuck) while a series repeats one value far longer than it "
                                           "ever has, for `for` (a frozen exporter); needs the default detector")
    drift: Duration | None = Field(None, description="alert (kind drift) once a series' recent level has been beyond "
                                                    "every level it held in the past days this long (and `for`): a "
                                                    "slow ramp, a lost daily cycle; needs the default detector")
    density: DensityConfig | None = Field(None, description="also fire the anomaly alert once `count` separate "
                                                            "excursions outside the band began `within` a window, "
                                                            "with a report among them: intermittent breaches that "
                                                            "never last `for` (a latency turning erratic)")
    scale: Duration | None = Field(None, description="also fire the anomaly alert once a series' recent deviation "
                                                    "from its expected value has stayed well beyond anything it "
                                                    "showed in the past days this long (and `for`), with a report: "
                                                    "a series turning erratic")
    enabled: bool = True


class DetectorConfig(StrictModel):
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


MAX_HORIZON_STEPS = 100_000
"""Forecast horizons longer than this many sample steps are refused: every member's path is this long per
validation origin (10**12 s at 300 s asked for 24.8 GiB, then raised MemoryError)."""


class ForecastConfig(StrictModel):
    horizon: Duration = Field(48 * 3600, gt=0)
    limit: float | None = Field(None, allow_inf_nan=False, description="NaN would never be crossed: refused")
    direction: Literal["up", "down", "auto"] = Field("auto", description="which way the limit is crossed")
    warn_within: Duration = 24 * 3600
    critical_within: Duration = 4 * 3600
    min_probability: float = Field(0.5, gt=0, le=1)
    history: Duration = 7 * 86400
    method: str = "auto"
    every: Duration = Field(900, description="re-forecast at most this often (a runway barely moves in minutes)")


class LogsQueryConfig(StrictModel):
    index: str
    query: str = "*"
    group_by: list[str] = Field(default_factory=lambda: ["service.name"])
    max_groups: int = Field(1000, gt=0)
    templates: bool = True
    max_templates: int = Field(1000, gt=0)
    max_template_series: int = Field(2000, gt=0, description="(group, template) count series scored; more are dropped")
    new_pattern_levels: list[str] = Field(default_factory=lambda: ["error", "warn", "warning", "critical", "fatal"])

    @model_validator(mode="after")
    def _groups_are_labels(self) -> LogsQueryConfig:
        """Refuse what the node would refuse every cycle, or what would merge two groups' series.

        An empty index searched every index; two fields with one label name (``a.b`` and ``a_b``, or a
        field twice) made the composite aggregation fail each cycle; ``watch`` and ``template_id`` are
        the labels sentinel adds itself.
        """
        if not self.index.strip():
            raise ValueError("logs.index must name an index or pattern (e.g. agent-logs-*)")
        seen: dict[str, str] = {}
        for f in self.group_by:
            if not f.strip():
                raise ValueError("logs.group_by: a field name is empty")
            name = clean_label_name(f)
            if name in seen:
                raise ValueError(f"logs.group_by: fields {seen[name]!r} and {f!r} both become the label {name!r}")
            if name in ("watch", "template_id"):  # template_id: sentinel.logs.patterns.TEMPLATE_LABEL
                raise ValueError(f"logs.group_by: field {f!r} becomes the label {name!r}, which sentinel sets itself")
            seen[name] = f
        return self


class WatchConfig(StrictModel):
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
    series_retention: Duration = Field(
        SERIES_RETENTION, description="forget a series (model, alert state, forecasts, /metrics rows) once it has "
        "had no value this long; it starts fresh if it comes back")
    max_tracked_series: int = Field(
        MAX_TRACKED_SERIES, gt=0, description="most series the watch keeps state for: over it, the longest-absent "
        "are forgotten first, then new series are refused (not scored; sentinel_series_refused_total)")
    target_labels: dict[str, str] = Field(
        default_factory=lambda: dict(TARGET_LABELS), description="series labels naming the scrape target, as a "
        "list or a map {series label: up label}; a vanished series whose target has left Prometheus' `up` was "
        "removed, not silent: no absent alert (sentinel.sources.targets); [] turns it off")

    @field_validator("target_labels", mode="before")
    @classmethod
    def _target_labels(cls, v: Any) -> Any:
        """A list names labels the series and ``up`` share; ``false`` / ``[]`` turn the lookup off.

        >>> WatchConfig(name="w", query="m", target_labels=["job", "pod"]).target_labels
        {'job': 'job', 'pod': 'pod'}
        >>> WatchConfig(name="w", query="m", target_labels={"agent": "instance", "job": "job"}).target_labels
        {'agent': 'instance', 'job': 'job'}
        """
        if v is False or v is None:
            return {}
        if isinstance(v, str):  # `target_labels: job` would otherwise read "Input should be a valid dictionary"
            raise ValueError(f"a list of label names or a map {{series label: up label}}, e.g. [{v}], not {v!r}")
        if isinstance(v, list | tuple):
            if len(set(map(str, v))) != len(v):
                raise ValueError("a label is listed twice")
            return {str(n): str(n) for n in v}
        return v

    @field_validator("target_labels")
    @classmethod
    def _target_label_names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in (*v, *v.values()):
            if not is_label_name(name):
                raise ValueError(f"{name!r} is not a Prometheus label name "
                                 "([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)")
        if len(set(v.values())) != len(v):
            raise ValueError("two series labels map to one `up` label")
        return v

    @field_validator("labels")
    @classmethod
    def _labels_are_label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        """Refuse what Prometheus would refuse (the whole rule file) or sentinel would drop (reserved names).

        Alertmanager got the name renamed (``on-call`` -> ``on_call``, an empty one ``_``) and routes on it
        missed; ``severity`` or ``watch`` was dropped from alerts but overrode the rule file's.
        """
        from sentinel.alerting.render import RESERVED_LABELS  # here: sentinel.alerting imports the config

        for name in labels:
            if not is_label_name(name):
                raise ValueError(f"label name {name!r} is not a Prometheus label name "
                                 "([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)")
            if name in RESERVED_LABELS:
                raise ValueError(f"label {name!r} is set by sentinel itself (use `alert.severity` for the severity)")
        return labels

    @model_validator(mode="after")
    def _one_source(self) -> WatchConfig:
        if (self.query is None) == (self.logs is None):
            raise ValueError("a watch needs exactly one of `query` (metrics) or `logs` (Elasticsearch)")
        if self.logs is not None and self.target_labels not in ({}, TARGET_LABELS):  # the default round-trips
            raise ValueError("target_labels names Prometheus scrape targets: a log watch has none (remove it)")
        if self.every <= 0:
            raise ValueError("`every` must be positive")
        if self.step is not None and self.step <= 0:  # `step or every` would silently sample at `every`
            raise ValueError("`step` must be positive (leave it out to sample every `every`)")
        if self.series_retention < self.sample_step:
            raise ValueError(f"`series_retention` {format_duration(self.series_retention)} is under the sample step "
                             f"{format_duration(self.sample_step)}: every series would be forgotten between samples")
        return self

    @model_validator(mode="after")
    def _forecast_fits(self) -> WatchConfig:
        if self.forecast is not None and self.forecast.horizon // self.sample_step > MAX_HORIZON_STEPS:
            raise ValueError(f"forecast.horizon {format_duration(self.forecast.horizon)} is "
                             f"{self.forecast.horizon // self.sample_step:,} steps of {self.sample_step}s; at most "
                             f"{MAX_HORIZON_STEPS:,} (every forecast failed on it)")
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

    def advisories(self) -> list[str]:
        """Settings that are valid but probably not what was meant (``check-config`` warns, the daemon logs).

        A ``for`` shorter than the sample step asks for no more evidence
        than ``for`` of one step: the sample after a report fires.  A
        config written for 1-minute samples and run at 5-minute ones that
        way raised 14 false alarms in the demo's week, 0 with ``for`` scaled.

        >>> coarse = WatchConfig(name="w", query="up", every=300, alert={"for": 120})
        >>> print(coarse.advisories()[0].split(";")[0])
        alert.for 2m is under the sample step 5m, so it acts as for 5m (the sample after a report fires)
        >>> WatchConfig(name="w", query="up", every=60, alert={"for": 120}).advisories()
        []

        A density condition whose window cannot hold ``count`` separate
        excursions (each needs a sample back inside the band before the
        next) never fires.
        """
        step, wait, out = self.sample_step, self.alert.for_, []
        every = format_duration(step)
        if 0 < wait < step:
            out.append(f"alert.for {format_duration(wait)} is under the sample step {every}, so it acts as for "
                       f"{every} (the sample after a report fires); give for in samples (e.g. "
                       f"{format_duration(2 * step)} for three)")
        absent = self.alert.absent_for
        if absent is not None and absent >= self.series_retention:
            out.append(f"alert.absent_for {format_duration(absent)} is not under series_retention "
                       f"{format_duration(self.series_retention)}: a silent series is forgotten before its absent "
                       "alert can fire; shorten absent_for or lengthen series_retention")
        if self.max_series is not None and self.max_tracked_series < self.max_series:
            out.append(f"max_tracked_series {self.max_tracked_series:,} is under max_series {self.max_series:,}: "
                       "one fetch may bring more series than the watch may track, and the rest are refused")
        for name, value in self.labels.items():
            if not value:
                out.append(f"labels.{name} is empty: Prometheus drops an empty label and Alertmanager matches it as "
                           f"absent, so alerts carry no {name} label; give it a value or remove it")
        dense = self.alert.density
        if dense is not None and dense.within <= 2 * (dense.count - 1) * step:  # in, out, in, ...: 2 samples apart
            out.append(f"alert.density asks for {dense.count} separate excursions within "
                       f"{format_duration(dense.within)}, but at the sample step {every} they span at least "
                       f"{format_duration(2 * (dense.count - 1) * step)}: it can never fire; widen within")
        return out
