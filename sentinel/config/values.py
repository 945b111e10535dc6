"""Value types shared by every config section: durations, deviations and the strict model base.

Kept apart from the sections so that modules needing only
:func:`parse_duration` (e.g. :mod:`sentinel.detect.retrain_params`) pull in
no section models.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


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
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
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
        if isinstance(v, str) and v.strip().endswith("%"):
            return {"value": float(v.strip()[:-1]) / 100.0, "relative": True}
        try:
            return {"value": float(v), "relative": False}
        except (TypeError, ValueError):
            raise ValueError(f"{v!r} is not a deviation: use a number (absolute) or a percentage like '20%'") from None


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors (a typo must not silently disable an alert)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
