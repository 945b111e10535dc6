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
* **persistence**: :meth:`LogMiner.save` writes the drain3 state through a
  drain3 ``PersistenceHandler`` (atomic file replace) together with sentinel's
  own per-template metadata; a new miner on the same path resumes with the same
  template ids.  The state file is sentinel's own (jsonpickle inside, so load
  only files sentinel wrote).

>>> m = LogMiner()
>>> a = m.add("connect to 10.0.0.1 failed after 3 tries")
>>> b = m.add("connect to 10.0.0.7 failed after 5 tries")
>>> a.template_id == b.template_id, a.created, b.created
(True, True, False)
>>> m.template(a.template_id)
'connect to <IP> failed after <*> tries'
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from drain3 import TemplateMiner
from drain3.persistence_handler import PersistenceHandler
from drain3.template_miner_config import TemplateMinerConfig
from prometheus_client import CollectorRegistry

from sentinel.atomic import atomic_write
from sentinel.logs.masking import DEFAULT_MASKER, Masker
from sentinel.logs.metrics import logs_metrics

log = logging.getLogger(__name__)
logging.getLogger("drain3").setLevel(logging.WARNING)  # it logs every start and snapshot at INFO

OVERFLOW_ID = 0
"""Template id of lines that matched nothing once the template cap was reached."""

_STATE_VERSION = 1


class Mined(NamedTuple):
    """One mined line: its template id, and whether this line created the template."""

    template_id: int
    created: bool


class StateError(Exception):
    """A miner state file that cannot be read (one line; the file is left untouched)."""


class _AtomicFile(PersistenceHandler):
    """drain3 persistence into one JSON file, replaced atomically, with sentinel's metadata beside drain's state."""

    def __init__(self, path: Path, meta: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self._meta = meta
        self.loaded_meta: dict[str, Any] = {}

    def save_state(self, state: bytes) -> None:
        doc = {"version": _STATE_VERSION, "drain": base64.b64encode(state).decode("ascii"), "meta": self._meta()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, lambda f: f.write(json.dumps(doc).encode("utf-8")))

    def load_state(self) -> bytes | None:
        if not self.path.exists():
            return None
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("version") != _STATE_VERSION:
                raise StateError(f"{self.path}: unknown miner state version {doc.get('version')!r}")
            self.loaded_meta = dict(doc.get("meta") or {})
            return base64.b64decode(doc["drain"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateError(
                f"{self.path}: unreadable miner state ({exc.__class__.__name__}); move it away to start fresh"
            ) from None


class LogMiner:
    """Masks and mines log lines of one watch into templates (see the module doc).

    ``sim_th`` is drain's similarity threshold (share of equal constant tokens
    for a line to join a template) and ``depth`` its prefix-tree depth; the
    defaults were chosen on the labelled corpora of ``benchmarks/logs.py``.
    ``cache_size`` bounds the masked-line cache (0 disables it); it is cleared
    when full, which only costs speed.  ``masker`` defaults to the shared
    :data:`~sentinel.logs.masking.DEFAULT_MASKER` (one token cache per
    process).  The state file format is the one of the first release
    (drain3's snapshot + ``meta``; the caches are not saved), so older state
    files load unchanged.
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
        self._handler: _AtomicFile | None = None
        if state_path is not None:
            self._handler = _AtomicFile(Path(state_path), lambda: self.meta)
            self._tm.persistence_handler = self._handler
            self._tm.load_state()
            self.meta = self._handler.loaded_meta
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
        drain = self._drain
        tokens = drain.get_content_as_tokens(masked)
        matched = drain.tree_search(drain.root_node, tokens, drain.sim_th, False)
        if matched is not None:  # what drain.add_log_message does with a match, without searching again
            template = tuple(drain.create_template(tokens, matched.log_template_tokens))
            if template != matched.log_template_tokens:
                matched.log_template_tokens = template
            matched.size += 1
            cluster, created = matched, False
        else:
            cluster = drain.tree_search(drain.root_node, tokens, 1.0, True)
            created = cluster is None
            if created:
                if len(drain.id_to_cluster) >= self.max_templates:
                    self._overflow()
                    return Mined(OVERFLOW_ID, False)
                cluster, _ = drain.add_log_message(masked)
        if created:
            self._metrics.templates.labels(self.watch).set(len(drain.id_to_cluster))
        if self._cache_size:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[masked] = Mined(cluster.cluster_id, False)
        return Mined(cluster.cluster_id, created)

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
        """The current (masked) template text of ``template_id``."""
        if template_id == OVERFLOW_ID:
            return f"(lines past the cap of {self.max_templates} templates)"
        return str(self._drain.id_to_cluster[template_id].get_template())

    def templates(self) -> dict[int, str]:
        """Every template id -> its current text."""
        self.flush_metrics()
        return {int(cid): str(c.get_template()) for cid, c in self._drain.id_to_cluster.items()}

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
