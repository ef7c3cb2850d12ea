"""The agent's outbox: signals are committed to SQLite before anything is sent.

Detected offences and the log positions they were read up to are stored in one
transaction, so a killed agent resumes exactly where it stopped. Each send attempt
signs the batch with a fresh, increasing sequence number; rows leave the outbox only
once the hub has acknowledged them. A batch whose acknowledgement was lost is sent
again: the hub treats a repeated report as corroboration by the same member, which
changes nothing.

The agent calls it from several worker threads at once (one per log source, the
sender); one lock makes each call a unit, so no statement ever lands inside another
thread's transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from shieldwall.core.model import Signal

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        scenario TEXT NOT NULL,
        at REAL NOT NULL,
        events INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
)


class Outbox:
    def __init__(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, signals: Iterable[Signal], meta: dict[str, object] | None = None) -> int:
        """Store signals and ``meta`` (where each source has been read up to) atomically."""
        with self._lock:
            rows = [(s.target, s.scenario, s.at, s.events) for s in signals]
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if rows:
                    self._db.executemany(
                        "INSERT INTO outbox (target, scenario, at, events) VALUES (?, ?, ?, ?)",
                        rows,
                    )
                for key, value in (meta or {}).items():
                    self.set_json(key, value)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return len(rows)

    def pending(self, limit: int) -> list[tuple[int, dict[str, object]]]:
        """The oldest unsent signals as (row id, wire form)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, target, scenario, at, events FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
            return [
                (r[0], {"target": r[1], "scenario": r[2], "at": r[3], "events": r[4]}) for r in rows
            ]

    def acknowledge(self, ids: Sequence[int]) -> None:
        """The hub has these rows: remove them (one transaction)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def last_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()
            return int(row[0]) if row else 0

    def remember_seq(self, seq: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('seq', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(seq),),
            )

    def get_json(self, key: str) -> object:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else json.loads(row[0])

    def set_json(self, key: str, value: object) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )
