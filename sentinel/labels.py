"""Label names as Prometheus and Alertmanager accept them: ``[a-zA-Z_][a-zA-Z0-9_]*``, no ``__`` prefix.

Series from Elasticsearch fields or the simulator may carry names like
``service.name`` or ``9lives``; one invalid name makes Alertmanager refuse a
whole batch and Prometheus a whole scrape, so the exporter and the notifier
both pass names through :func:`clean_label_name`.

>>> clean_label_name("service.name"), clean_label_name("9lives"), clean_label_name("__meta"), clean_label_name("")
('service_name', '_9lives', 'exported___meta', '_')

Names written in sentinel.yaml (a watch's ``labels:``) are checked with
:func:`is_label_name` instead: a silent rename there would surprise whoever routes on them.

>>> is_label_name("team"), is_label_name("_"), is_label_name(""), is_label_name("on-call"), is_label_name("__x")
(True, True, False, False, False)
"""

from __future__ import annotations

import re

_BAD_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def clean_label_name(name: str) -> str:
    """Invalid characters become ``_``, a leading digit gets ``_``, reserved ``__`` names ``exported_``."""
    name = _BAD_CHARS.sub("_", name) or "_"
    if name[0].isdigit():
        name = "_" + name
    if name.startswith("__"):
        name = "exported_" + name
    return name


def is_label_name(name: str) -> bool:
    """Whether Prometheus and Alertmanager accept ``name`` as it is (:func:`clean_label_name` leaves it alone)."""
    return clean_label_name(name) == name
