"""Template mining: masked log lines -> stable template ids, with a cap and persistent state.

A thin layer over drain3's ``Drain`` tree that adds what sentinel needs:

* **masking first** (:mod:`sentinel.logs.masking`): drain3 only ever sees masked
  text, so its state (and everything derived from it) holds no personal data;
* **a cache** from masked line to template id: real logs repeat the same masked
  line over and over, and a dict lookup is much cheaper than a tree search
  (masking itself caches per token, see :class:`~sentinel.logs.masking.Masker`);
* **a batch API** (:meth:`LogMiner.add_many`): a list of lines in, template ids
  out, without a result object per line;
* **a cap** (``max_templates``): past it, lines that match no known template
  are counted under :data:`OVERFLOW_ID` instead of growing the tree (template
  blow-ups are the classic failure of log miners), with one warning and the
  ``sentinel_log_template_overflow_lines`` metric;
* **an online merge** (:class:`~sentinel.logs.merge.LiveMerge`): templates that
  differ only in a word drain routes on (a process or service name) become one,
  under the oldest id, as soon as the word shows itself variable; a new value
  of it is then not a new template;
* **persistence**: :meth:`LogMiner.save` writes the drain3 state through a
  drain3 ``PersistenceHandler`` (atomic file replace) together with sentinel's
  own per-template metadata and the merged ids (:mod:`sentinel.logs.state_file`);
  a new miner on the same path resumes with the same template ids.  The state
  file is sentinel's own (jsonpickle inside, so load only files sentinel wrote).

>>> m = LogMiner()
>>> a = m.add("connect to 10.0.0.1 failed after 3 tries")
>>> b = m.add("connect to 10.0.0.7 failed after 5 tries")
>>> a.template_id == b.template_id, a.created, b.created
(True, True, False)
>>> m.template(a.template_id)
'connect to <IP> failed after <*> tries'
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig
from prometheus_client import CollectorRegistry

from sentinel.logs.masking import DEFAULT_MASKER, Masker
from sentinel.logs.merge import LiveMerge
from sentinel.logs.metrics import logs_metrics
from sentinel.logs.state_file import StateFile

log = logging.getLogger(__name__)
logging.getLogger("drain3").setLevel(logging.WARNING)  # it logs every start and snapshot at INFO

OVERFLOW_ID = 0
"""Template id of lines that matched nothing once the template cap was reached."""


class Mined(NamedTuple):
    """One mined line: its template id, and whether this line created the template."""

    template_id: int
    created: bool


class LogMiner:
    """Masks and mines log lines of one watch into templates (see the module doc).

    ``sim_th`` is drain's similarity threshold (share of equal constant tokens
    for a line to join a template) and ``depth`` its prefix-tree depth; the
    defaults were chosen on the labelled corpora of ``benchmarks/logs.py``.
    ``cache_size`` bounds the masked-line cache (0 disables it); it is cleared
    when full, which only costs speed.  ``masker`` defaults to the shared
    :data:`~sentinel.logs.masking.DEFAULT_MASKER` (one token cache per
    process).  ``merge`` turns the online merge on (``sentinel logs parse``
    merges once, offline, instead).  The state file format is the one of the
    first release (drain3's snapshot + ``meta``; the caches are not saved),
    plus ``merged`` (absorbed id -> survivor) once a merge happened, so older
    state files load unchanged.
    """

    def __init__(
        self,
        *,
        watch: str = "",
        max_templates: int = 1000,
        sim_th: float = 0.5,
        depth: int = 4,
        state_path: str | Path | None = None,
        cache_size: int = 200_000,
        registry: CollectorRegistry | None = None,
        masker: Masker | None = None,
        merge: bool = True,
    ) -> None:
        if max_templates <= 0:
            raise ValueError("max_templates must be positive")
        cfg = TemplateMinerConfig()
        cfg.drain_sim_th = sim_th
        cfg.drain_depth = depth
        cfg.drain_max_children = 100
        cfg.parametrize_numeric_tokens = True
        cfg.masking_instructions = []
        cfg.snapshot_compress_state = True
        self.watch = watch
        self.max_templates = max_templates
        self.meta: dict[str, Any] = {}
        """Per-template metadata owned by callers (e.g. levels seen); persisted with the state."""
        self._mask = (masker or DEFAULT_MASKER).mask
        self._tm = TemplateMiner(None, cfg)
        self._drain = self._tm.drain
        self._cache: dict[str, Mined] = {}  # masked line -> Mined(id, False): a hit allocates nothing
        self._cache_size = cache_size
        self._warned_cap = False
        self._metrics = logs_metrics(registry)
        self._lines = self._metrics.lines.labels(watch)
        self._unflushed = 0  # lines not yet added to the counter (a Counter.inc per line costs ~10% of mining)
        self._handler: StateFile | None = None
        if state_path is not None:
            self._handler = StateFile(Path(state_path), self._state_keys)
            self._tm.persistence_handler = self._handler
            self._tm.load_state()
            self.meta = self._handler.loaded.get("meta", {})
        merged = self._handler.loaded.get("merged") if self._handler is not None else None
        self._merge = LiveMerge(self._drain, prefix=self.routing_tokens, into=merged) if merge else None
        self._metrics.templates.labels(watch).set(len(self._drain.id_to_cluster))

    # -- mining ---------------------------------------------------------------

    def mask(self, message: str) -> str:
        """The masked form of ``message`` (what drain and the store see)."""
        return self._mask(message)

    def add(self, message: str) -> Mined:
        """Mask ``message`` and assign it a template (creating one unless the cap is reached)."""
        masked = self._mask(message)
        self._unflushed += 1  # add_masked, inlined: this is the per-line hot path
        if self._unflushed >= 1024:
            self.flush_metrics()
        hit = self._cache.get(masked)
        return hit if hit is not None else self._mine(masked)

    def add_masked(self, masked: str) -> Mined:
        """Assign an already masked line to a template."""
        self._unflushed += 1
        if self._unflushed >= 1024:
            self.flush_metrics()
        hit = self._cache.get(masked)
        return hit if hit is not None else self._mine(masked)

    def add_many(self, messages: Iterable[str]) -> list[int]:
        """Mask and mine ``messages`` in order; their template ids (what :meth:`add` gives, line by line).

        >>> LogMiner().add_many(["disk 1 full", "disk 2 full", "fan stopped"])
        [1, 1, 2]
        """
        mask, get, mine = self._mask, self._cache.get, self._mine
        ids = []
        for message in messages:
            masked = mask(message)
            hit = get(masked)
            ids.append((hit if hit is not None else mine(masked)).template_id)
        self._unflushed += len(ids)
        self.flush_metrics()
        return ids

    def _mine(self, masked: str) -> Mined:
        """A cache miss: drain's tree; where drain would make a new template, one the line fits exactly.

        drain scores a line against a template by the share of the template's
        *constant* tokens it equals, so a template that is mostly ``<*>``
        (``<*> status: <*> len: <*> time: <*>``) can never reach the threshold
        again: without the exact-fit lookup, each such line would make a new
        template (after a restart, or once the line cache was cleared).
        Wherever drain finds a template itself, its choice stands.
        """
        drain, merge = self._drain, self._merge
        tokens = drain.get_content_as_tokens(masked)
        matched = drain.tree_search(drain.root_node, tokens, drain.sim_th, False)
        changed = False
        if matched is not None:  # what drain.add_log_message does with a match, without searching again
            template = tuple(drain.create_template(tokens, matched.log_template_tokens))
            if template != matched.log_template_tokens:
                matched.log_template_tokens = template
                changed = True
            matched.size += 1
            cluster, created = matched, False
        else:
            cluster = drain.tree_search(drain.root_node, tokens, 1.0, True)
            if cluster is None and merge is not None:
                cluster = merge.fit(tokens)  # a new value of a merged word: the group's, not a new template
            created = cluster is None
            if created:
                if len(drain.id_to_cluster) >= self.max_templates:
                    self._overflow()
                    return Mined(OVERFLOW_ID, False)
                cluster, _ = drain.add_log_message(masked)
        tid = cluster.cluster_id
        if (created or changed) and merge is not None:
            absorbed = merge.update(len(tokens))
            if absorbed:
                self._absorbed(absorbed)
                tid = merge.root(tid)
                created = created and tid == cluster.cluster_id
        if created:
            self._metrics.templates.labels(self.watch).set(len(drain.id_to_cluster))
        if self._cache_size:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[masked] = Mined(tid, False)
        return Mined(tid, created)

    def _absorbed(self, absorbed: dict[int, int]) -> None:
        """Templates merged into others: cached lines follow them to the survivor; the metrics learn it."""
        for masked, hit in self._cache.items():
            if hit.template_id in absorbed:
                self._cache[masked] = Mined(absorbed[hit.template_id], False)
        self._metrics.merged.labels(self.watch).inc(len(absorbed))
        self._metrics.templates.labels(self.watch).set(len(self._drain.id_to_cluster))

    def flush_metrics(self) -> None:
        """Add the lines mined since the last flush to ``sentinel_log_lines_mined``."""
        if self._unflushed:
            self._lines.inc(self._unflushed)
            self._unflushed = 0

    def _overflow(self) -> None:
        self._metrics.overflow.labels(self.watch).inc()
        if not self._warned_cap:
            self._warned_cap = True
            log.warning(
                "log watch %r reached its cap of %d templates: new kinds of lines are counted as template %d "
                "(raise logs.max_templates, or narrow the query)",
                self.watch, self.max_templates, OVERFLOW_ID,
            )

    # -- reading --------------------------------------------------------------

    def template(self, template_id: int) -> str:
        """The current (masked) template text of ``template_id`` (of its survivor if it was merged)."""
        if template_id == OVERFLOW_ID:
            return f"(lines past the cap of {self.max_templates} templates)"
        return str(self._drain.id_to_cluster[self.root(template_id)].get_template())

    def root(self, template_id: int) -> int:
        """The id lines of ``template_id`` are counted under now: itself, or the template it was merged into."""
        return template_id if self._merge is None else self._merge.root(template_id)

    def resolve(self, ids: np.ndarray) -> np.ndarray:
        """:meth:`root` of each id: a cycle's lines mined before a merge are counted with those after it.

        >>> m = LogMiner()
        >>> ids = np.array(m.add_many([f"{w} job <*> done ok" for w in ("build", "test", "lint", "deploy")]))
        >>> ids.tolist(), m.resolve(ids).tolist(), m.templates()
        ([1, 2, 1, 1], [1, 1, 1, 1], {1: '<*> job <*> done ok'})
        """
        return ids if self._merge is None else self._merge.resolve(ids)

    def templates(self) -> dict[int, str]:
        """Every template id -> its current text (merged ones are gone: see :meth:`root`)."""
        self.flush_metrics()
        return {int(cid): str(c.get_template()) for cid, c in self._drain.id_to_cluster.items()}

    def _state_keys(self) -> dict[str, Any]:
        """What the state file holds beside drain's snapshot (``merged`` only once there is a merge)."""
        into = {} if self._merge is None else self._merge.into
        return {"meta": self.meta, **({"merged": sorted(into.items())} if into else {})}

    @property
    def routing_tokens(self) -> int:
        """How many first tokens drain's tree routes a line on (``depth - 3``; see :mod:`sentinel.logs.merge`)."""
        return max(int(self._drain.max_node_depth) - 1, 0)

    def __len__(self) -> int:
        return len(self._drain.id_to_cluster)

    # -- persistence ----------------------------------------------------------

    def save(self) -> bool:
        """Write the state (atomically) to ``state_path``; a no-op for an in-memory miner.

        A failed write (disk full, read-only dir) is one warning and a count, not an exception: the
        state is in memory and written again next cycle, and the cycle's alerts must not be lost
        (raised out of the cycle, they were: the retried cycle found its new patterns known).
        Returns whether the state is on disk.
        """
        if self._handler is None:
            return True
        try:
            self._tm.save_state("checkpoint")
        except OSError as exc:
            self._metrics.state_save_errors.labels(self.watch).inc()
            log.warning("log watch %r: cannot save its template state (%s: %s); kept in memory, retried next cycle",
                        self.watch, getattr(exc, "filename", None) or self._handler.path, exc.strerror or exc)
            return False
        return True
