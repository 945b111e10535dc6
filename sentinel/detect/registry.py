"""Detector kinds by name: ``build_detector(DetectorConfig) -> OnlineDetector``.

- ``default``: the guarded ensemble wrapped in
  :class:`~sentinel.detect.likelihood.Likelihood`, which adds the
  sequence-novelty channel and makes the top of the scale a decision scale:
  each series' own rare, new events score >= 0.99, the alert policy's default
  threshold (NAB: 75.4 standard at its default decisions, 77.7 at the
  corpus-optimised threshold; see ``benchmarks/nab.py``).  On count series
  (``counts`` set, as log watches are) the sequence and novelty channels and
  the report budget are off (and with them the deviation floor, the rank
  of reports, the rise and ceiling checks): a range cut in 4 bins means
  nothing on a series of mostly zeros, and a count's first-ever 3 is not
  news (the count floor decides there, also how often).  Count series also
  keep the calibrators' prior at 10 points (:data:`COUNT_PRIOR`; the
  ensemble's default is 50): a sparse count's learned tail is heavier than
  the prior's power law, so a heavier prior made routine bursts of a clean
  agent's log template look new (a false alert in
  ``tests/test_elasticsearch_fleet.py``), where on NAB's gauges it helps;
  its members' statistics under :data:`QUIET` (in each member's units: residual
  scales, typical changes) are unremarkable, p-value 1, with no tail query:
  its decisions act on surprises of several decades, and that query is most
  of the work of scoring a point (1.2-1.6x the samples per second in same-run timings;
  NAB, the simulator and the shapes benchmark as before);
- ``likelihood``: the same (kept as a name for configs that chose it);
- ``guarded``: the guarded ensemble alone (the default until 2026-11-26): a
  calibrated tail-probability score at every level and about 2x faster per
  sample, but noisier decisions (NAB 40.0 standard at threshold 0.99);
- ``ensemble``: the ensemble without the guard (it learns everything: a
  reference);
- ``stl`` (robust seasonal decomposition) and ``multivariate`` (per-agent
  robust Mahalanobis over several metrics): batch models refitted on a
  rolling window (:mod:`sentinel.detect.retrain`, which checks their params).

For the online kinds parameters come from ``DetectorConfig.params``:
``guard`` (a dict for :class:`~sentinel.detect.guard.Guard`), ``likelihood``
(a dict for :class:`~sentinel.detect.likelihood.Likelihood`), ``counts``
(a dict for :class:`~sentinel.detect.counts.CountFloor`, or true/false: any
kind wrapped for count series) and everything else for
:class:`~sentinel.detect.ensemble.Ensemble`.

>>> from sentinel.config import DetectorConfig
>>> type(build_detector(DetectorConfig(kind="default"))).__name__
'Likelihood'
>>> type(build_detector(DetectorConfig(kind="guarded"))).__name__
'Guard'
>>> build_detector(DetectorConfig(kind="nope"))
Traceback (most recent call last):
...
ValueError: unknown detector kind 'nope': choose from default, likelihood, guarded, ensemble, stl, multivariate
"""

from __future__ import annotations

import inspect
from typing import Any

from sentinel.config import DetectorConfig
from sentinel.detect.base import OnlineDetector
from sentinel.detect.counts import CountFloor
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard
from sentinel.detect.likelihood import Likelihood

KINDS = ("default", "likelihood", "guarded", "ensemble", "stl", "multivariate")
_DECIDED = ("default", "likelihood")
COUNT_PRIOR = (10.0, 2.0, 4.0)
"""The calibrators' prior on count series: worth 10 points, not the ensemble's 50 (module docstring)."""
QUIET = 3.0
"""The default detector's members: a statistic under this is unremarkable, not calibrated (module docstring)."""


def _check(cls: type, params: dict[str, Any], kind: str, section: str = "") -> None:
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "inner"}
    bad = sorted(set(params) - allowed)
    if bad:
        raise ValueError(f"detector {kind!r}{section}: unknown parameter(s) {bad}; allowed: {sorted(allowed)}")


def build_detector(cfg: DetectorConfig, step: int | None = None) -> OnlineDetector:
    """A fresh detector for a watch (``step``: the sampling step, if known)."""
    if cfg.kind not in KINDS:
        raise ValueError(f"unknown detector kind {cfg.kind!r}: choose from {', '.join(KINDS)}")
    if cfg.kind in ("stl", "multivariate"):  # batch models refitted periodically (sentinel.detect.retrain)
        from sentinel.detect.retrain import Retrained, check_params

        return Retrained(step=step, **check_params(dict(cfg.params), cfg.kind))
    params = dict(cfg.params)
    counts = params.pop("counts", None)  # CountFloor params; true = its defaults; false / absent = no floor
    counts = {} if counts is True else None if counts is False else counts
    if counts is not None and not isinstance(counts, dict):
        raise ValueError("detector params.counts must be a mapping of CountFloor parameters, true or false")
    guarded = cfg.kind in ("default", "likelihood", "guarded")
    guard = params.pop("guard", {}) if guarded else {}
    decide = params.pop("likelihood", {}) if cfg.kind in _DECIDED else {}
    if not isinstance(guard, dict) or not isinstance(decide, dict):
        raise ValueError(f"detector {cfg.kind!r}: params.guard and params.likelihood must be mappings")
    _check(Ensemble, params, cfg.kind)
    _check(Guard, guard, cfg.kind)
    _check(Likelihood, decide, cfg.kind)
    _check(CountFloor, counts or {}, cfg.kind, " params.counts")
    params.setdefault("step", step)
    if cfg.kind in _DECIDED:
        params.setdefault("quiet", QUIET)
    if counts is not None:  # a sparse count's bursts are heavier-tailed than the prior: keep it light (docstring)
        params.setdefault("prior", COUNT_PRIOR)
    ens = Ensemble(**params)
    if cfg.kind in _DECIDED:
        if counts is not None:
            decide = {"sequence": False, "novelty": False, "budget_alpha": 0.0, **decide}
        det: OnlineDetector = Likelihood(Guard(ens, **guard), **{"step": step, **decide})  # as the ensemble's
    else:
        det = Guard(ens, **guard) if guarded else ens
    return det if counts is None else CountFloor(det, **counts)
