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

import itertools
import re

from sentinel.logs.mask_rules import KEY, KEYWORDS, MASKS, RULES, UNIT

__all__ = ["DEFAULT_MASKER", "MASKS", "Masker", "mask"]

_HAS_DIGIT = re.compile(r"\d").search

# The token cache's helpers (see Masker).  Digits become 0 before lookup (UTF-8 never has an ASCII byte inside
# a multi-byte character, so translating the bytes is safe for any text).
_ZERO = bytes.maketrans(b"123456789", b"000000000")
_MAX_TOKEN = 64
_SPAN_END = re.compile(rf"(?i)(?:{KEY}[\"']?[=:][\"']?|bearer|basic)$").search
_KEY_END = re.compile(rf"(?i){KEY}[\"']?$").search
_UNIT_START = re.compile(UNIT + r"\b").match
_DURATION_WORD = re.compile(r"0+" + UNIT).fullmatch  # on a digits-zeroed token of letters and digits only
# cheap pre-checks for the regexes above: the last character of a key / separator / bearer / basic (any case),
# the first character of a unit
_ENDS = frozenset("ytndhercYTNDHERC=:\"'")
_STARTS = frozenset("nuµmshd")


class _Memo:
    """One generation of the token cache: masked tokens and the tokens that need a look at the whole line.

    A full cache is replaced by a new generation, never cleared in place, so a
    thread masking a line meanwhile keeps a consistent view (flags are added
    before the token itself, for the same reason).
    """

    __slots__ = ("flagged", "keys", "spans", "tokens", "units")

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.flagged: set[str] = set()  # any of the below, or holds a quote character
        self.spans: set[str] = set()  # ends in a secret's key plus separator (``password=``), or in bearer/basic
        self.keys: set[str] = set()  # ends in a secret's key: spans if the next token starts with "=" or ":"
        self.units: set[str] = set()  # starts with a duration unit: grouped with a number before it


class Masker:
    """The masking rules, compiled, behind a token cache; :meth:`mask` is the hot path.

    :meth:`reference` is the definition: the rules of :data:`~sentinel.logs.mask_rules.RULES` in order,
    each one C-level ``re.sub``, run only when its gate says the line can
    match.  :meth:`mask` returns exactly the same text, several times faster,
    because real logs repeat their words: it masks a line token by token
    (whitespace-split) through a dict from token to masked token, and runs the
    rules only on tokens it has not seen.  This is exact, not an approximation:

    * every rule but four matches inside one token, and its look-arounds see a
      space or the line's edge at a token's edges either way, so those rules
      act on each token on its own (the final collapse of adjacent masks runs
      on the joined line, as in :meth:`reference`);
    * the four that can span tokens are caught per line: two or more quote
      characters of one kind, a token ending in a secret's key and separator
      (``password=``) or in ``bearer``/``basic``, or a key token followed by
      one starting with ``=`` or ``:`` send the line to :meth:`reference`; a
      number followed by a unit word (``3 min``) is masked as one group;
    * no rule tells one ASCII digit from another and no digit survives masking
      (any word holding one becomes a mask), so tokens are looked up with
      every digit turned into ``0``: ``10.0.0.7`` and ``10.0.0.9`` share an
      entry, and the cache holds no number of the input (nor any token that
      masks to an email or a secret: those are masked afresh each time).

    Equality with :meth:`reference` is property-tested.  ``cache_size`` bounds
    the cached tokens (a full cache starts afresh: it only costs speed);
    tokens over 64 characters are masked on their own and not cached.  Safe
    to share between threads.

    >>> Masker().mask("uuid 123e4567-e89b-12d3-a456-426614174000 on fe80::1ff:fe23:4567:890a")
    'uuid <UUID> on <IP>'
    """

    def __init__(self, cache_size: int = 1 << 15) -> None:
        (
            self._kv, self._bearer, self._url, self._email, self._uuid, self._ip6, self._mac, self._jwt, self._win,
            self._q_kv, self._sq_kv, self._q, self._sq, self._ip4, self._path, self._dur, self._plain, self._num,
            self._collapse,
        ) = tuple((re.compile(pattern).sub, repl) for pattern, repl, _ in RULES)
        self._keywords = re.compile("|".join(KEYWORDS)).search
        self._cache_size = max(cache_size, 1)
        self._memo = _Memo()

    def mask(self, message: str) -> str:
        """The masked message: variables replaced, whitespace normalised to single spaces."""
        try:
            toks = message.encode().translate(_ZERO).decode().split()
        except UnicodeError:  # lone surrogates
            return self.reference(message)
        memo = self._memo
        out = list(map(memo.tokens.get, toks))
        if None in out:
            memo = self._learn(memo, toks, out)
            if memo is None:
                return self.reference(message)
        if not memo.flagged.isdisjoint(toks):
            if (
                message.count('"') > 1 or message.count("'") > 1
                or not memo.spans.isdisjoint(toks)
                or (not memo.keys.isdisjoint(toks) and _key_spans(toks, memo.keys))
            ):
                return self.reference(message)
            if not memo.units.isdisjoint(toks):
                out = self._group_units(toks, out, memo)
        m = " ".join(out)  # type: ignore[arg-type]  # every None was filled in
        if "> <" in m or ">," in m:
            sub, repl = self._collapse
            m = sub(repl, m)
        return m

    def _learn(self, memo: _Memo, toks: list[str], out: list[str | None]) -> _Memo | None:
        """Fill the ``None`` slots of ``out`` (cache misses) from ``memo``, the generation the hits came from.

        Returns the generation that now holds every token's flags (a new one if
        ``memo`` was full), or None to send the line to the rules.
        """
        if len(memo.tokens) + len(toks) > self._cache_size:
            self._memo = memo = _Memo()
            out[:] = [None] * len(out)  # re-learn this line's tokens (and their flags) in the new generation
        for i, tok in enumerate(toks):
            if out[i] is None:
                if len(tok) > _MAX_TOKEN:  # a long URL or blob: masked on its own, not kept
                    if tok[-1] in _ENDS or tok[0] in _STARTS or '"' in tok or "'" in tok:
                        return None
                    out[i] = self.reference(tok)
                    continue
                flagged = False
                if tok[-1] in _ENDS:
                    if _SPAN_END(tok):
                        memo.spans.add(tok)
                        flagged = True
                    elif _KEY_END(tok):
                        memo.keys.add(tok)
                        flagged = True
                if tok[0] in _STARTS and _UNIT_START(tok):
                    memo.units.add(tok)
                    flagged = True
                if flagged or '"' in tok or "'" in tok:
                    memo.flagged.add(tok)
                if "0" in tok and tok.isascii() and tok.isalnum():
                    # a word of letters and digits: only the duration rule or the catch-all can match it
                    masked = "<DURATION>" if _DURATION_WORD(tok) else "<*>"
                else:
                    masked = self.reference(tok)
                out[i] = masked
                _keep(memo, tok, masked)
        return memo

    def _group_units(self, toks: list[str], out: list[str | None], memo: _Memo) -> list[str | None]:
        """Mask a number and the unit word after it (``3 min``) as one group, as the duration rule sees them."""
        keys: list[str] = []
        vals: list[str | None] = []
        for tok, val in zip(toks, out, strict=True):
            if keys and keys[-1][-1].isdecimal() and tok in memo.units:
                keys[-1] += " " + tok
                vals[-1] = None
            else:
                keys.append(tok)
                vals.append(val)
        for i, key in enumerate(keys):
            if vals[i] is None:
                vals[i] = memo.tokens.get(key)
                if vals[i] is None:
                    vals[i] = masked = self.reference(key)
                    if len(key) <= _MAX_TOKEN:
                        _keep(memo, key, masked)
        return vals

    def reference(self, message: str) -> str:
        """The rules applied to the whole line: the definition :meth:`mask` reproduces (and the slow path)."""
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


def _keep(memo: _Memo, key: str, masked: str) -> None:
    """Cache ``key`` unless its mask says it held an address or a secret (kept in memory by no one)."""
    if "<EMAIL>" not in masked and "<SECRET>" not in masked:
        memo.tokens[key] = masked


def _key_spans(toks: list[str], keys: set[str]) -> bool:
    """Whether a secret's key token is followed by a token starting with ``=`` or ``:`` (``password = x``)."""
    return any(tok in keys and nxt[0] in "=:" for tok, nxt in itertools.pairwise(toks))


DEFAULT_MASKER = Masker()
"""The process-wide masker (its token cache is shared by every miner; safe across threads)."""


def mask(message: str) -> str:
    """Mask ``message`` with the default rules (see the module doc)."""
    return DEFAULT_MASKER.mask(message)
