"""Self-monitoring collectors, created once per Prometheus registry.

Every stage defines its ``sentinel_*`` metrics in a small function that
registers them; tests pass their own registry, the daemon the default one.
:func:`per_registry` makes such a function idempotent, so several parts
(two watches, two publishers) share one set of collectors per registry.

>>> from prometheus_client import CollectorRegistry, Counter
>>> @per_registry
... def demo_metrics(registry):
...     return Counter("sentinel_demo_things", "Things.", registry=registry)
>>> reg = CollectorRegistry()
>>> demo_metrics(reg) is demo_metrics(reg)
True
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import REGISTRY, CollectorRegistry

T = TypeVar("T")


def per_registry(build: Callable[[CollectorRegistry], T]) -> Callable[..., T]:
    """Decorate ``build(registry) -> collectors`` so it runs once per registry (None = the default one)."""
    cache: dict[int, tuple[CollectorRegistry, T]] = {}
    lock = threading.Lock()

    @functools.wraps(build)
    def get(registry: CollectorRegistry | None = None) -> T:
        registry = REGISTRY if registry is None else registry
        with lock:
            hit = cache.get(id(registry))
            if hit is None or hit[0] is not registry:
                hit = cache[id(registry)] = (registry, build(registry))
            return hit[1]

    return get
