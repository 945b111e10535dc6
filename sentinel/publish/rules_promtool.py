"""``promtool test rules`` files for the generated rule files.

Each test feeds synthetic series of sentinel's metrics and checks *when*
alerts fire and for *which* series: a score rule must stay silent while
pending for its ``for`` and fire right after, a quiet series must never fire,
the runway rules must escalate warn -> critical at the configured thresholds.
A rule with a wrong threshold, duration or label fails here.
"""

from __future__ import annotations

import math
from typing import Any

from sentinel.config import Config, parse_duration
from sentinel.publish import dashboards_common as c
from sentinel.publish.rules import (
    ANOMALY,
    RUNWAY_CRIT,
    RUNWAY_WARN,
    RuleOptions,
    rule_files,
    self_rules,
    watch_rules,
)


def humanize_duration(v: float) -> str:
    """Prometheus' ``humanizeDuration`` template function (for expected annotations).

    >>> humanize_duration(5400), humanize_duration(90061), humanize_duration(42)
    ('1h 30m 0s', '1d 1h 1m 1s', '42s')
    """
    s = int(v)
    days, hours, minutes, seconds = s // 86400, s // 3600 % 24, s // 60 % 60, s % 60
    if days:
        return f"{days}d {hours}h {minutes}m {seconds}s"
    if hours:
        return f"{hours}h {minutes}m {seconds}s"
    if minutes:
        return f"{minutes}m {seconds}s"
    return f"{v:.4g}s"


def _expand(template: str, labels: dict[str, str], value: str) -> str:
    out = template.replace("{{ $labels.watch }}", labels["watch"]).replace("{{ $labels.agent }}", labels["agent"])
    out = out.replace('{{ $value | printf "%.3f" }}', value).replace("{{ $value | humanizeDuration }}", value)
    return out.replace("{{ $value }}", value)


def _series(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _alert(rule: dict[str, Any], labels: dict[str, str], value: str) -> dict[str, Any]:
    exp_labels = {**labels, **rule["labels"]}
    exp_ann = {k: _expand(v, labels, value) for k, v in rule["annotations"].items()}
    return {"exp_labels": exp_labels, "exp_annotations": exp_ann}


def _minutes(seconds: int) -> int:
    return math.ceil(seconds / 60)


def watch_cases(config: Config) -> list[dict[str, Any]]:
    """One test group per watch rule set (so watches sharing an alertname never mix)."""
    by_watch: dict[str, list[dict[str, Any]]] = {}
    for rule in watch_rules(config):
        by_watch.setdefault(rule["expr"].split('"')[1], []).append(rule)
    groups = []
    for watch, rules in by_watch.items():
        hot, calm = {"watch": watch, "agent": "a1"}, {"watch": watch, "agent": "a2"}
        series: list[dict[str, str]] = []
        cases: list[dict[str, Any]] = []
        for rule in rules:
            if rule["alert"] == ANOMALY:
                threshold = float(rule["expr"].rsplit(">=", 1)[1])
                wait = _minutes(parse_duration(rule.get("for", 0)))
                keep = _minutes(parse_duration(rule.get("keep_firing_for", 0)))
                below = round(max(threshold - 0.01, threshold / 2), 6)  # just under: a lowered threshold fires
                # hot: over the threshold from 6m for exactly `for`, then just under it again
                series += [{"series": _series(c.SCORE, hot), "values": f"{below:g}x5 1x{wait} {below:g}x{keep + 6}"},
                           {"series": _series(c.SCORE, calm), "values": f"{below:g}x{wait + keep + 12}"}]
                fired = [_alert(rule, hot, "1.000")]
                cases += [{"eval_time": f"{5 + wait}m", "alertname": ANOMALY, "exp_alerts": []},
                          {"eval_time": f"{6 + wait}m", "alertname": ANOMALY, "exp_alerts": fired}]
                if keep:
                    cases.append({"eval_time": f"{6 + wait + keep}m", "alertname": ANOMALY, "exp_alerts": fired})
                cases.append({"eval_time": f"{7 + wait + keep}m", "alertname": ANOMALY, "exp_alerts": []})
        runway = {r["alert"]: r for r in rules if r["alert"] in (RUNWAY_WARN, RUNWAY_CRIT)}
        if runway:
            warn = int(runway[RUNWAY_WARN]["expr"].rsplit("<", 1)[1])
            crit = int(runway[RUNWAY_CRIT]["expr"].rsplit("<", 1)[1])
            mid, low = (warn + crit) // 2, crit // 2
            series += [{"series": _series(c.TIME_TO_LIMIT, hot), "values": f"{warn * 2}x5 {mid}x23 {low}x20"},
                       {"series": _series(c.TIME_TO_LIMIT, calm), "values": f"{warn * 2}x50"}]
            cases += [
                {"eval_time": "15m", "alertname": RUNWAY_WARN, "exp_alerts": []},
                {"eval_time": "16m", "alertname": RUNWAY_WARN,
                 "exp_alerts": [_alert(runway[RUNWAY_WARN], hot, humanize_duration(mid))]},
                {"eval_time": "39m", "alertname": RUNWAY_CRIT, "exp_alerts": []},
                {"eval_time": "40m", "alertname": RUNWAY_CRIT,
                 "exp_alerts": [_alert(runway[RUNWAY_CRIT], hot, humanize_duration(low))]},
            ]
        groups.append({"name": f"watch {watch}", "interval": "1m", "input_series": series, "alert_rule_test": cases})
    return groups


def self_cases(config: Config, opts: RuleOptions) -> list[dict[str, Any]]:
    rules = {r["alert"]: r for r in self_rules(config, opts)}
    job = {"job": opts.job}
    groups: list[dict[str, Any]] = [
        {"name": "watchdog always fires", "interval": "1m", "input_series": [],
         "alert_rule_test": [{"eval_time": "0m", "alertname": "SentinelWatchdog",
                              "exp_alerts": [{"exp_labels": rules["SentinelWatchdog"]["labels"],
                                              "exp_annotations": rules["SentinelWatchdog"]["annotations"]}]}]},
        {"name": "down after 5m of failed scrapes", "interval": "1m",
         "input_series": [{"series": _series("up", {**job, "instance": "s:9108"}), "values": "1x10 0x10"}],
         "alert_rule_test": [
             {"eval_time": "10m", "alertname": "SentinelDown", "exp_alerts": []},
             {"eval_time": "15m", "alertname": "SentinelDown", "exp_alerts": []},
             {"eval_time": "16m", "alertname": "SentinelDown",
              "exp_alerts": [{"exp_labels": {**job, **rules["SentinelDown"]["labels"]},
                              "exp_annotations": rules["SentinelDown"]["annotations"]}]}]},
        {"name": "down when never scraped", "interval": "1m", "input_series": [],
         "alert_rule_test": [{"eval_time": "5m", "alertname": "SentinelDown",
                              "exp_alerts": [{"exp_labels": {**job, **rules["SentinelDown"]["labels"]},
                                              "exp_annotations": rules["SentinelDown"]["annotations"]}]}]},
    ]
    stale_rules = [r for r in self_rules(config, opts) if r["alert"] == "SentinelCycleStale"]
    if stale_rules:
        rule = stale_rules[0]
        watch = rule["expr"].split('"')[1]
        limit = int(rule["expr"].rsplit(">", 1)[1])
        # last success advances every minute until 10m, then freezes at 600 s
        first = 10 + limit // 60 + 1
        groups.append({
            "name": f"stale cycles of {watch}", "interval": "1m",
            "input_series": [{"series": _series(c.LAST_SUCCESS, {**job, "watch": watch}),
                              "values": f"0+60x10 600x{first}"}],
            "alert_rule_test": [
                {"eval_time": f"{first - 1}m", "alertname": "SentinelCycleStale", "exp_alerts": []},
                {"eval_time": f"{first}m", "alertname": "SentinelCycleStale",
                 "exp_alerts": [{"exp_labels": {**job, "watch": watch, **rule["labels"]},
                                 "exp_annotations": rule["annotations"]}]}]})
    grow, errs = rules["SentinelAlertStateGrowing"], rules["SentinelSourceErrors"]
    fails = rules["SentinelNotificationsFailing"]
    grown_summary = grow["annotations"]["summary"].replace("{{ $value }}", "420")
    grown = {**job, "instance": "a"}
    groups += [
        {"name": "alert state growing, not merely large", "interval": "1m",
         "input_series": [{"series": _series(c.OUTBOX, {**grown, "state": "firing"}), "values": "0+10x60"},
                          {"series": _series(c.OUTBOX, {**grown, "state": "resolved"}), "values": "0x60"},
                          {"series": _series(c.OUTBOX, {**job, "instance": "b", "state": "firing"}),
                           "values": "500x60"}],
         "alert_rule_test": [
             {"eval_time": "40m", "alertname": "SentinelAlertStateGrowing", "exp_alerts": []},
             {"eval_time": "42m", "alertname": "SentinelAlertStateGrowing",
              "exp_alerts": [{"exp_labels": {**grown, **grow["labels"]},
                              "exp_annotations": {**grow["annotations"], "summary": grown_summary}}]}]},
        {"name": "source errors", "interval": "1m",
         "input_series": [
             {"series": _series(c.SOURCE_ERRORS, {**job, "source": "prometheus", "watch": "w1"}), "values": "0+1x30"},
             {"series": _series(c.SOURCE_ERRORS, {**job, "source": "prometheus", "watch": "w2"}), "values": "5x30"}],
         "alert_rule_test": [
             {"eval_time": "9m", "alertname": "SentinelSourceErrors", "exp_alerts": []},
             {"eval_time": "12m", "alertname": "SentinelSourceErrors",
              "exp_alerts": [{"exp_labels": {"source": "prometheus", "watch": "w1", **errs["labels"]},
                              "exp_annotations": {k: _expand(v, {"watch": "w1", "agent": ""}, "").replace(
                                  "{{ $labels.source }}", "prometheus") for k, v in errs["annotations"].items()}}]}]},
        {"name": "notifications failing", "interval": "1m",
         "input_series": [{"series": _series(c.ALERTS_FAILED, {**job, "instance": "a", "reason": "http_503"}),
                           "values": "0x5 1+1x30"}],
         "alert_rule_test": [
             {"eval_time": "5m", "alertname": "SentinelNotificationsFailing", "exp_alerts": []},
             {"eval_time": "17m", "alertname": "SentinelNotificationsFailing",
              "exp_alerts": [{"exp_labels": {**job, **fails["labels"]}, "exp_annotations": fails["annotations"]}]}]},
    ]
    return groups


def promtool_files(config: Config, opts: RuleOptions | None = None) -> dict[str, dict[str, Any]]:
    """tests/<name>.test.yml -> promtool test document, one per rule file."""
    opts = opts or RuleOptions()
    names = list(rule_files(config, opts))
    return {
        f"tests/{names[0].removesuffix('.yml')}.test.yml": {
            "rule_files": [f"../{names[0]}"], "evaluation_interval": "1m", "tests": watch_cases(config)},
        f"tests/{names[1].removesuffix('.yml')}.test.yml": {
            "rule_files": [f"../{names[1]}"], "evaluation_interval": "1m", "tests": self_cases(config, opts)},
    }


def render(config: Config, opts: RuleOptions | None = None) -> dict[str, str]:
    """Relative path -> file text for everything ``sentinel rules build`` writes (deterministic)."""
    import yaml

    header = "# Generated by `sentinel rules build`; do not edit.\n"
    docs = {**rule_files(config, opts), **promtool_files(config, opts)}
    return {rel: header + yaml.safe_dump(doc, sort_keys=False, width=200) for rel, doc in docs.items()}
