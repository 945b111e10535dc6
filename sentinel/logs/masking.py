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
    # IPv4 (+port).  The hot patterns start with the character they need (a digit, a slash) and look
    # behind only after it: the regex engine then skips ahead to candidates instead of trying every position.
    (r"\d(?<![\w.]\d)\d{0,2}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\w.])", "<IP>", (".",)),
    (r"/(?<![\w/<>]/)[\w.@%+~-]+(?:/[\w.@%+~-]+)+/?", "<PATH>", ("/",)),
    # durations: 12ms, 1.5s, 3 min, 250us, 2h
    (
        r"\d(?<![\w.]\d)\d*(?:\.\d+)?\s?(?:[nuµm]s|s(?:ecs?|econds?)?|m(?:ins?|inutes?)?|h(?:rs?|ours?)?|d(?:ays?)?)\b",
        "<DURATION>",
        _DIGIT,
    ),
    # plain numbers first (cheap: digit-first), then the catch-all: a word that still holds a digit is a
    # variable (ids, counters, hex, versions, host names, long opaque tokens such as API keys)
    (r"\d(?<![\w.:/@+#~-]\d)[\d.,]*(?<![.,])(?![\w.:/@+#~-])", "<*>", _DIGIT),
    (r"(?<![\w.:/@+#~-])[\w.:/@+#~-]*\d[\w.:/@+#~-]*", "<*>", _DIGIT),
    # adjacent masks (a date, a list of ids) collapse into one
    (r"<(?:[A-Z]+|\*)>(?:[\s,]+<(?:[A-Z]+|\*)>)+", "<*>", ("> <", ">,")),
)
_HAS_DIGIT = re.compile(r"\d").search

MASKS = ("<URL>", "<EMAIL>", "<UUID>", "<IP>", "<MAC>", "<SECRET>", "<PATH>", "<DURATION>", "<STR>", "<*>")
"""Every mask :func:`mask` can produce."""


class Masker:
    """The compiled masking rules; :meth:`mask` is the hot path.

    The rules of :data:`_RULES` are applied in order, each as one C-level
    ``re.sub``, and only when its gate says the line can match (the gate checks
    are written out inline: a generic loop cost more than the regexes).

    >>> Masker().mask("uuid 123e4567-e89b-12d3-a456-426614174000 on fe80::1ff:fe23:4567:890a")
    'uuid <UUID> on <IP>'
    """

    def __init__(self) -> None:
        (
            self._kv, self._bearer, self._url, self._email, self._uuid, self._ip6, self._mac, self._jwt, self._win,
            self._q_kv, self._sq_kv, self._q, self._sq, self._ip4, self._path, self._dur, self._plain, self._num,
            self._collapse,
        ) = tuple((re.compile(pattern).sub, repl) for pattern, repl, _ in _RULES)
        self._keywords = re.compile("|".join(_KEYWORDS)).search

    def mask(self, message: str) -> str:
        """The masked message: variables replaced, whitespace normalised to single spaces."""
        m = " ".join(message.split())
        low = m.lower()
        if self._keywords(low):
            sub, repl = self._kv
            m = sub(repl, m)
        if "bearer" in low or "basic" in low:
            sub, repl = self._bearer
            m = sub(repl, m)
        if "://" in m:
            sub, repl = self._url
            m = sub(repl, m)
        if "@" in m:
            sub, repl = self._email
            m = sub(repl, m)
        colons = m.count(":")
        if colons >= 5 or m.count("-") >= 4:
            for sub, repl in (self._uuid, self._mac):
                m = sub(repl, m)
        if colons >= 2:
            sub, repl = self._ip6
            m = sub(repl, m)
        if "eyJ" in m:
            sub, repl = self._jwt
            m = sub(repl, m)
        if ":\\" in m:
            sub, repl = self._win
            m = sub(repl, m)
        if '"' in m:
            for sub, repl in (self._q_kv, self._q):
                m = sub(repl, m)
        if "'" in m:
            for sub, repl in (self._sq_kv, self._sq):
                m = sub(repl, m)
        if "." in m:
            sub, repl = self._ip4
            m = sub(repl, m)
        if "/" in m:
            sub, repl = self._path
            m = sub(repl, m)
        if _HAS_DIGIT(m):
            for sub, repl in (self._dur, self._plain):
                m = sub(repl, m)
            if _HAS_DIGIT(m):
                sub, repl = self._num
                m = sub(repl, m)
        if "> <" in m or ">," in m:
            sub, repl = self._collapse
            m = sub(repl, m)
        return m


_DEFAULT = Masker()


def mask(message: str) -> str:
    """Mask ``message`` with the default rules (see the module doc)."""
    return _DEFAULT.mask(message)
