"""Model cards: what a checkpoint holds, for people (``card.md``) and for listings (``card.json``).

Written next to every model checkpoint by :func:`sentinel.detect.persist.save`:
kind, class, parameters, trained-on range, series count, sentinel version,
and the detector's own ``card_info()`` when it has one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sentinel.detect.codec import FORMAT
from sentinel.series_index import SeriesIndex


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("sentinel")
    except Exception:  # not installed (running from a checkout)
        return "unknown"


def _iso(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _plain(node: Any) -> Any:
    """A checkpoint tree node as plain JSON for people (arrays shown by name only)."""
    if isinstance(node, list):
        return [_plain(x) for x in node]
    if not isinstance(node, dict):
        return node
    if "__obj__" in node:
        return {"class": node["__obj__"], "params": _plain(node["params"])}
    for tag in ("__tuple__", "__dict__", "__float__"):
        if tag in node:
            return _plain(node[tag])
    if "__nd__" in node:
        return "<array>"
    if "__index__" in node:
        return f"<{len(node['__index__'])} series>"
    return {k: _plain(v) for k, v in node.items()}


def model_card(detector: Any, tree: dict[str, Any], *, watch: str | None, trained_from: int | None,
               trained_to: int | None) -> dict[str, Any]:
    """What a checkpoint holds, for people and for `sentinel` listings."""
    index = getattr(detector, "index_", getattr(detector, "agents_", None))
    return {
        "watch": watch,
        "kind": getattr(detector, "name", type(detector).__name__),
        "class": tree["__obj__"],
        "params": _plain(tree["params"]),
        "trained_from": _iso(trained_from),
        "trained_to": _iso(trained_to),
        "series": len(index) if isinstance(index, SeriesIndex) else None,
        "sentinel_version": _version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "format": FORMAT,
        **({"fit": detector.card_info()} if hasattr(detector, "card_info") else {}),
    }


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a Markdown page (``card.md``)."""
    rows = "\n".join(f"| {k} | `{json.dumps(v, default=str)}` |" for k, v in card.items() if k != "params")
    return (f"# Model card: {card['watch'] or card['kind']}\n\n| field | value |\n|---|---|\n{rows}\n\n"
            f"## Parameters\n\n```json\n{json.dumps(card['params'], indent=2, default=str)}\n```\n")
