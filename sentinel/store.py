"""The local store: event log, alert state, watch cursors (SQLite).

One SQLite file (WAL mode, so a reader never blocks the daemon) holds what
must survive a crash:

- ``events``: every alert transition, for the console, reports and feedback;
- ``alerts``: the notifier's desired alert state (firing, and resolved within
  the retention), so a restart re-sends exactly what Alertmanager must know;
- ``cursors``: per watch, the last timestamp processed, so a restart fills
  the gap instead of re-learning or skipping;
- ``feedback``: series an operator marked as false positives (muted).

Model checkpoints are files under ``models_dir`` (see
:mod:`sentinel.detect.persist`); the store only says where.

>>> s = Store(":memory:")
>>> s.set_cursor("w", 120); s.cursor("w")
120
>>> s.cursor("other") is None
True
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sentinel.alerting.event import AlertEvent
from sentinel.series import Labels, labels_key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL, watch TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    labels TEXT NOT NULL, starts_at INTEGER NOT NULL, severity TEXT NOT NULL, doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_watch_at ON events (watch, at);
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY, doc TEXT NOT NULL, ends_at INTEGER, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (watch TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    watch TEXT NOT NULL, labels TEXT NOT NULL, note TEXT, at REAL NOT NULL, PRIMARY KEY (watch, labels)
);
"""


def _labels_json(labels: Labels) -> str:
    return json.dumps(dict(labels), sort_keys=True)


class Store:
    """SQLite-backed state that must outlive the process (thread-safe)."""

    def __init__(self, path: str | Path = "sentinel.db", models_dir: str | Path = "models") -> None:
        self.path = str(path)
        self.models_dir = Path(models_dir)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite already rolled back a full disk's write: keep *that* error
                    self._db.execute("ROLLBACK")
                raise

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- events -----------------------------------------------------------------
    def add_events(self, events: Iterable[AlertEvent]) -> None:
        """Append alert transitions to the event log (one transaction)."""
        self._write(
            "INSERT INTO events (at, watch, kind, status, labels, starts_at, severity, doc) VALUES (?,?,?,?,?,?,?,?)",
            (
                (e.at, e.watch, e.kind, e.status, _labels_json(e.labels), e.starts_at, e.severity,
                 json.dumps(asdict(e), default=float))
                for e in events
            ),
        )

    def events(self, watch: str | None = None, since: int | None = None) -> Iterator[AlertEvent]:
        """Alert transitions in time order, optionally for one watch / since a time."""
        sql, args = "SELECT doc FROM events WHERE 1=1", []
        if watch is not None:
            sql, args = sql + " AND watch = ?", [*args, watch]
        if since is not None:
            sql, args = sql + " AND at >= ?", [*args, since]
        for (doc,) in self._read(sql + " ORDER BY at, id", tuple(args)):
            d = json.loads(doc)
            d["labels"] = labels_key(d["labels"])
            yield AlertEvent(**d)

    def prune_events(self, before: int) -> None:
        self._write("DELETE FROM events WHERE at < ?", [(before,)])

    # -- notifier state ---------------------------------------------------------
    def put_alerts(self, docs: Iterable[tuple[str, dict[str, Any], int | None]]) -> None:
        """Upsert alert documents ``(key, doc, ends_at)``; ``ends_at`` None = firing."""
        now = time.time()
        self._write(
            "INSERT INTO alerts (key, doc, ends_at, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT(key) DO UPDATE SET doc=excluded.doc, ends_at=excluded.ends_at, updated_at=excluded.updated_at",
            ((k, json.dumps(d, sort_keys=True), e, now) for k, d, e in docs),
        )

    def alerts(self) -> list[tuple[str, dict[str, Any], int | None]]:
        """Every stored alert document as ``(key, doc, ends_at)``."""
        return [(k, json.loads(d), e) for k, d, e in self._read("SELECT key, doc, ends_at FROM alerts ORDER BY key")]

    def drop_alerts(self, resolved_before: int) -> None:
        """Forget resolved alerts that ended before ``resolved_before``."""
        self._write("DELETE FROM alerts WHERE ends_at IS NOT NULL AND ends_at < ?", [(resolved_before,)])

    # -- cursors ----------------------------------------------------------------
    def cursor(self, watch: str) -> int | None:
        rows = self._read("SELECT at FROM cursors WHERE watch = ?", (watch,))
        return int(rows[0][0]) if rows else None

    def set_cursor(self, watch: str, at: int) -> None:
        self._write(
            "INSERT INTO cursors (watch, at) VALUES (?,?) ON CONFLICT(watch) DO UPDATE SET at=excluded.at",
            [(watch, int(at))],
        )

    # -- feedback ---------------------------------------------------------------
    def mark_false_positive(self, watch: str, labels: Labels, note: str = "") -> None:
        """Remember that alerts on this series were false positives (mutes them)."""
        self._write(
            "INSERT OR REPLACE INTO feedback (watch, labels, note, at) VALUES (?,?,?,?)",
            [(watch, _labels_json(labels), note, time.time())],
        )

    def muted(self, watch: str) -> set[Labels]:
        rows = self._read("SELECT labels FROM feedback WHERE watch = ?", (watch,))
        return {labels_key(json.loads(r[0])) for r in rows}

    def checkpoint_dir(self, watch: str) -> Path:
        """Where a watch's model checkpoint lives."""
        return self.models_dir / watch
