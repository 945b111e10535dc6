"""Merging templates that differ only in a word drain routes on: offline (``logs parse``) and live (log watches).

Drain files a line in its prefix tree by token count and then by its first
tokens (``depth - 3`` of them, one by default); a word there that varies (a process name
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

``sentinel logs parse`` applies it once, to the whole file's templates
(:func:`merge_prefix_variables`).  A live log watch applies the same rule as
templates appear (:class:`LiveMerge`), causally and without changing an id
that is in use: when a created or generalised template completes a group, the
group's smallest (oldest) id survives with the group's text, the others are
*absorbed* (gone from drain's tree and cluster map; the tree's leaves that held
them point at the survivor), and later lines of the shape get the survivor's
id.  A line with a value of the word not seen before fits the survivor
exactly and creates nothing (no template, no id, no slot under the cap).  A
template the survivor covers (made by drain before the group's text was as
general: ``x.exe ... <*> bytes received`` under ``<*> ... <*> <*> received``)
joins the group too, as each of its lines would.

>>> merged = merge_prefix_variables({1: "chrome.exe open <*> ok", 2: "Skype.exe open <*> ok",
...     3: "Mail.exe open <*> ok", 4: "Accepted password for <*>", 5: "Failed password for <*>"}, prefix=1)
>>> merged[1], merged[3], merged[4], merged[5]
((1, '<*> open <*> ok'), (1, '<*> open <*> ok'), (4, 'Accepted password for <*>'), (5, 'Failed password for <*>'))
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from drain3.drain import Drain, LogCluster, Node

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


class LiveMerge:
    """The merge for a live miner, on its drain tree: causal, cheap per line, ids in use stay (module doc).

    ``into`` maps each absorbed template id to its survivor (persisted with the
    miner state).  The work happens only where drain itself changes: a template
    created or generalised (:meth:`update`, one pass over the templates of that
    length) and a line drain would make a new template of (:meth:`fit`, one
    match against the merged templates of that length).

    >>> from drain3.template_miner_config import TemplateMinerConfig
    >>> from drain3 import TemplateMiner
    >>> cfg = TemplateMinerConfig(); cfg.drain_depth = 4
    >>> drain = TemplateMiner(None, cfg).drain
    >>> live = LiveMerge(drain, prefix=1)
    >>> for p in ("chrome.exe", "Skype.exe", "Mail.exe"):
    ...     c, _ = drain.add_log_message(f"{p} open <*> ok")
    ...     absorbed = live.update(len(c.log_template_tokens))
    >>> absorbed, live.into, drain.id_to_cluster[1].get_template()
    ({2: 1, 3: 1}, {2: 1, 3: 1}, '<*> open <*> ok')
    >>> live.fit("Dock.app open <*> ok".split()).cluster_id
    1
    """

    def __init__(self, drain: Drain, *, prefix: int, into: dict[int, int] | None = None, min_values: int = 3) -> None:
        self._drain = drain
        self.prefix = prefix  # the first tokens drain's tree routes on: the positions merged
        self.min_values = min_values
        self.into: dict[int, int] = dict(into or {})
        self._roots: dict[int, set[int]] = defaultdict(set)  # token count -> surviving ids of merged groups
        for root in set(self.into.values()):
            cluster = drain.id_to_cluster.get(root)
            if cluster is not None:
                self._roots[len(cluster.log_template_tokens)].add(root)

    def fit(self, tokens: Sequence[str]) -> LogCluster | None:
        """The merged template ``tokens`` fits exactly (every constant token equal), if any."""
        roots = self._roots.get(len(tokens))
        return self._drain.fast_match(roots, tokens, 1.0, True) if roots else None

    def update(self, length: int) -> dict[int, int]:
        """After drain created or generalised a template of ``length`` tokens: merge what the rule groups now.

        Then a template that a merged one covers (each of its lines would fit
        the merged template, as a new line must to join it) joins that group:
        drain made it before the group's text was general enough.  Returns the
        ids absorbed in this call -> their survivor (usually none).
        """
        drain = self._drain
        top = drain.root_node.key_to_child_node.get(str(length))
        if top is None or length == 0:
            return {}
        nodes = _subtree(top)
        live = sorted({cid for node in nodes for cid in node.cluster_ids if cid in drain.id_to_cluster})
        texts = {cid: " ".join(drain.id_to_cluster[cid].log_template_tokens) for cid in live}
        groups: dict[tuple[int, str], list[int]] = defaultdict(list)
        for tid, group in merge_prefix_variables(texts, prefix=self.prefix, min_values=self.min_values).items():
            groups[group].append(tid)
        absorbed: dict[int, int] = {}
        for (_, text), ids in groups.items():
            if len(ids) > 1:
                absorbed |= self._join(ids, tuple(text.split()))
        clusters = drain.id_to_cluster
        for root in sorted(self._roots[length], key=lambda r: -clusters[r].log_template_tokens.count(_WILD)):
            if root in clusters:  # the most general first: it takes those it covers, merged ones included
                tokens = clusters[root].log_template_tokens
                covered = [c for c in live if c != root and c in clusters
                           and drain.get_seq_distance(tokens, clusters[c].log_template_tokens, True)[0] == 1.0]
                if covered:
                    absorbed |= self._join([root, *covered], tokens)
        if not absorbed:
            return {}
        for tid, gid in absorbed.items():  # one survivor per chain (absorbed into a group absorbed later)
            while gid in absorbed:
                gid = absorbed[gid]
            absorbed[tid] = gid
        for node in nodes:  # a leaf that held an absorbed template routes its lines to the survivor
            if any(c in absorbed for c in node.cluster_ids):
                node.cluster_ids = list(dict.fromkeys(absorbed.get(c, c) for c in node.cluster_ids))
        self.into = {tid: absorbed.get(gid, gid) for tid, gid in self.into.items()} | absorbed
        return absorbed

    def _join(self, ids: list[int], tokens: tuple[str, ...]) -> dict[int, int]:
        """Merge the templates ``ids`` into the oldest of them, with ``tokens``; absorbed id -> that one."""
        clusters, survivor = self._drain.id_to_cluster, min(ids)
        root = clusters[survivor]
        roots = self._roots[len(tokens)]
        for tid in ids:
            if tid != survivor:
                root.size += clusters.pop(tid).size
                roots.discard(tid)
        root.log_template_tokens = tokens
        roots.add(survivor)
        return {tid: survivor for tid in ids if tid != survivor}

    def root(self, template_id: int) -> int:
        """The id lines of ``template_id`` are counted under now (itself unless it was absorbed)."""
        return self.into.get(template_id, template_id)

    def resolve(self, ids: np.ndarray) -> np.ndarray:
        """:meth:`root` of every id in ``ids`` at once."""
        if not self.into or not len(ids):
            return ids
        keys = np.fromiter(sorted(self.into), dtype=np.int64, count=len(self.into))
        at = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        roots = np.fromiter((self.into[k] for k in keys.tolist()), dtype=np.int64, count=len(keys))
        return np.where(keys[at] == ids, roots[at], ids)


def _subtree(node: Node) -> list[Node]:
    """``node`` and every node under it (drain's tree below one token count: a few nodes per template)."""
    out, todo = [], [node]
    while todo:
        n = todo.pop()
        out.append(n)
        todo.extend(n.key_to_child_node.values())
    return out
