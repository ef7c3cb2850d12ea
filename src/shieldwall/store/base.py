"""The store interface the hub types against: what ``SQLiteStore`` and
``PostgresStore`` both provide.

Exactly the calls the hub makes (secretariat, setup, views, decisions, the interop
source). One owner calls a store: it is not shared between threads or processes (the
commit thread of :meth:`Store.commit_later` excepted, which only ever runs while the
owner's next use waits for it).
Writes outside :meth:`Store.transaction` commit on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from shieldwall.core.model import Consultation, Decision, Dispute, Revocation, Signal

if TYPE_CHECKING:
    from shieldwall.store.retained import CheckpointRow

T = TypeVar("T")

MemberRow = tuple[str, str, list[str], float, int, dict[str, Any] | None]


class Store(Protocol):
    @property
    def path(self) -> Path | str:
        """Where the records live, for messages (a file, or a URL without its password)."""
        ...

    @property
    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def reader(self) -> Store:
        """Another connection to the same records, for reading from one other thread."""
        ...

    def reader_factory(self) -> Callable[[], Store]:
        """What opens :meth:`reader` anew, picklable: for a reader in another process."""
        ...

    def transaction(self) -> AbstractContextManager[object]:
        """All writes inside commit together, or none does (the block raised)."""
        ...

    @property
    def commits_apart(self) -> bool:
        """Whether :meth:`commit_later` returns before the tail has run."""
        ...

    def commit_later(self, tail: Callable[[], T]) -> Future[T]:
        """Run ``tail``, the rest of an open transaction ending with its commit.

        SQLite runs it at once. PostgreSQL runs it on a commit thread of its own and
        returns at once, so the caller works on while the server writes; the store's
        next use from any other thread waits for the tail first.
        """
        ...

    # -- meta -----------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    # -- members --------------------------------------------------------------------

    def add_member(
        self,
        name: str,
        public_key: str,
        addresses: Sequence[str],
        at: float,
        *,
        external: bool = False,
    ) -> None: ...

    def member_rows(self) -> list[MemberRow]: ...

    def external_members(self) -> list[str]: ...

    def set_last_seq(self, name: str, seq: int) -> None: ...

    def set_policy(self, name: str, policy: dict[str, Any]) -> None: ...

    # -- inputs (the council's replay log) ------------------------------------------

    def add_input(self, at: float, kind: str, payload: dict[str, Any]) -> int: ...

    def inputs(self) -> Iterator[tuple[int, float, str, dict[str, Any]]]: ...

    def add_signals(
        self, input_seq: int, signals: Sequence[Signal], received_at: float
    ) -> None: ...

    def signals_by_input(self) -> dict[int, list[Signal]]: ...

    def signals_of_input(self, input_seq: int) -> list[Signal]: ...

    def inputs_after(self, after: int, limit: int = 500) -> list[tuple[int, float, str, str]]:
        """Inputs with ``seq > after``, oldest first, payloads as stored (the bus pump)."""
        ...

    def last_input_seq(self) -> int: ...

    def signals_after(self, input_seq: int, most: int) -> int:
        """How many signals the inputs after ``input_seq`` carried, up to ``most``."""
        ...

    def member_entry(self, name: str) -> tuple[str, bool] | None:
        """(public key, external) of a member or partner, None if unknown."""
        ...

    # -- outputs --------------------------------------------------------------------

    def put_decisions(self, decisions: Iterable[Decision]) -> None: ...

    def put_revocations(self, revocations: Iterable[Revocation]) -> None: ...

    def put_consultations(
        self, consultations: Iterable[Consultation], bodies: Sequence[str]
    ) -> None: ...

    def add_disputes(self, disputes: Iterable[Dispute]) -> list[int]: ...

    def disputes(self, limit: int = 1000) -> list[dict[str, Any]]: ...

    # -- history --------------------------------------------------------------------

    def decision(self, decision_id: int) -> Decision | None: ...

    def decision_row(self, decision_id: int) -> dict[str, Any] | None: ...

    def stored_targets(self, table: str, after: int | None = None) -> list[tuple[int, str]]: ...

    def decisions_issued_since(self, since: float) -> list[Decision]: ...

    def decisions_expired_between(self, since: float, until: float) -> list[Decision]: ...

    def revocation(self, decision_id: int) -> Revocation | None: ...

    def revocations_since(self, since: float) -> list[Revocation]: ...

    def signals_since(self, since: float) -> list[Signal]: ...

    def decision_event_refs(self, after: int, upto: int) -> list[tuple[int, str, int]]: ...

    # -- what the console reads -----------------------------------------------------

    def inputs_before(
        self, before: float, kinds: Sequence[str], limit: int
    ) -> list[tuple[int, float, str, str]]: ...

    def events_before(self, before: float, limit: int) -> list[tuple[int, float, str, str]]: ...

    def disputes_before(self, before: float, limit: int) -> list[dict[str, Any]]: ...

    def decisions_on(self, targets: Sequence[str], limit: int) -> list[Decision]: ...

    def decisions_by(self, member: str, limit: int) -> list[Decision]: ...

    def signals_on(self, targets: Sequence[str], limit: int) -> list[Signal]: ...

    def signals_by(self, member: str, limit: int) -> list[Signal]: ...

    def times_since(self, table: str, since: float, limit: int) -> list[tuple[float, str]]: ...

    # -- the stream's log -----------------------------------------------------------

    def add_events(self, at: float, events: Sequence[tuple[str, str]]) -> list[int]: ...

    def events_after(self, after: int, limit: int = 10000) -> list[tuple[int, float, str, str]]: ...

    def last_event_id(self) -> int: ...

    # -- checkpoints and retention (store/retained.py) --------------------------------

    def put_checkpoint(self, row: CheckpointRow, blob: bytes, keep: int = ...) -> None: ...

    def checkpoints(self) -> list[CheckpointRow]: ...

    def checkpoint_blob(self, seq: int) -> bytes | None: ...

    def pruned_input(self) -> int: ...

    def pruned_event(self) -> int: ...

    def last_input_before(self, at: float) -> int: ...

    def last_event_before(self, at: float) -> int: ...

    def signals_between(self, after: int, upto: int) -> list[tuple[int, Signal]]: ...

    def prune(self, inputs_upto: int, events_upto: int) -> tuple[int, int]: ...
