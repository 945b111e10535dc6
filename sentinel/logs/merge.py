"""Offline merge of templates that differ only in a word drain routes on (``sentinel logs parse``).

Drain files a line in its prefix tree by token count and then by its first
tokens (``depth - 2`` of them); a word there that varies (a process name
``chrome.exe`` / ``Skype.exe``, a host name, a service name) sends each value
down its own branch, so one log statement becomes one template per value.  The
same word varying later in the line would have been merged by drain's
similarity test.  After a whole file is mined, this pass gives the first
tokens the same treatment: templates of equal length that are identical except
at one of those positions are merged, with ``<*>`` there, when that position
takes at least ``min_values`` different values (a variable, not a two-way
choice such as ``Accepted``/``Failed``) or one of them is already ``<*>``
(drain itself found the position variable), and at least two other tokens
are constant text.

Only the offline parse merges: a live watch keeps drain's template ids, which
are stored and alerted on and must not change under it.

>>> merged = merge_prefix_variables({1: "chrome.exe open <*> ok", 2: "Skype.exe open <*> ok",
...     3: "Mail.exe open <*> ok", 4: "Accepted password for <*>", 5: "Failed password for <*>"}, prefix=1)
>>> merged[1], merged[3], merged[4], merged[5]
((1, '<*> open <*> ok'), (1, '<*> open <*> ok'), (4, 'Accepted password for <*>'), (5, 'Failed password for <*>'))
"""

from __future__ import annotations

from collections import defaultdict

from sentinel.logs.masking import MASKS

_WILD = "<*>"


def merge_prefix_variables(
    templates: dict[int, str], *, prefix: int, min_values: int = 3
) -> dict[int, tuple[int, str]]:
    """Each template id -> (id of its merged group: the smallest member, the group's template text)."""
    if min_values < 2:
        raise ValueError("min_values must be at least 2")
    members_of = {tid: [tid] for tid in templates}  # group id -> its template ids
    tokens = {tid: text.split(" ") for tid, text in templates.items()}  # per group; masked text: single spaces
    for pos in range(prefix):
        buckets: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for gid, toks in tokens.items():
            if len(toks) > pos:
                rest = (*toks[:pos], _WILD, *toks[pos + 1:])
                if sum(t not in MASKS for t in rest) >= 2:
                    buckets[rest].append(gid)
        for rest, groups in buckets.items():
            values = {tokens[g][pos] for g in groups}
            if len(groups) > 1 and (len(values) >= min_values or _WILD in values):
                root = min(groups)
                for g in groups:
                    del tokens[g]
                    if g != root:
                        members_of[root].extend(members_of.pop(g))
                tokens[root] = list(rest)
    return {tid: (gid, " ".join(tokens[gid])) for gid, tids in members_of.items() for tid in tids}
