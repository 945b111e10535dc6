"""Masking: replace the variable and personal parts of a log message before mining.

Template mining (drain3) groups lines by their constant tokens, so every
variable part must be gone before it sees a line: numbers, ids, addresses and
anything personal.  Masking is also sentinel's privacy boundary (DESIGN §3):
only masked text is ever stored or sent, so an email, an IP, a token or a
quoted user value must not survive it.

The rules are general on purpose (no per-corpus regexes): typed masks for the
shapes that carry meaning or personal data (``<URL>``, ``<EMAIL>``, ``<UUID>``,
``<IP>``, ``<MAC>``, ``<PATH>``, ``<DURATION>``, ``<SECRET>`` for key=value
secrets and bearer tokens, ``<STR>``), then one catch-all: any word that still
contains a digit (``blk_-1608``, ``part-00590``, ``0x1f``, ``v2``, a hex id,
a 40-character API key) becomes ``<*>``.  Runs of adjacent masks
collapse into one, so a variable made of several tokens (a date, a list of
ids) does not change the token count that drain3 groups by.

>>> mask("Failed password for invalid user bob from 203.0.113.9 port 52344 ssh2")
'Failed password for invalid user bob from <IP> port <*>'
>>> mask("mail to jane.doe@example.com took 12.5ms (token=ghp_aB3dE5fG7hJ9kL1mN3pQ)")
'mail to <EMAIL> took <DURATION> (token=<SECRET>)'
>>> mask('GET https://api.example.com/v1/users?id=42 returned "user not found" after 3 retries')
'GET <URL> returned <STR> after <*> retries'
"""

from __future__ import annotations

import re

# Each rule is (regex, replacement, gate); they run in order, each one a C-level pass,
# and only when the line can match: the gate names substrings one of which must be
# present (_DIGIT: any digit; _COLONS / _DASHES: enough separators for an IPv6, UUID or
# MAC; _KEYWORDS / _BEARER are looked up in the lower-cased line).  Gating keeps masking
# cheap: most lines skip most rules.
# Order matters: the most specific shapes first, so an email is not cut into a
# path and a number, and a UUID is not read as hex words.
_DIGIT = ("<digit>",)
_COLONS = ("<2+ colons>",)
_DASHES = ("<4+ dashes or 5+ colons>",)
_KEYWORDS = ("key", "secret", "token", "passw", "pwd", "auth", "session", "cookie")
_BEARER = ("bearer", "basic")

_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # secrets written as key=value / key: value / Bearer xyz (value masked, key kept)
    (
        r"(?i)\b((?:api[_-]?key|access[_-]?key|secret|token|passw(?:or)?d|pwd|auth(?:orization)?|session[_-]?id|cookie)"
        r"[\"']?\s*[=:]\s*[\"']?)(?:bearer\s+|basic\s+)?[^\s\"',;&)]+",
        r"\1<SECRET>",
        _KEYWORDS,
    ),
    (r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}", r"\1 <SECRET>", _BEARER),
    (r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s\"'<>()\[\]{}]+", "<URL>", ("://",)),
    (
        r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b",
        "<EMAIL>",
        ("@",),
    ),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<UUID>", _DASHES),
    # IPv6: full, compressed, or with an embedded IPv4
    (
        r"(?<![\w:.])(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"
        r"|(?:[0-9a-fA-F]{1,4}:){1,7}:(?:[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){0,6})?"
        r"|::(?:[0-9a-fA-F]{1,4}:){0,6}[0-9a-fA-F]{1,4}"
        r"|::ffff:\d{1,3}(?:\.\d{1,3}){3})(?:%\w+)?(?![\w:.])",
        "<IP>",
        _COLONS,
    ),
    (r"\b(?:[0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}\b", "<MAC>", _DASHES),
    # JWT-like tokens
    (r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", "<SECRET>", ("eyJ",)),
    # windows paths (unix paths below)
    (r"\b[A-Za-z]:\\[^\s\"'<>|]+", "<PATH>", (":\\",)),
    # quoted values: after = or : always; free-standing when they hold a space or a digit
    (r"([=:]\s?)\"[^\"]*\"", r"\1<STR>", ('"',)),
    (r"([=:]\s?)'[^']*'", r"\1<STR>", ("'",)),
    (r"(?<![\w\"])\"(?=[^\s\"])[^\"]*[\s\d][^\"]*(?<=[^\s\"])\"(?![\w\"])", "<STR>", ('"',)),
    (r"(?<![\w'])'(?=[^\s'])[^']*[\s\d][^']*(?<=[^\s'])'(?![\w'])", "<STR>", ("'",)),
    (r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])", "<IP>", (".",)),
    (r"(?<![\w/<>])(?:~|\.{1,2})?(?:/[\w.@%+~-]+){2,}/?", "<PATH>", ("/",)),
    # durations: 12ms, 1.5s, 3 min, 250us, 2h
    (
        r"(?<![\w.])\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?)\b",
        "<DURATION>",
        _DIGIT,
    ),
    # catch-all: a word that still holds a digit is a variable (ids, counters, hex, versions, host names,
    # long opaque tokens such as API keys)
    (r"(?<![\w.:/@+#~-])[\w.:/@+#~-]*\d[\w.:/@+#~-]*", "<*>", _DIGIT),
    # adjacent masks (a date, a list of ids) collapse into one
    (r"<(?:[A-Z]+|\*)>(?:[\s,]+<(?:[A-Z]+|\*)>)+", "<*>", ("> <", ">,")),
)
_LOWER = (_KEYWORDS, _BEARER)
_HAS_DIGIT = re.compile(r"\d").search

MASKS = ("<URL>", "<EMAIL>", "<UUID>", "<IP>", "<MAC>", "<SECRET>", "<PATH>", "<DURATION>", "<STR>", "<*>")
"""Every mask :func:`mask` can produce."""


class Masker:
    """The compiled masking rules; :meth:`mask` is the hot path (one ``re.sub`` per rule that can match).

    >>> Masker().mask("uuid 123e4567-e89b-12d3-a456-426614174000 on fe80::1ff:fe23:4567:890a")
    'uuid <UUID> on <IP>'
    """

    def __init__(self) -> None:
        self._subs = tuple((re.compile(pattern).sub, repl, gate) for pattern, repl, gate in _RULES)

    def mask(self, message: str) -> str:
        """The masked message: variables replaced, whitespace normalised to single spaces."""
        message = " ".join(message.split())
        digit = _HAS_DIGIT(message) is not None
        lower = message.lower()
        for sub, repl, gate in self._subs:
            if gate is _DIGIT:
                if not digit:
                    continue
            elif gate is _COLONS:
                if message.count(":") < 2:
                    continue
            elif gate is _DASHES:
                if message.count("-") < 4 and message.count(":") < 5:
                    continue
            elif gate in _LOWER:
                if not any(k in lower for k in gate):
                    continue
            elif not any(k in message for k in gate):
                continue
            message = sub(repl, message)
        return " ".join(message.split())


_DEFAULT = Masker()


def mask(message: str) -> str:
    """Mask ``message`` with the default rules (see the module doc)."""
    return _DEFAULT.mask(message)
