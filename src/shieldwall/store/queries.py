"""The queries both stores run, written once.

SQL here uses ``?`` for parameters; each store's :meth:`Queries._run` translates it
to its driver's style. What differs between SQLite and PostgreSQL (how a new row's id
comes back, how a batch is sent, the JSON accessor, upsert spelling, what text may
hold) is a hook or a class constant the store defines; everything else lives here.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, ClassVar, Protocol, TypeVar

from shieldwall.core.model import Consultation, Decision, Dispute, Revocation, Signal
from shieldwall.store import rows
from shieldwall.store.base import MemberRow
from shieldwall.store.retained import RetainedQueries
from shieldwall.store.rows import (
    DECISION_COLS,
    DISPUTE_KEYS,
    MEMBER_COLS,
    REVOCATION_COLS,
    SIGNAL_COLS,
    SIGNAL_INSERT_COLS,
    TABLES,
    dumps,
    marks,
)

T = TypeVar("T")

INSERT_SIGNALS = f"INSERT INTO signals ({SIGNAL_INSERT_COLS}) VALUES ({marks(7)})"


class StoreError(RuntimeError):
    """The store cannot be opened or is from an incompatible version."""


def check_schema_version(where: str, version: int, known: int) -> None:
    """Refuse a store whose schema ``version`` is newer than the ``known`` migrations."""
    if version > known:
        raise StoreError(
            f"database {where!r} has schema version {version}, newer than this "
            f"shieldwall understands ({known}): upgrade shieldwall"
        )


class Cursor(Protocol):
    """What both drivers' cursors offer and the shared queries use."""

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Queries(RetainedQueries):
    """The store methods whose SQL and row mapping are the same in both dialects."""

    _MEMBER_ORDER: ClassVar[str]
    """Appended to the member listing (an ``ORDER BY`` clause, or nothing)."""
    _INSERT_DECISIONS: ClassVar[str]
    """Insert one row of :data:`DECISION_COLS`, skipping an id already stored."""
    _EVENT_DECISION_ID: ClassVar[str]
    """SQL for the decision id an event's JSON ``body`` refers to (by ``kind``)."""

    # -- dialect hooks --------------------------------------------------------------

    @abstractmethod
    def _run(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Execute ``sql`` (``?`` parameters) on the writer connection."""

    @abstractmethod
    def _runmany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """Execute ``sql`` (``?`` parameters) once per row of ``params``."""

    @abstractmethod
    def _insert(self, sql: str, params: Sequence[Any], key: str) -> int:
        """Run an ``INSERT`` of one row and return its generated ``key`` column."""

    @staticmethod
    def _text(value: str) -> str:
        """``value`` as the store can hold it in a text column."""
        return value

    commits_apart = False

    def commit_later(self, tail: Callable[[], T]) -> Future[T]:
        """Run ``tail`` (the rest of an open transaction, its commit included) now.

        A store whose server works apart from the hub overrides this to run the tail
        on a thread of its own (:class:`~shieldwall.store.postgres.PostgresStore`).
        """
        done: Future[T] = Future()
        try:
            done.set_result(tail())
        except Exception as exc:
            done.set_exception(exc)
        return done

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self._run(sql, params).fetchone()
        return None if row is None else row[0]

    # -- meta -----------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        value = self._scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        self._run(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, self._text(value)),
        )

    # -- members --------------------------------------------------------------------

    def add_member(
        self,
        name: str,
        public_key: str,
        addresses: Sequence[str],
        at: float,
        *,
        external: bool = False,
    ) -> None:
        self._run(
            "INSERT INTO members (name, public_key, addresses, applied_at, external) "
            f"VALUES ({marks(5)})",
            (self._text(name), self._text(public_key), dumps(list(addresses)), at, int(external)),
        )

    def member_rows(self) -> list[MemberRow]:
        """Members with a key (external partners have none and are listed apart)."""
        cur = self._run(f"SELECT {MEMBER_COLS} FROM members WHERE external = 0{self._MEMBER_ORDER}")
        return [rows.member_row(r) for r in cur.fetchall()]

    def set_last_seq(self, name: str, seq: int) -> None:
        self._run("UPDATE members SET last_seq = ? WHERE name = ?", (seq, name))

    def set_policy(self, name: str, policy: dict[str, Any]) -> None:
        self._run("UPDATE members SET policy = ? WHERE name = ?", (dumps(policy), name))

    def external_members(self) -> list[str]:
        """Names of external partners: members of the council that cannot log in."""
        cur = self._run("SELECT name FROM members WHERE external = 1 ORDER BY name")
        return [str(r[0]) for r in cur]

    # -- inputs (the council's replay log) --------------------------------------------

    def add_input(self, at: float, kind: str, payload: dict[str, Any]) -> int:
        return self._insert(
            "INSERT INTO inputs (at, kind, payload) VALUES (?, ?, ?)",
            (at, kind, dumps(payload)),
            "seq",
        )

    def add_signals(self, input_seq: int, signals: Sequence[Signal], received_at: float) -> None:
        self._runmany(
            INSERT_SIGNALS, [rows.signal_params(input_seq, s, received_at) for s in signals]
        )

    def inputs_after(self, after: int, limit: int = 500) -> list[tuple[int, float, str, str]]:
        """Recorded inputs with ``seq > after``, oldest first, payloads as stored (JSON)."""
        cur = self._run(
            "SELECT seq, at, kind, payload FROM inputs WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [(int(r[0]), float(r[1]), str(r[2]), str(r[3])) for r in cur.fetchall()]

    def last_input_seq(self) -> int:
        return int(self._scalar("SELECT coalesce(max(seq), 0) FROM inputs"))

    def member_entry(self, name: str) -> tuple[str, bool] | None:
        """(public key, external) of a member or partner, None if unknown."""
        row = self._run(
            "SELECT public_key, external FROM members WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else (str(row[0]), bool(row[1]))

    def signals_of_input(self, input_seq: int) -> list[Signal]:
        cur = self._run(
            f"SELECT {SIGNAL_COLS} FROM signals WHERE input_seq = ? ORDER BY id", (input_seq,)
        )
        return [Signal(*r) for r in cur.fetchall()]

    def signals_after(self, input_seq: int, most: int) -> int:
        """How many signals the inputs after ``input_seq`` carried (what a replay from
        there applies), counted up to ``most`` at most: the answer costs no more."""
        return int(
            self._scalar(
                "SELECT count(*) FROM (SELECT 1 FROM signals WHERE input_seq > ? LIMIT ?) AS s",
                (input_seq, most),
            )
        )

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}")
        return int(self._scalar(f"SELECT count(*) FROM {table}"))

    # -- outputs ----------------------------------------------------------------------

    def put_decisions(self, decisions: Iterable[Decision]) -> None:
        self._runmany(self._INSERT_DECISIONS, [rows.decision_params(d) for d in decisions])

    def put_revocations(self, revocations: Iterable[Revocation]) -> None:
        self._runmany(
            "UPDATE decisions SET revoked_at = ?, revoked_by = ?, revoke_reason = ?, "
            "revoke_clause = ? WHERE id = ? AND revoked_at IS NULL",
            [
                (r.at, self._text(r.by), self._text(r.reason), r.clause, r.decision_id)
                for r in revocations
            ],
        )

    def put_consultations(
        self, consultations: Iterable[Consultation], bodies: Sequence[str]
    ) -> None:
        self._runmany(
            f"INSERT INTO consultations (id, target, scenario, status, body) VALUES ({marks(5)}) "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
            [
                (c.id, c.target, c.scenario, c.status, body)
                for c, body in zip(consultations, bodies, strict=True)
            ],
        )

    def add_disputes(self, disputes: Iterable[Dispute]) -> list[int]:
        return [
            self._insert(
                "INSERT INTO disputes (member, target, scenario, at, protected, reason) "
                f"VALUES ({marks(6)})",
                (
                    d.member,
                    d.target,
                    d.scenario,
                    d.at,
                    self._text(d.protected),
                    self._text(d.reason),
                ),
                "id",
            )
            for d in disputes
        ]

    def disputes(self, limit: int = 1000) -> list[dict[str, Any]]:
        cur = self._run(
            f"SELECT {', '.join(DISPUTE_KEYS)} FROM disputes ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [dict(zip(DISPUTE_KEYS, r, strict=True)) for r in cur.fetchall()]

    # -- history (interoperability: TAXII, bouncer deltas) -------------------------------

    def decision(self, decision_id: int) -> Decision | None:
        row = self._run(
            f"SELECT {DECISION_COLS} FROM decisions WHERE id = ?", (decision_id,)
        ).fetchone()
        return None if row is None else next(iter(rows.decisions([row])), None)

    def _decisions(self, where: str, params: Sequence[Any]) -> list[Decision]:
        cur = self._run(f"SELECT {DECISION_COLS} FROM decisions WHERE {where} ORDER BY id", params)
        return rows.decisions(cur)

    def active_decisions(self, now: float) -> list[Decision]:
        """Decisions issued by ``now``, not yet expired and not revoked, by id."""
        return self._decisions(
            "revoked_at IS NULL AND issued_at <= ? AND expires_at > ?", (now, now)
        )

    def decisions_issued_since(self, since: float) -> list[Decision]:
        """Decisions issued at or after ``since`` (active, expired or revoked), by id."""
        return self._decisions("issued_at >= ?", (since,))

    def decisions_expired_between(self, since: float, until: float) -> list[Decision]:
        """Decisions never revoked whose expiry lies in ``(since, until]``, by id."""
        return self._decisions(
            "expires_at > ? AND expires_at <= ? AND revoked_at IS NULL", (since, until)
        )

    def revocation(self, decision_id: int) -> Revocation | None:
        row = self._run(
            f"SELECT {REVOCATION_COLS} FROM decisions WHERE id = ? AND revoked_at IS NOT NULL",
            (decision_id,),
        ).fetchone()
        return None if row is None else next(iter(rows.revocations([row])), None)

    def revocations_since(self, since: float) -> list[Revocation]:
        """Revocations recorded at or after ``since``, in the order they happened."""
        cur = self._run(
            f"SELECT {REVOCATION_COLS} FROM decisions WHERE revoked_at IS NOT NULL "
            "AND revoked_at >= ? ORDER BY revoked_at, id",
            (since,),
        )
        return rows.revocations(cur)

    def signals_since(self, since: float) -> list[Signal]:
        """Signals reported at or after ``since``, in the order they were received."""
        cur = self._run(f"SELECT {SIGNAL_COLS} FROM signals WHERE at >= ? ORDER BY id", (since,))
        return rows.signals(cur)

    def decision_event_refs(self, after: int, upto: int) -> list[tuple[int, str, int]]:
        """(event id, kind, decision id) of decision/revocation events in ``(after, upto]``."""
        cur = self._run(
            f"SELECT id, kind, {self._EVENT_DECISION_ID} FROM events WHERE id > ? AND id <= ? "
            "AND kind IN ('decision', 'revocation') ORDER BY id",
            (after, upto),
        )
        return [(int(i), str(k), int(d)) for i, k, d in cur]

    def stored_targets(self, table: str, after: int | None = None) -> list[tuple[int, str]]:
        """(id, target) of every stored decision or consultation (with ``id > after``),
        for the start-up check."""
        if table not in ("decisions", "consultations"):
            raise ValueError(f"no targets in table {table!r}")
        if after is None:
            return [(int(i), str(t)) for i, t in self._run(f"SELECT id, target FROM {table}")]
        cur = self._run(f"SELECT id, target FROM {table} WHERE id > ?", (after,))
        return [(int(i), str(t)) for i, t in cur]

    def decision_row(self, decision_id: int) -> dict[str, Any] | None:
        cur = self._run("SELECT * FROM decisions WHERE id = ?", (decision_id,))
        row = cur.fetchone()
        if row is None or cur.description is None:
            return None
        names = [c[0] for c in cur.description]
        found = dict(zip(names, row, strict=True))
        return found if rows.canonical_target(found.get("target")) else None

    # -- what the console reads (activity, look-up, detail views) ----------------------

    def inputs_before(
        self, before: float, kinds: Sequence[str], limit: int
    ) -> list[tuple[int, float, str, str]]:
        """The newest inputs of ``kinds`` recorded before ``before``, newest first."""
        cur = self._run(
            f"SELECT seq, at, kind, payload FROM inputs WHERE at < ? AND kind IN "
            f"({marks(len(kinds))}) ORDER BY seq DESC LIMIT ?",
            (before, *kinds, limit),
        )
        return [(int(r[0]), float(r[1]), str(r[2]), str(r[3])) for r in cur]

    def events_before(self, before: float, limit: int) -> list[tuple[int, float, str, str]]:
        """The newest stream events recorded before ``before``, newest first."""
        cur = self._run(
            "SELECT id, at, kind, body FROM events WHERE at < ? ORDER BY id DESC LIMIT ?",
            (before, limit),
        )
        return [(int(r[0]), float(r[1]), str(r[2]), str(r[3])) for r in cur]

    def disputes_before(self, before: float, limit: int) -> list[dict[str, Any]]:
        cur = self._run(
            f"SELECT {', '.join(DISPUTE_KEYS)} FROM disputes WHERE at < ? ORDER BY id DESC LIMIT ?",
            (before, limit),
        )
        return [dict(zip(DISPUTE_KEYS, r, strict=True)) for r in cur.fetchall()]

    def decisions_on(self, targets: Sequence[str], limit: int) -> list[Decision]:
        """The newest decisions on any of ``targets`` (exact text), newest first."""
        if not targets:
            return []
        cur = self._run(
            f"SELECT {DECISION_COLS} FROM decisions WHERE target IN ({marks(len(targets))}) "
            "ORDER BY id DESC LIMIT ?",
            (*targets, limit),
        )
        return rows.decisions(cur)

    def decisions_by(self, member: str, limit: int) -> list[Decision]:
        """The newest decisions ``member`` contributed to, newest first."""
        # members is a JSON list of names; the quoted name, its LIKE wildcards escaped.
        quoted = dumps(member).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        cur = self._run(
            f"SELECT {DECISION_COLS} FROM decisions WHERE members LIKE ? ESCAPE '\\' "
            "ORDER BY id DESC LIMIT ?",
            (f"%{quoted}%", limit),
        )
        return rows.decisions(cur)

    def signals_on(self, targets: Sequence[str], limit: int) -> list[Signal]:
        """The newest signals against any of ``targets``, newest first."""
        if not targets:
            return []
        cur = self._run(
            f"SELECT {SIGNAL_COLS} FROM signals WHERE target IN ({marks(len(targets))}) "
            "ORDER BY id DESC LIMIT ?",
            (*targets, limit),
        )
        return rows.signals(cur)

    def signals_by(self, member: str, limit: int) -> list[Signal]:
        """The newest signals ``member`` reported, newest first."""
        cur = self._run(
            f"SELECT {SIGNAL_COLS} FROM signals WHERE member = ? ORDER BY id DESC LIMIT ?",
            (member, limit),
        )
        return rows.signals(cur)

    def times_since(self, table: str, since: float, limit: int) -> list[tuple[float, str]]:
        """(time, scenario) of the newest ``limit`` signals or decisions since ``since``."""
        column = {"signals": "at", "decisions": "issued_at"}.get(table)
        if column is None:
            raise ValueError(f"no times for table {table!r}: use signals or decisions")
        cur = self._run(
            f"SELECT {column}, scenario FROM {table} WHERE {column} >= ? "
            f"ORDER BY {column} DESC LIMIT ?",
            (since, limit),
        )
        return [(float(r[0]), str(r[1])) for r in cur]

    # -- the stream's log ---------------------------------------------------------------

    def events_after(self, after: int, limit: int = 10000) -> list[tuple[int, float, str, str]]:
        cur = self._run(
            "SELECT id, at, kind, body FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (after, limit),
        )
        return [(int(r[0]), float(r[1]), str(r[2]), str(r[3])) for r in cur]

    def last_event_id(self) -> int:
        return int(self._scalar("SELECT coalesce(max(id), 0) FROM events"))
