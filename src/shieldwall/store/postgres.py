"""The hub's records in PostgreSQL, behind the same interface as :class:`SQLiteStore`.

One connection, owned by the hub's event loop, is the only writer. Several hub nodes
may open the same schema: the one holding the leader lease
(:mod:`shieldwall.store.lease`) writes, the others (standbys) only read. Every
statement that records an input or a stream event passes the fence (a trigger,
``pg_schema``): it refuses the write unless the session's epoch (:meth:`fence`) is the
lease's, inside the writer's own transaction, so a node that lost the lease can never
commit again. The connection runs in autocommit mode; :meth:`PostgresStore.transaction`
groups writes, and each write outside one commits on its own, as with SQLite. A
commit returns only once PostgreSQL has made it durable, so a ``kill -9`` of the hub
loses nothing that was acknowledged.

The URL's password never appears in ``repr``, messages or logs: only
:func:`~shieldwall.store.urls.redact`-ed URLs are shown.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import conninfo

from shieldwall.core.model import Consultation, Decision, Signal
from shieldwall.store import pg_bulk as bulk
from shieldwall.store import rows as records
from shieldwall.store.pg_schema import MIGRATIONS, VERSION_TABLE
from shieldwall.store.queries import Queries, StoreError, check_schema_version
from shieldwall.store.rows import DECISION_COLS, SIGNAL_COLS, marks
from shieldwall.store.urls import redact, scrub, where

log = logging.getLogger("shieldwall.store")
T = TypeVar("T")

PAGE = 10_000  # rows per round trip when reading the replay log
_LOCK_KEY = "SELECT hashtextextended('shieldwall-hub/' || current_database() || '/' || %s, 0)"
EPOCH_SETTING = "shieldwall.epoch"  # the session's fencing epoch, read by the fence


def _statements(migration: str | tuple[str, ...]) -> list[str]:
    parts = migration if isinstance(migration, tuple) else migration.split(";")
    return [p for p in parts if p.strip()]


@functools.cache
def _pg(sql: str) -> str:
    """``sql`` with psycopg's ``%s`` parameter markers for the shared ``?`` ones."""
    return sql.replace("?", "%s")


class PostgresStore(Queries):
    """The hub's records in one PostgreSQL schema. Not thread-safe: one owner calls it.

    ``lock_wait``: seconds to wait at open for another node that is migrating the
    schema. The queries shared with SQLite are in
    :class:`~shieldwall.store.queries.Queries`.
    """

    _MEMBER_ORDER = " ORDER BY applied_at, name"
    _INSERT_DECISIONS = (
        f"INSERT INTO decisions ({DECISION_COLS}) VALUES ({marks(13)}) ON CONFLICT (id) DO NOTHING"
    )
    _EVENT_DECISION_ID = (
        "(body::json ->> CASE kind WHEN 'decision' THEN 'id' ELSE 'decision_id' END)::bigint"
    )

    def __init__(self, url: str, *, lock_wait: float = 5.0, connect_timeout: int = 10) -> None:
        self._url = url
        self._where = redact(url)
        self._lock_wait = lock_wait
        self._connect_timeout = connect_timeout
        self._idle_timeout = 0.0
        self._schema = ""
        self._epoch: int | None = None
        # The last stream event id this session wrote (None: ask the store). Only the
        # leader writes events, so it need not read max(id) again for every commit.
        self._last_event: int | None = None
        # The last input number this session committed (a leader's progress, for health),
        # and the one its open transaction holds.
        self.written_input = 0
        self._writing = 0
        self._open = 0  # transactions open (transaction())
        # commit_later: the thread that finishes transactions, and the one under way.
        self._committer: ThreadPoolExecutor | None = None
        self._committer_id: int | None = None
        self._tail: Future[Any] | None = None
        self._conn = self._connect()
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r})"

    @property
    def path(self) -> str:
        """The store's URL without its password."""
        return self._where

    @property
    def schema(self) -> str:
        return self._schema

    def close(self) -> None:
        self._finish_tail()
        if self._committer is not None:
            self._committer.shutdown()
            self._committer = None
        self._conn.close()

    # -- commits finished on a thread of their own --------------------------------------

    commits_apart = True

    def commit_later(self, tail: Callable[[], T]) -> Future[T]:
        """Run ``tail`` (the rest of the open transaction, its commit included) on the
        commit thread; return at once.

        Most of a transaction's time is the server's (index upkeep, the WAL flush), not
        the hub's: meanwhile the hub reads and checks the next request. Only one tail is
        ever under way, the ones handed over after it wait their turn; every other use
        of the store waits for all of them first (:meth:`_db`), so nothing runs inside
        a transaction the commit thread is in.
        """
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="shieldwall-commit")
        future = self._committer.submit(self._run_tail, tail)
        self._tail = future
        return future

    def _run_tail(self, tail: Callable[[], T]) -> T:
        self._committer_id = threading.get_ident()
        # Pipelined: the statements go out without waiting for each other's results;
        # the commit thread waits for the server once or twice, not once a statement.
        with self._db.pipeline():
            return tail()

    def _finish_tail(self) -> None:
        """Wait for the tails handed over, unless called from the commit thread."""
        tail = self._tail  # the last handed over: the others are through before it
        if tail is None or tail.done() or threading.get_ident() == self._committer_id:
            return
        futures.wait((tail,))

    def reader(self) -> PostgresStore:
        """Another session, which never writes, for one other thread (checkpoints, archives)."""
        return self.reader_factory()()

    def reader_factory(self) -> functools.partial[PostgresStore]:
        # The URL (password included) goes to a child process through a pipe, never argv.
        return functools.partial(PostgresStore, self._url, lock_wait=self._lock_wait)

    # -- connection -------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            params = conninfo.conninfo_to_dict(self._url)
        except psycopg.Error as exc:
            raise StoreError(
                f"store URL {self._where!r} is not a valid PostgreSQL URL "
                f"({self._reason(exc)}): give postgresql://USER@HOST[:PORT]/DATABASE"
            ) from None
        # The pid tells an operator (pg_stat_activity) which node a session is.
        extra: dict[str, Any] = {"application_name": f"shieldwall-hub/{os.getpid()}"}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = self._connect_timeout
        try:
            conn = psycopg.connect(self._url, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {where(self._url)} ({self._reason(exc)}): "
                "start the server or fix the store URL ('hub init --store', setting 'store' "
                "in DIR/hub.toml, or SHIELDWALL_STORE)"
            ) from None
        try:
            self._session(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _session(self, conn: psycopg.Connection[Any]) -> None:
        """Find the schema; set the session's fencing epoch and idle timeout again."""
        row = conn.execute("SELECT current_schema()").fetchone()
        schema = row[0] if row else None
        if not schema:
            raise StoreError(
                f"{self._where}: no schema to create the hub's tables in (search_path names "
                "none that exists): create the schema, or fix options=-csearch_path in the URL"
            )
        self._schema = str(schema)
        self._set_epoch(conn)

    def _set_epoch(self, conn: psycopg.Connection[Any]) -> None:
        epoch = "" if self._epoch is None else str(self._epoch)
        # A writer paused inside a transaction (SIGSTOP) holds the lease row: the
        # server ends its session after the idle timeout, so a takeover can proceed.
        # (One paused in the middle of sending a statement is not idle, and no server timeout ends
        # it: the takeover does, Lease._end_stalled_writers.)
        idle = 0
        if self._epoch is not None and self._idle_timeout > 0:
            idle = max(1, round(self._idle_timeout * 1000))
        conn.execute(
            "SELECT set_config(%s, %s, false), "
            "set_config('idle_in_transaction_session_timeout', %s, false)",
            (EPOCH_SETTING, epoch, str(idle)),
        )

    def fence(self, epoch: int | None, idle_timeout: float = 0.0) -> None:
        """Write under the lease's ``epoch`` from now on (None: a standby, which never writes).

        The fence compares it with the lease inside every transaction that records.
        ``idle_timeout``: seconds after which the server ends this session if it sits
        idle inside a transaction (0: never), so that a paused writer cannot hold the
        lease row against a takeover.
        """
        self._epoch, self._idle_timeout = epoch, idle_timeout
        self._last_event = None  # another node may have written while this one did not
        self._set_epoch(self._db)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one consistent state of the records (REPEATABLE READ)."""
        db = self._db
        with db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield

    def _migration_lock(self, db: psycopg.Connection[Any]) -> None:
        """Wait (at most ``lock_wait`` s) for any other node migrating this schema."""
        key_row = db.execute(_LOCK_KEY, (self._schema,)).fetchone()
        key = int(key_row[0]) if key_row else 0
        deadline = time.monotonic() + self._lock_wait
        while True:
            got = db.execute("SELECT pg_try_advisory_xact_lock(%s)", (key,)).fetchone()
            if got and got[0]:
                return
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"{where(self._url)} schema {self._schema!r}: another hub has been "
                    f"migrating this schema for over {self._lock_wait:g}s: "
                    "wait for it to finish and start this one again"
                )
            time.sleep(0.2)

    def _reason(self, exc: BaseException) -> str:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        text = lines[0] if lines else type(exc).__name__
        text = " ".join(text.removeprefix("connection failed: ").split())
        return scrub(text, self._url)

    @property
    def _db(self) -> psycopg.Connection[Any]:
        """The connection; after it broke (server restart), a new one with the same epoch.

        First waits for a transaction the commit thread is finishing (commit_later).
        """
        self._finish_tail()
        if self._conn.broken or self._conn.closed:
            if self._conn.closed and not self._conn.broken:
                raise StoreError(f"store {self._where!r} is closed")
            log.warning("connection to %s lost: reconnecting", self._where)
            self._conn = self._connect()
        return self._conn

    # -- schema -----------------------------------------------------------------------

    def _version(self, db: psycopg.Connection[Any]) -> int:
        row = db.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{self._schema}.{VERSION_TABLE}",)
        ).fetchone()
        if not row or not row[0]:
            return 0
        found = db.execute(f"SELECT version FROM {VERSION_TABLE}").fetchone()
        return int(found[0]) if found else 0

    def _migrate(self) -> None:
        db = self._db
        version = self._version(db)
        check_schema_version(self._where, version, len(MIGRATIONS))
        if version == len(MIGRATIONS):
            return
        with db.transaction():
            self._migration_lock(db)  # held until this transaction ends
            version = self._version(db)  # another node may have migrated meanwhile
            for number in range(version, len(MIGRATIONS)):
                with db.transaction():
                    if number == 0:
                        db.execute(f"CREATE TABLE {VERSION_TABLE} (version INTEGER NOT NULL)")
                        db.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (0)")
                    for statement in _statements(MIGRATIONS[number]):
                        db.execute(statement.encode())
                    db.execute(f"UPDATE {VERSION_TABLE} SET version = %s", (number + 1,))
                log.info("%s: schema migrated to version %d", self._where, number + 1)

    @property
    def schema_version(self) -> int:
        return self._version(self._db)

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        db = self._db
        self._open += 1
        try:
            with db.transaction():
                yield db
        except BaseException:
            self._last_event = None  # the events it added were rolled back
            self._writing = 0
            raise
        finally:
            self._open -= 1
        if self._writing and not self._open:  # the outermost one committed
            self.written_input, self._writing = self._writing, 0

    # -- dialect hooks ------------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._db.execute(_pg(sql), params)

    def _runmany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        with self._db.cursor() as cur:
            cur.executemany(_pg(sql), params)

    def _insert(self, sql: str, params: Sequence[Any], key: str) -> int:
        return int(self._scalar(f"{sql} RETURNING {key}", params))

    def add_input(self, at: float, kind: str, payload: dict[str, Any]) -> int:
        seq = super().add_input(at, kind, payload)
        if self._open:
            self._writing = seq  # committed with the transaction (transaction())
        else:
            self.written_input = seq  # committed on its own
        return seq

    @staticmethod
    def _text(value: str) -> str:
        return bulk.text(value)

    # -- PostgreSQL's own ways: paged reads, one-statement batches, dense event ids -----

    def inputs(self) -> Iterator[tuple[int, float, str, dict[str, Any]]]:
        after = 0
        while True:
            rows = self._run(
                "SELECT seq, at, kind, payload FROM inputs WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, PAGE),
            ).fetchall()
            for seq, at, kind, payload in rows:
                yield seq, at, kind, json.loads(payload)
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def add_signals(self, input_seq: int, signals: Sequence[Signal], received_at: float) -> None:
        if len(signals) < bulk.FROM:
            super().add_signals(input_seq, signals, received_at)
            return
        self._db.execute(*bulk.signals(input_seq, signals, received_at))

    def signals_by_input(self) -> dict[int, list[Signal]]:
        """All stored signals grouped by the input that carried them (for replay)."""
        grouped: dict[int, list[Signal]] = {}
        after = 0
        while True:
            rows = self._run(
                f"SELECT id, input_seq, {SIGNAL_COLS} FROM signals "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (after, PAGE),
            ).fetchall()
            for _, seq, member, target, scenario, at, events in rows:
                grouped.setdefault(seq, []).append(Signal(member, target, scenario, at, events))
            if len(rows) < PAGE:
                return grouped
            after = rows[-1][0]

    def add_events(self, at: float, events: Sequence[tuple[str, str]]) -> list[int]:
        """Append (kind, json body) events; return their ids, in order.

        Ids are ``max(id) + 1, ...``: the fence makes the leader the only writer, and
        a rolled-back transaction leaves no gap (stream ids are dense).
        """
        if not events:
            return []
        base = self.last_event_id() if self._last_event is None else self._last_event
        ids = list(range(base + 1, base + 1 + len(events)))
        self._last_event = None  # unknown until this write is through
        statement = bulk.events(base, at, events) if len(events) >= bulk.FROM else None
        if statement is None:
            self._runmany(
                "INSERT INTO events (id, at, kind, body) VALUES (?, ?, ?, ?)",
                [
                    (i, at, self._text(kind), self._text(body))
                    for i, (kind, body) in zip(ids, events, strict=True)
                ],
            )
        else:
            self._db.execute(*statement)
        if self._epoch is not None:  # fenced: no other node writes events meanwhile
            self._last_event = ids[-1]
        return ids

    def put_decisions(self, decisions: Iterable[Decision]) -> None:
        params = [records.decision_params(d) for d in decisions]
        if len(params) < bulk.FROM:
            self._runmany(self._INSERT_DECISIONS, params)
        else:
            self._db.execute(*bulk.decisions(params))

    def put_consultations(
        self, consultations: Iterable[Consultation], bodies: Sequence[str]
    ) -> None:
        rows = list(consultations)
        if len(bodies) != len(rows):
            raise ValueError(f"{len(rows)} consultations but {len(bodies)} bodies")
        if len(rows) < bulk.FROM:
            super().put_consultations(rows, bodies)
        else:
            self._db.execute(*bulk.consultations(rows, bodies))
