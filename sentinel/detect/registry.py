"""Detector kinds by name: ``build_detector(DetectorConfig) -> OnlineDetector``.

``default`` is the guarded ensemble (seasonal residual + change members);
``likelihood`` wraps it in :class:`~sentinel.detect.likelihood.Likelihood`,
which turns the calibrated score into a decision scale (each series' own
rare, new events score >= 0.9999: use it with ``threshold: 0.9999``);
``ensemble`` is the same without the guard (it learns everything, useful as
a reference); parameters come from ``DetectorConfig.params``:
``guard`` (a dict for :class:`~sentinel.detect.guard.Guard`), ``likelihood``
(a dict for :class:`~sentinel.detect.likelihood.Likelihood`) and everything
else for :class:`~sentinel.detect.ensemble.Ensemble`.

>>> from sentinel.config import DetectorConfig
>>> type(build_detector(DetectorConfig(kind="default"))).__name__
'Guard'
>>> build_detector(DetectorConfig(kind="nope"))
Traceback (most recent call last):
...
ValueError: unknown detector kind 'nope': choose from default, likelihood, ensemble
"""

from __future__ import annotations

import inspect
from typing import Any

from sentinel.config import DetectorConfig
from sentinel.detect.base import OnlineDetector
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard
from sentinel.detect.likelihood import Likelihood

KINDS = ("default", "likelihood", "ensemble")


def _check(cls: type, params: dict[str, Any], kind: str) -> None:
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self", "inner"}
    bad = sorted(set(params) - allowed)
    if bad:
        raise ValueError(f"detector {kind!r}: unknown parameter(s) {bad}; allowed: {sorted(allowed)}")


def build_detector(cfg: DetectorConfig, step: int | None = None) -> OnlineDetector:
    """A fresh detector for a watch (``step``: the sampling step, if known)."""
    if cfg.kind not in KINDS:
        raise ValueError(f"unknown detector kind {cfg.kind!r}: choose from {', '.join(KINDS)}")
    params = dict(cfg.params)
    guarded = cfg.kind in ("default", "likelihood")
    guard = params.pop("guard", {}) if guarded else {}
    decide = params.pop("likelihood", {}) if cfg.kind == "likelihood" else {}
    if not isinstance(guard, dict):
        raise ValueError("detector 'default': params.guard must be a mapping")
    _check(Ensemble, params, cfg.kind)
    _check(Guard, guard, cfg.kind)
    _check(Likelihood, decide, cfg.kind)
    params.setdefault("step", step)
    ens = Ensemble(**params)
    if cfg.kind == "likelihood":
        return Likelihood(Guard(ens, **guard), **decide)
    return Guard(ens, **guard) if guarded else ens
