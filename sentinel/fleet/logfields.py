"""Variable parts of log messages (ids, durations, addresses ...), drawn per line from its counter.

Each field is a vectorised function of ``(stream key, line counters)`` so a
line's text is the same however the range is split (or however many agents'
lines are rendered in one call: the key may be given per line).  The values look like
what real agents log -- hex task ids, UUIDs, log-normal durations, private
IPs, file paths, e-mail addresses, URLs -- which is what a template miner
has to learn to mask.

>>> k = 12345
>>> make_field("uuid", k, np.arange(2), "gpt-4o")[0].count("-")
4
>>> make_field("ip", k, np.arange(3), "gpt-4o")[0].startswith("10.")
True
"""

from __future__ import annotations

import numpy as np

from sentinel.fleet import random as rnd

_WORDS = ("reports", "invoices", "tickets", "notes", "plans", "drafts", "exports", "traces", "summaries", "scratch")
_EXTS = ("json", "md", "csv", "txt", "parquet", "py")
_FIRST = ("ana", "bo", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo", "kai", "lena")
_LAST = ("smith", "ng", "garcia", "okafor", "kim", "novak", "silva", "berg", "haddad", "ito")
_DOMAINS = ("example.com", "acme.io", "corp.internal", "docs.example.org", "api.vendor.net")
_CODES = np.array([400, 401, 403, 404, 409, 429, 500, 502, 503, 504])


def _pick(options: tuple[str, ...], b: np.ndarray) -> list[str]:
    idx = (b % np.uint64(len(options))).astype(np.int64)
    return np.asarray(options, dtype=object)[idx].tolist()


def make_field(name: str, k: int | np.ndarray, counter: np.ndarray, model: str | np.ndarray) -> list[str]:
    """Rendered values of field ``name`` for lines ``counter`` (``model``: the agent's LLM).

    ``k`` and ``model`` are one agent's, or one per line (uint64 keys, an
    object array of models) to render several agents' lines in one call; a
    line's value is the same either way.

    >>> one = make_field("ip", 5, np.arange(2), "m") + make_field("ip", 6, np.arange(2, 4), "m")
    >>> one == make_field("ip", np.array([5, 5, 6, 6], dtype=np.uint64), np.arange(4), np.array(["m"] * 4))
    True
    """
    kk = _stream(k, name)
    b = rnd.bits(kk, counter)
    if name == "task_id":
        return [f"t-{x:010x}" for x in (b >> np.uint64(24)).tolist()]
    if name == "uuid":
        b2 = rnd.bits(kk ^ 0xA5A5, counter).tolist()
        return [f"{x >> 32:08x}-{(x >> 16) & 0xFFFF:04x}-4{x & 0xFFF:03x}-{0x8000 | (y >> 48) & 0x3FFF:04x}-"
                f"{y & 0xFFFFFFFFFFFF:012x}" for x, y in zip(b.tolist(), b2, strict=True)]
    if name in ("ms", "tokens"):
        med, sigma = (800.0, 1.0) if name == "ms" else (500.0, 0.7)
        return [str(x) for x in np.rint(med * np.exp(sigma * rnd.normal(kk, counter))).astype(np.int64).tolist()]
    if name == "secs":
        return [f"{x:.1f}" for x in (1.0 + rnd.uniform(kk, counter) * 119.0).tolist()]
    if name in ("n", "mb", "pct", "bytes", "port"):
        lo, span = {"n": (1, 500), "mb": (1, 300), "pct": (80, 20), "bytes": (128, 10_000_000),
                    "port": (1024, 64000)}[name]
        return [str(x) for x in (lo + (b % np.uint64(span)).astype(np.int64)).tolist()]
    if name == "ip":
        x = b.tolist()
        return [f"10.{(v >> 8) & 0xFF}.{(v >> 16) & 0xFF}.{1 + (v >> 24) % 254}" for v in x]
    if name == "path":
        words, exts = _pick(_WORDS, b), _pick(_EXTS, b >> np.uint64(20))
        return [f"/var/lib/agent/{w}/{h & 0xFFFFFFFF:08x}.{e}"
                for w, e, h in zip(words, exts, (b >> np.uint64(28)).tolist(), strict=True)]
    if name == "email":
        first, last = _pick(_FIRST, b), _pick(_LAST, b >> np.uint64(8))
        dom, num = _pick(_DOMAINS, b >> np.uint64(16)), ((b >> np.uint64(24)) % np.uint64(100)).tolist()
        return [f"{f}.{la}{n}@{d}" for f, la, n, d in zip(first, last, num, dom, strict=True)]
    if name == "url":
        dom, word = _pick(_DOMAINS, b), _pick(_WORDS, b >> np.uint64(8))
        num = ((b >> np.uint64(16)) % np.uint64(100000)).tolist()
        return [f"https://{d}/{w}/{n}" for d, w, n in zip(dom, word, num, strict=True)]
    if name == "code":
        return [str(x) for x in _CODES[(b % np.uint64(len(_CODES))).astype(np.int64)].tolist()]
    if name == "model":
        return [model] * len(counter) if isinstance(model, str) else list(model)
    raise KeyError(f"unknown log field {name!r}")


def _stream(k: int | np.ndarray, name: str) -> int | np.ndarray:
    """The field's stream key: ``rnd.key(k, name)``, per line when ``k`` is per line."""
    if not isinstance(k, np.ndarray):
        return rnd.key(k, name)
    keys, inverse = np.unique(k, return_inverse=True)
    return np.array([rnd.key(int(x), name) for x in keys.tolist()], dtype=np.uint64)[inverse]


def trace_ids(k: int, counter: np.ndarray) -> list[str]:
    """W3C-style 32-hex-digit trace ids."""
    pairs = np.stack([rnd.bits(k, counter), rnd.bits(k ^ 0x7F7F, counter)], axis=1).astype(">u8")
    text = pairs.tobytes().hex()
    return [text[i : i + 32] for i in range(0, len(text), 32)]
