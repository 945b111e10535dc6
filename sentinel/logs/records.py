"""What a log source hands to template mining: records with their group labels, and a bounded sample.

:class:`LogSource` is the interface both log sources implement (Elasticsearch,
and the simulated fleet's own logs): per-group counts as a batch, and a
bounded sample of messages.

Also the field helper every log source needs: ECS documents arrive nested
(``{"log": {"level": ...}}``), flat (``{"log.level": ...}``) or mixed.  Field
names become label names with :func:`sentinel.labels.clean_label_name`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sentinel.config import WatchConfig
from sentinel.series import Batch, Labels


def field_value(doc: Mapping[str, Any], path: str) -> Any:
    """A dotted field from a ``_source`` that may be nested, flat (``"log.level": ...``) or mixed.

    >>> field_value({"log": {"level": "error"}}, "log.level"), field_value({"log.level": "warn"}, "log.level")
    ('error', 'warn')
    >>> field_value({"labels": {"tool.name": "x"}}, "labels.tool.name"), field_value({}, "a.b") is None
    ('x', True)
    """
    if path in doc:
        return doc[path]
    head, dot, rest = path.partition(".")
    while dot:
        sub = doc.get(head)
        if isinstance(sub, Mapping):
            found = field_value(sub, rest)
            if found is not None:
                return found
        nxt, dot, rest = rest.partition(".")
        head = f"{head}.{nxt}"
    return None


@dataclass(frozen=True)
class LogRecord:
    """One sampled log line: when, at which level, the raw message (never stored), its group labels."""

    timestamp: float
    level: str
    message: str
    labels: Labels


@dataclass(frozen=True)
class Sample:
    """The messages of one cycle, in time order.

    ``complete_until``: every message before this Unix time is in ``records``
    (``end`` when nothing was cut by ``max_messages_per_cycle``).
    ``skipped``: documents without a usable message field.
    """

    records: list[LogRecord]
    complete_until: float
    skipped: int


class LogSource(Protocol):
    """Counts and messages for log watches.

    ``fetch(watch, start, end)``: lines per ``group_by`` group on the step grid
    (a zero is a real zero); ``sample(watch, start, end)``: at most a bounded
    number of messages of the range, in time order.  Failures raise
    :class:`~sentinel.sources.base.SourceError`.
    """

    def fetch(self, watch: WatchConfig, start: int, end: int) -> Batch: ...

    def sample(self, watch: WatchConfig, start: int, end: int) -> Sample: ...

    def close(self) -> None: ...
