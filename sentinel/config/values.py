"""Value types shared by every config section: durations, deviations and the strict model base.

Kept apart from the sections so that modules needing only
:func:`parse_duration` (e.g. :mod:`sentinel.detect.retrain_params`) pull in
no section models.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
MAX_DURATION = 100 * 365 * 86400
"""Longer durations are errors: none is meant, and larger ones overflow the int64 timestamp arithmetic."""


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
    if not seconds >= 0:  # also NaN
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than 100 years ({MAX_DURATION}s): not a meaningful duration")
    if seconds > 0 and round(seconds) == 0:
        raise ValueError(f"{value!r} is under one second: sentinel counts time in whole seconds")
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
        relative = isinstance(v, str) and v.strip().endswith("%")
        try:
            value = float(v.strip()[:-1]) / 100.0 if relative else float(v)
        except (TypeError, ValueError):
            value = math.nan
        if not (math.isfinite(value) and value >= 0):  # NaN would silently disable (or enable) every alert
            raise ValueError(f"{v!r} is not a deviation: use a number >= 0 (absolute) or a percentage like '20%'")
        return {"value": value, "relative": relative}


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors (a typo must not silently disable an alert)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
