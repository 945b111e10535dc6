"""Prometheus rule files on sentinel's metrics, each with its ``promtool test rules`` file.

For teams that prefer Prometheus-evaluated alerts, the watches' alert
policies become rules on sentinel's exported metrics (score over threshold
for ``for``, kept firing for ``resolve_after``; time to limit under the
warn/critical runway).  Hysteresis, direction and minimum deviation stay
with sentinel's own policy, which sees the raw values.  A second file watches sentinel itself: an always-firing
Watchdog (dead-man's switch: silence means the alerting path is broken),
sentinel down/absent, stale cycles, growing alert state, source errors and
failing notifications.  Rules and tests come from the same code, and the
tests check real behaviour (the ``for`` delay, which series fire), so
``promtool test rules`` catches a wrong threshold or duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentinel.config import Config, WatchConfig, format_duration
from sentinel.publish import dashboards_common as c
from sentinel.publish.grafana import PanelKind, panel_for

ANOMALY = "SentinelAnomalyScoreHigh"
RUNWAY_WARN = "SentinelCapacityRunwayLow"
RUNWAY_CRIT = "SentinelCapacityRunwayCritical"
_SUMMARY = '{{ $labels.watch }}: anomaly score {{ $value | printf "%.3f" }} on {{ $labels.agent }}'
_RUNWAY = '{{ $labels.watch }}: {{ $labels.agent }} reaches its limit in {{ $value | humanizeDuration }}'


@dataclass(frozen=True)
class RuleOptions:
    """Knobs of the generated rules (CLI flags of ``sentinel rules build``)."""

    job: str = "sentinel"
    stale_cycles: int = 3
    min_stale: int = 300
    outbox_limit: int = 100


def _dur(seconds: int) -> str:
    return format_duration(seconds) if seconds else "0s"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _link(watch: WatchConfig, config: Config, kind: PanelKind | None = None) -> str:
    """A Go-templated dashboard link: the watch's panel with the alert's agent selected."""
    uid, pid = panel_for(watch, config, kind)
    base = (config.grafana.url if config.grafana else "http://127.0.0.1:3000").rstrip("/")
    return f"{base}/d/{uid}/{uid}?orgId=1&viewPanel={pid}&var-agent={{{{ $labels.agent }}}}"


def _annotations(
    watch: WatchConfig, config: Config, summary: str, description: str, kind: PanelKind | None
) -> dict[str, str]:
    ann = {"summary": summary, "description": description, "dashboard_url": _link(watch, config, kind)}
    if watch.runbook_url:
        ann["runbook_url"] = watch.runbook_url
    return ann


def watch_rules(config: Config) -> list[dict[str, Any]]:
    """One score rule per enabled detector watch; warn + critical runway rules per forecast watch."""
    rules: list[dict[str, Any]] = []
    for w in config.watches:
        if w.detector is not None and w.alert.enabled:
            rule: dict[str, Any] = {
                "alert": ANOMALY,
                "expr": f"{c.sel(c.SCORE, watch=w.name)} >= {w.alert.threshold:g}",
            }
            if w.alert.for_:
                rule["for"] = _dur(w.alert.for_)
            if w.alert.resolve_after:
                rule["keep_firing_for"] = _dur(w.alert.resolve_after)
            rule["labels"] = {"watch": w.name, "severity": w.alert.severity, **w.labels}
            rule["annotations"] = _annotations(
                w, config, _SUMMARY,
                f"Score over {w.alert.threshold:g} for {_dur(w.alert.for_)} (watch query: {w.query or 'logs'}).",
                None)
            rules.append(rule)
        if w.forecast is not None and w.forecast.limit is not None:
            for name, within, sev in ((RUNWAY_WARN, w.forecast.warn_within, "warning"),
                                      (RUNWAY_CRIT, w.forecast.critical_within, "critical")):
                rules.append({
                    "alert": name,
                    "expr": f"{c.sel(c.TIME_TO_LIMIT, watch=w.name)} < {within}",
                    "for": "10m",
                    "labels": {"watch": w.name, "severity": sev, **w.labels},
                    "annotations": _annotations(
                        w, config, _RUNWAY,
                        f"Forecast crosses the limit {_num(w.forecast.limit)} within {_dur(within)}.", "forecast"),
                })
    return rules


def self_rules(config: Config, opts: RuleOptions) -> list[dict[str, Any]]:
    """The dead-man's switch and alerts on sentinel's own failures."""
    job = opts.job
    rules: list[dict[str, Any]] = [
        {"alert": "SentinelWatchdog", "expr": "vector(1)", "labels": {"severity": "none"},
         "annotations": {"summary": "Always firing: if this alert stops arriving, the alerting pipeline is broken.",
                         "description": "Route it to a dead-man's-switch receiver (see alertmanager.example.yml)."}},
        {"alert": "SentinelDown", "expr": f'absent(up{{job="{job}"}} == 1)', "for": "5m",
         "labels": {"job": job, "severity": "critical"},
         "annotations": {"summary": f"sentinel (job={job}) is down or not scraped",
                         "description": "No successful scrape of sentinel for 5 minutes: nothing is being watched."}},
    ]
    for w in config.watches:
        stale = max(opts.stale_cycles * w.every, opts.min_stale)
        rules.append({
            "alert": "SentinelCycleStale",
            "expr": f"time() - {c.sel(c.LAST_SUCCESS, watch=w.name)} > {stale}",
            "labels": {"watch": w.name, "severity": "critical"},
            "annotations": {"summary": f"{w.name}: no successful cycle for over {_dur(stale)}",
                            "description": f"Expected one every {_dur(w.every)}; check sentinel's log and "
                                           "sentinel_source_errors_total."},
        })
    rules += [
        {"alert": "SentinelAlertStateGrowing",
         "expr": f"sum without (state) ({c.OUTBOX}) > {opts.outbox_limit}"
                 f" and sum without (state) (deriv({c.OUTBOX}[30m])) > 0",
         "for": "30m",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "sentinel's alert state keeps growing ({{ $value }} alerts)",
                         "description": "More alerts are held than resolve: Alertmanager unreachable, or an "
                                        "alert storm. See the self-monitoring dashboard."}},
        {"alert": "SentinelSourceErrors",
         "expr": f"sum by (source, watch) (rate({c.SOURCE_ERRORS}[10m])) > 0", "for": "10m",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "{{ $labels.watch }}: source {{ $labels.source }} keeps failing",
                         "description": "Fetch errors for 10 minutes: that watch is blind until the source recovers."}},
        {"alert": "SentinelNotificationsFailing",
         "expr": f"sum by (job) (rate({c.ALERTS_FAILED}[10m])) > 0", "for": "10m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "sentinel cannot deliver alerts to Alertmanager",
                         "description": "Sends fail for 10 minutes; alerts are kept and re-sent, "
                                        "but nobody is paged."}},
    ]
    return rules


def rule_files(config: Config, opts: RuleOptions | None = None) -> dict[str, dict[str, Any]]:
    """File name -> rule file document."""
    opts = opts or RuleOptions()
    return {
        "sentinel-watches.yml": {"groups": [{"name": "sentinel-watches", "rules": watch_rules(config)}]},
        "sentinel-self.yml": {"groups": [{"name": "sentinel-self", "rules": self_rules(config, opts)}]},
    }


def all_exprs(config: Config, opts: RuleOptions | None = None) -> list[str]:
    """Every PromQL expression in the rule files (for tests against a real Prometheus)."""
    return [r["expr"] for doc in rule_files(config, opts).values() for g in doc["groups"] for r in g["rules"]]
