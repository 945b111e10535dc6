"""The masking rules: which shapes of a log line are variables or personal data, and what replaces them.

Data only (the order and the regexes); :mod:`sentinel.logs.masking` compiles
and runs them.  Each rule is ``(regex, replacement, gate)``.
"""

from __future__ import annotations

KEY = r"(?:api[_-]?key|access[_-]?key|secret|token|passw(?:or)?d|pwd|auth(?:orization)?|session[_-]?id|cookie)"
"""The names of secrets written as ``key=value`` (their value becomes ``<SECRET>``)."""

UNIT = r"(?:[nuµm]s|s(?:ecs?|econds?)?|m(?:ins?|inutes?)?|h(?:rs?|ours?)?|d(?:ays?)?)"
"""Duration units after a number (``12ms``, ``3 min``)."""

# Each rule is (regex, replacement, gate); they run in order, each one a C-level pass,
# and only when the line can match: the gate names substrings one of which must be
# present (_DIGIT: any digit; _COLONS / _DASHES: enough separators for an IPv6, UUID or
# MAC; KEYWORDS / _BEARER are looked up in the lower-cased line).  Gating keeps masking
# cheap: most lines skip most rules.
# Order matters: the most specific shapes first, so an email is not cut into a
# path and a number, and a UUID is not read as hex words.
_DIGIT = ("<digit>",)
_COLONS = ("<2+ colons>",)
_DASHES = ("<4+ dashes or 5+ colons>",)
KEYWORDS = ("key", "secret", "token", "passw", "pwd", "auth", "session", "cookie")
_BEARER = ("bearer", "basic")

RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # secrets written as key=value / key: value / Bearer xyz (value masked, key kept); not a line that starts
    # "auth: ": that is syslog's auth facility (or a component) naming the line, and its next word is the message
    (
        rf"(?i)\b(?!^auth\s*:\s)({KEY}[\"']?\s*[=:]\s*[\"']?)(?:bearer\s+|basic\s+)?[^\s\"',;&)]+",
        r"\1<SECRET>",
        KEYWORDS,
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
        r"\d(?<![\w.]\d)\d*(?:\.\d+)?\s?" + UNIT + r"\b",
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

MASKS = ("<URL>", "<EMAIL>", "<UUID>", "<IP>", "<MAC>", "<SECRET>", "<PATH>", "<DURATION>", "<STR>", "<*>")
"""Every mask :func:`mask` can produce."""
