"""Whether vanished series belong to scrape targets that are gone: Prometheus' ``up``, one query per batch.

Prometheus itself tells the two ways an agent's series stop apart:

- a target **removed** from service discovery (the fleet scaled down): its scrape loop stops and writes
  stale markers for every series of the target, ``up`` included, so an instant query after that has no
  ``up`` sample for it;
- a target still configured but **dead**: each scrape fails, ``up`` is 0 (and its other series go stale).

So for the vanished series of a batch (:meth:`sentinel.alerting.policy.Policy.vanished`), one instant query
at the batch's end asks, for all their targets at once::

    group by (job, instance) (up{job=~"a", instance=~"x|y"})
      or 0 * group by (job, instance) (present_over_time(up{job=~"a", instance=~"x|y"}[W]))

A target answered 1 has an ``up`` sample now (:data:`LIVE`: dead or alive, its absent alert pages); 0 had
``up`` samples in the window ``W`` before but none now (:data:`REMOVED`); no row means Prometheus scraped no
such target within ``W`` (:data:`UNKNOWN`: a pushed or OTLP series, labels that do not name a target, or one
gone longer than ``W``), which pages as before, as does a series without the target labels (a recording
rule's aggregate).  Requiring past ``up`` samples keeps a label that only looks like a target's from
silencing every absent alert.  The target labels are the watch's ``target_labels`` (series label -> ``up``
label, for relabelled series).

>>> keys = [target_of((("instance", "a:1"), ("job", "j")), {"job": "job", "instance": "instance"}), None]
>>> keys
[('j', 'a:1'), None]
>>> print(query({keys[0]}, ("job", "instance"), 600))  # doctest: +NORMALIZE_WHITESPACE
group by (job, instance) (up{job=~"j", instance=~"a:1"}) or 0 * group by (job, instance)
(present_over_time(up{job=~"j", instance=~"a:1"}[600s]))
>>> answer = [{"metric": {"job": "j", "instance": "a:1"}, "value": [0, "0"]}]
>>> status(keys, answer, ("job", "instance")).tolist()
[0, -1]
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from sentinel.series import Labels

LIVE, REMOVED, UNKNOWN = 1, 0, -1
"""A vanished series' target: still has ``up`` / had it in the window but no longer / no evidence either way."""
SLACK = 3600
"""Extra look-back of the ``present_over_time`` window beyond the series' silence: a ``rate()`` keeps a removed
target's series alive for its range after ``up`` went stale, and a failed lookup leaves the next cycle to see
the removal."""
MAX_SELECTOR = 8000
"""Longest value filter put in the query (characters); beyond it the longest label filters are left out and
the answer is filtered here (a URL proxies accept; the answer only grows)."""


def target_of(labels: Labels, mapping: Mapping[str, str]) -> tuple[str, ...] | None:
    """The ``up`` label values of a series' target (in ``mapping``'s order); None if a target label is missing."""
    have = dict(labels)
    values = tuple(have.get(name, "") for name in mapping)
    return values if mapping and all(values) else None


def _matcher(name: str, values: Iterable[str]) -> str:
    """``name=~"v1|v2"`` matching exactly those values (RE2 takes every escaped punctuation; a JSON string is a
    valid PromQL string)."""
    return f"{name}=~{json.dumps('|'.join(sorted(re.escape(v) for v in set(values))), ensure_ascii=False)}"


def query(targets: set[tuple[str, ...]], up_names: Sequence[str], window: int) -> str:
    """One instant query answering 1 / 0 / nothing for each of ``targets`` (module doc); ``window`` in seconds."""
    matchers = [_matcher(n, (t[i] for t in targets)) for i, n in enumerate(up_names)]
    while matchers and sum(map(len, matchers)) > MAX_SELECTOR:
        matchers.remove(max(matchers, key=len))
    selector = "up{" + ", ".join(matchers) + "}" if matchers else "up"
    by = ", ".join(up_names)
    return (f"group by ({by}) ({selector}) or 0 * group by ({by}) "
            f"(present_over_time({selector}[{max(int(window), 1)}s]))")


def status(keys: Sequence[tuple[str, ...] | None], answer: Any, up_names: Sequence[str]) -> np.ndarray:
    """Per series (its :func:`target_of`), :data:`LIVE`, :data:`REMOVED` or :data:`UNKNOWN` from the answer.

    Only an answer row that names a target and says exactly 0 makes it removed, and any row saying otherwise
    keeps it live; rows that are not ``{"metric": {...}, "value": [t, "v"]}`` or hold no number say nothing.
    Raises ``TypeError`` when the answer is not a list (not Prometheus' vector).
    """
    if not isinstance(answer, list):
        raise TypeError("the answer is not a vector")
    seen: dict[tuple[str, ...], int] = {}
    for row in answer:
        try:
            metric, value = row["metric"], float(row["value"][1])
            target = tuple(str(metric.get(n, "")) for n in up_names)
        except (TypeError, KeyError, IndexError, ValueError, AttributeError):
            continue
        if math.isnan(value):
            continue
        seen[target] = max(seen.get(target, REMOVED), LIVE if value != 0 else REMOVED)
    return np.fromiter((UNKNOWN if k is None else seen.get(k, UNKNOWN) for k in keys), dtype=np.int8,
                       count=len(keys))
