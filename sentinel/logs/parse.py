"""Offline template mining of a log file: ``sentinel logs parse FILE.log --output OUT.csv`` (DESIGN §5).

Output: CSV ``line_no,template_id,template``, one row per input line, in order
(``line_no`` from 1).  Lines are mined in one pass (in batches through
:meth:`LogMiner.add_many`) and written in a second, so every row carries its
template's *final* text: lines of one template always share one id and one
text.  Between the two, templates that differ only in a word drain routes on
are merged (:mod:`sentinel.logs.merge`, once, over the whole file's templates:
the miner's online merge is off); a merged group takes the smallest template
id of its members.

Treatment of bad input (documented, never a crash):

* a line longer than :data:`MAX_LINE_BYTES` (64 KiB) is cut there and mined as
  its first 64 KiB; the rest of it is read and discarded without being held in
  memory (so a multi-GB line is fine);
* bytes that are not UTF-8 are decoded with U+FFFD replacement characters;
* ``\\r\\n`` and ``\\n`` both end a line; a final line without a newline counts;
* an empty (or all-blank) line is a line: it gets the template of empty lines;
* a missing or unreadable file is a one-line error (:class:`ParseError`).
"""

from __future__ import annotations

import csv
import itertools
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from prometheus_client import CollectorRegistry

from sentinel.logs.merge import merge_prefix_variables
from sentinel.logs.metrics import logs_metrics
from sentinel.logs.miner import LogMiner

MAX_LINE_BYTES = 64 * 1024
"""Lines are cut at this many bytes (UTF-8) before masking and mining."""

MAX_LINE_CHARS = MAX_LINE_BYTES
"""The same cut for messages that arrive as text (from Elasticsearch)."""

_CHUNK = 4096  # lines mined per add_many call: bounded memory, no per-line call overhead
T = TypeVar("T")


class ParseError(Exception):
    """The input or output file cannot be used (one line)."""


@dataclass(frozen=True)
class ParseStats:
    """What a parse did; ``templates`` counts the template ids written (after the merge)."""

    lines: int
    templates: int
    truncated: int
    undecodable: int


def clip(message: str) -> tuple[str, bool]:
    """``message`` cut at :data:`MAX_LINE_CHARS`, and whether it was cut.

    >>> clip("short")
    ('short', False)
    >>> len(clip("x" * 100_000)[0]), clip("x" * 100_000)[1]
    (65536, True)
    """
    if len(message) <= MAX_LINE_CHARS:
        return message, False
    return message[:MAX_LINE_CHARS], True


def read_lines(fh: BinaryIO) -> Iterator[tuple[str, bool, bool]]:
    """Each line of a binary file as ``(text, truncated, had_bad_bytes)``, in bounded memory."""
    while True:
        raw = fh.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        cut = False
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            cut = True
            raw = raw[:MAX_LINE_BYTES]
            while True:  # skip the rest of the long line
                rest = fh.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
        raw = raw.rstrip(b"\r\n")
        try:
            text, bad = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            text, bad = raw.decode("utf-8", errors="replace"), True
        yield text, cut, bad


def _chunks(items: Iterator[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter): batches for :meth:`LogMiner.add_many`."""
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def parse_file(
    src: str | Path, dst: str | Path, *, miner: LogMiner | None = None, registry: CollectorRegistry | None = None
) -> ParseStats:
    """Mine ``src`` and write ``line_no,template_id,template`` rows to ``dst`` (see the module doc)."""
    src, dst = Path(src), Path(dst)
    miner = miner or LogMiner(watch="parse", max_templates=100_000, registry=registry, merge=False)
    metrics = logs_metrics(registry)
    ids = array("q")
    truncated = undecodable = 0
    try:
        with open(src, "rb") as fh:
            for chunk in _chunks(read_lines(fh), _CHUNK):
                texts = []
                for text, cut, bad in chunk:
                    truncated += cut
                    undecodable += bad
                    texts.append(text)
                ids.extend(miner.add_many(texts))
    except FileNotFoundError:
        raise ParseError(f"{src}: no such file") from None
    except IsADirectoryError:
        raise ParseError(f"{src}: is a directory, not a log file") from None
    except OSError as exc:
        raise ParseError(f"{src}: cannot read ({exc.strerror or exc})") from None
    if truncated:
        metrics.truncated.labels(miner.watch).inc(truncated)
    groups = final_templates(miner)
    try:
        with open(dst, "w", newline="", encoding="utf-8") as out:
            w = csv.writer(out)
            w.writerow(["line_no", "template_id", "template"])
            for n, tid in enumerate(ids, start=1):
                gid, text = groups.get(miner.root(tid)) or (tid, miner.template(tid))  # root: a merging miner
                w.writerow([n, gid, text])
    except OSError as exc:
        raise ParseError(f"{dst}: cannot write ({exc.strerror or exc})") from None
    return ParseStats(len(ids), len({g for g, _ in groups.values()}), truncated, undecodable)


def final_templates(miner: LogMiner) -> dict[int, tuple[int, str]]:
    """Each template id of ``miner`` -> (its group id, the group's text) after the offline merge."""
    return merge_prefix_variables(miner.templates(), prefix=miner.routing_tokens)
