"""The hub's embedded store: one SQLite file in the data directory.

WAL mode, one writer connection owned by this object (the hub's event loop), any
number of readers. Every accepted input and every issued decision is committed before
the hub answers, so a ``kill -9`` loses nothing that was acknowledged.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shieldwall.core.model import Signal
from shieldwall.store.queries import Queries, check_schema_version
from shieldwall.store.queries import StoreError as StoreError
from shieldwall.store.rows import DECISION_COLS, SIGNAL_COLS, marks
from shieldwall.store.schema import MIGRATIONS


class SQLiteStore(Queries):
    """The hub's records. Not thread-safe: one owner calls it.

    The queries shared with PostgreSQL are in :class:`~shieldwall.store.queries.Queries`.
    """

    _MEMBER_ORDER = ""
    _INSERT_DECISIONS = f"INSERT OR IGNORE INTO decisions ({DECISION_COLS}) VALUES ({marks(13)})"
    _EVENT_DECISION_ID = (
        "json_extract(body, CASE kind WHEN 'decision' THEN '$.id' ELSE '$.decision_id' END)"
    )

    def __init__(self, path: Path, *, synchronous: str = "NORMAL", read_only: bool = False) -> None:
        """Open (and migrate) the store; ``read_only``: open an existing file for reading.

        A read-only store never creates the file, runs no migration and never takes
        the write lock, so it can sit beside a running hub (offline exports).
        """
        self.path = Path(path)
        self.read_only = read_only
        try:
            if read_only:
                self._db = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {str(self.path)!r}: {exc}") from None
        if read_only:
            self._db.execute("PRAGMA busy_timeout=10000")
            return
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL survives a killed process (the WAL is written before commit returns);
        # FULL also survives power loss at the cost of an fsync per commit.
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def reader(self) -> SQLiteStore:
        """Another connection, read-only, for one other thread (checkpoints, archives)."""
        return self.reader_factory()()

    def reader_factory(self) -> functools.partial[SQLiteStore]:
        return functools.partial(SQLiteStore, self.path, read_only=True)

    # -- schema -------------------------------------------------------------------

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        check_schema_version(str(self.path), version, len(MIGRATIONS))
        for number in range(version, len(MIGRATIONS)):
            with self.transaction():
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number + 1}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- dialect hooks ----------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def _runmany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, params)

    def _insert(self, sql: str, params: Sequence[Any], key: str) -> int:
        return int(self._db.execute(sql, params).lastrowid or 0)

    # -- SQLite's own ways ------------------------------------------------------------

    def inputs(self) -> Iterator[tuple[int, float, str, dict[str, Any]]]:
        cur = self._db.execute("SELECT seq, at, kind, payload FROM inputs ORDER BY seq")
        for seq, at, kind, payload in cur:
            yield seq, at, kind, json.loads(payload)

    def signals_by_input(self) -> dict[int, list[Signal]]:
        """All stored signals grouped by the input that carried them (for replay)."""
        grouped: dict[int, list[Signal]] = {}
        cur = self._db.execute(f"SELECT input_seq, {SIGNAL_COLS} FROM signals ORDER BY id")
        for seq, member, target, scenario, at, events in cur:
            grouped.setdefault(seq, []).append(Signal(member, target, scenario, at, events))
        return grouped

    def add_events(self, at: float, events: Sequence[tuple[str, str]]) -> list[int]:
        """Append (kind, json body) events; return their ids, in order."""
        sql = "INSERT INTO events (at, kind, body) VALUES (?, ?, ?)"
        return [self._insert(sql, (at, kind, body), "id") for kind, body in events]
