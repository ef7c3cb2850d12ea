"""The leader lease of a hub's nodes on one PostgreSQL schema.

One row (``shieldwall_lease``, migration 3 of ``pg_schema``) names the holder, the URL
its API answers on, the fencing epoch and when the lease expires. Every time is the
database's (``now()``), never a node's: nodes whose clocks disagree still agree on
who leads. The epoch rises on every takeover, so each leader writes under its own
number, and the fence refuses any commit made under an older one.

What the lease guarantees: at most one node commits under the current epoch, and
a takeover waits for a commit in flight to end (the fence holds the row FOR SHARE
until its transaction ends), unless that commit has stalled for longer than a lease
under a lapsed lease: then the takeover ends its session and the commit is aborted. What it does not: a node does not learn at once that it
lost the lease; it learns at its next renewal or its next commit, which is refused.

Each :class:`Lease` has its own connection (not the store's), so renewing never
waits for the writer; a statement on it gives up after ``timeout`` seconds.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import psycopg

from shieldwall.store.pg_schema import LEASE_TABLE
from shieldwall.store.queries import StoreError
from shieldwall.store.urls import scrub, where

log = logging.getLogger("shieldwall.store")


@dataclass(frozen=True)
class LeaseState:
    holder: str  # "" before any node ever led
    url: str
    epoch: int
    remaining: float  # seconds until it lapses, by the database's clock; <= 0: lapsed


class Lease:
    """Acquire, renew and read the lease as node ``node`` advertising ``url``.

    Not thread-safe: one owner calls it (the hub runs it in a worker thread).
    """

    def __init__(
        self, store_url: str, node: str, url: str, ttl: float, timeout: float | None = None
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"lease time {ttl!r} must be above zero seconds")
        self._url = store_url
        self.node = node
        self.advertise = url
        self.ttl = ttl
        self._timeout = timeout if timeout is not None else max(0.5, ttl / 2)
        self._conn: psycopg.Connection[Any] | None = None

    def __repr__(self) -> str:
        return f"Lease(node={self.node!r}, ttl={self.ttl!r})"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _db(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self.close()
        try:
            conn = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=max(1, round(self._timeout)),
                application_name=f"shieldwall-lease/{os.getpid()}",
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot reach PostgreSQL at {where(self._url)} for the leader lease "
                f"({self._reason(exc)})"
            ) from None
        millis = max(1, round(self._timeout * 1000))
        # A takeover waiting for the lease row gives up before the statement would,
        # and learns why (LockNotAvailable): see _end_stalled_writers.
        conn.execute(
            "SELECT set_config('statement_timeout', %s, false), "
            "set_config('lock_timeout', %s, false)",
            (str(millis), str(max(1, millis // 2))),
        )
        self._conn = conn
        return conn

    def _reason(self, exc: BaseException) -> str:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        return scrub(lines[0] if lines else type(exc).__name__, self._url)

    def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        try:
            return self._db().execute(sql, params).fetchone()
        except psycopg.Error as exc:
            self.close()  # a fresh connection next time
            raise StoreError(
                f"the leader lease at {where(self._url)} could not be read or written "
                f"({self._reason(exc)})"
            ) from None

    def acquire(self) -> int | None:
        """Take the lease if it lapsed (or was never held); the new epoch, or None."""
        try:
            row = (
                self._db()
                .execute(
                    f"UPDATE {LEASE_TABLE} SET holder = %s, url = %s, epoch = epoch + 1, "
                    "expires_at = now() + make_interval(secs => %s) "
                    "WHERE id = 1 AND expires_at <= now() RETURNING epoch",
                    (self.node, self.advertise, self.ttl),
                )
                .fetchone()
            )
        except psycopg.errors.LockNotAvailable:
            self._end_stalled_writers()
            return None  # the next attempt finds the row free
        except psycopg.Error as exc:
            self.close()
            raise StoreError(
                f"the leader lease at {where(self._url)} could not be taken ({self._reason(exc)})"
            ) from None
        return None if row is None else int(row[0])

    def _end_stalled_writers(self) -> None:
        """End the sessions of writers still inside a commit under a lease that lapsed.

        A commit holds the lease row FOR SHARE (the fence) until it ends, and a takeover
        waits for it. A writer paused while idle in its transaction is ended by the
        server (its idle timeout); one paused in the middle of a statement (one it
        has not finished sending) is not, and would block every takeover
        for as long as it stays paused. Once its lease has lapsed and its transaction
        has been open for longer than a lease, its session is ended: the commit is
        aborted, never acknowledged. A commit still moving is waited for.
        """
        try:
            rows = (
                self._db()
                .execute(
                    "SELECT l.pid, pg_terminate_backend(l.pid) FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE a.datname = current_database() AND l.locktype = 'relation' "
                    "AND l.relation = to_regclass(%s) AND l.mode = 'RowShareLock' "
                    "AND l.granted AND l.pid <> pg_backend_pid() "
                    "AND a.xact_start < now() - make_interval(secs => %s) AND EXISTS ("
                    f"SELECT 1 FROM {LEASE_TABLE} WHERE id = 1 AND expires_at <= now())",
                    (LEASE_TABLE, self.ttl),
                )
                .fetchall()
            )
        except psycopg.Error as exc:
            self.close()
            raise StoreError(
                f"the leader lease at {where(self._url)} is held by a commit that does not "
                f"end, and its session could not be ended ({self._reason(exc)}): give every "
                "node the same database role, or one granted pg_signal_backend"
            ) from None
        for pid, ended in rows:
            if ended:
                log.warning(
                    "ended database session %d: a commit under the lapsed lease was stalled "
                    "and held up the takeover",
                    pid,
                )

    def renew(self, epoch: int) -> bool:
        """Extend the lease held under ``epoch``; False if another node took it over."""
        row = self._one(
            f"UPDATE {LEASE_TABLE} SET expires_at = now() + make_interval(secs => %s) "
            "WHERE id = 1 AND holder = %s AND epoch = %s RETURNING epoch",
            (self.ttl, self.node, epoch),
        )
        return row is not None

    def release(self, epoch: int) -> None:
        """Let the lease lapse now (a clean stop), so a standby takes over at once."""
        self._one(
            f"UPDATE {LEASE_TABLE} SET expires_at = now() "
            "WHERE id = 1 AND holder = %s AND epoch = %s RETURNING epoch",
            (self.node, epoch),
        )

    def state(self) -> LeaseState:
        row = self._one(
            "SELECT holder, url, epoch, CASE WHEN isfinite(expires_at) "
            "THEN extract(epoch FROM expires_at - now())::float8 END "
            f"FROM {LEASE_TABLE} WHERE id = 1",
            (),
        )
        if row is None:
            raise StoreError(f"{where(self._url)}: the lease row is missing: restore the schema")
        remaining = float(row[3]) if row[3] is not None else float("-inf")
        return LeaseState(str(row[0]), str(row[1]), int(row[2]), remaining)
