"""One-line error text: every failure sentinel reports is one readable log line.

>>> one_line(ValueError("bad\\n  value"))
'bad value'
>>> one_line("x" * 20, 5)
'xxxxx…'
>>> one_line(KeyError())
'KeyError'
"""

from __future__ import annotations


def one_line(what: BaseException | str, limit: int = 300) -> str:
    """Collapse whitespace and truncate to ``limit`` characters; an empty exception gives its type's name."""
    text = " ".join(str(what).split())
    if not text and isinstance(what, BaseException):
        text = type(what).__name__
    return text if len(text) <= limit else text[:limit] + "…"
