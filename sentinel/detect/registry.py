"""Detector kinds by name: ``build_detector(DetectorConfig) -> OnlineDetector``.

``default`` is the guarded ensemble (seasonal residual + change members);
``ensemble`` is the same without the guard (it learns everything, useful as
a reference); parameters come from ``DetectorConfig.params``:
``guard`` (a dict for :class:`~sentinel.detect.guard.Guard`) and everything
else for :class:`~sentinel.detect.ensemble.Ensemble`.

>>> from sentinel.config import DetectorConfig
>>> type(build_detector(DetectorConfig(kind="default"))).__name__
'Guard'
>>> build_detector(DetectorConfig(kind="nope"))
Traceback (most recent call last):
...
ValueError: unknown detector kind 'nope': choose from default, ensemble
"""

from __future__ import annotations

import inspect
from typing import Any

from sentinel.config import DetectorConfig
from sentinel.detect.base import OnlineDetector
from sentinel.detect.ensemble import Ensemble
from sentinel.detect.guard import Guard

KINDS = ("default", "ensemble")


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
    guard = params.pop("guard", {}) if cfg.kind == "default" else {}
    if not isinstance(guard, dict):
        raise ValueError("detector 'default': params.guard must be a mapping")
    _check(Ensemble, params, cfg.kind)
    _check(Guard, guard, cfg.kind)
    params.setdefault("step", step)
    ens = Ensemble(**params)
    return Guard(ens, **guard) if cfg.kind == "default" else ens
