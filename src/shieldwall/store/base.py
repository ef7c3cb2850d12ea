"""The store interface the hub types against: what ``SQLiteStore`` and
``PostgresStore`` both provide.

Exactly the calls the hub makes (secretariat, setup, views, decisions, the interop
source). One owner calls a store: it is not shared between threads or processes.
Writes outside :meth:`Store.transaction` commit on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from shieldwall.core.model import Consultation, Decision, Dispute, Revocation, Signal

MemberRow = tuple[str, str, list[str], float, int, dict[str, Any] | None]


class Store(Protocol):
    @property
    def path(self) -> Path | str:
        """Where the records live, for messages (a file, or a URL without its password)."""
        ...

    @property
    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def transaction(self) -> AbstractContextManager[object]:
        """All writes inside commit together, or none does (the block raised)."""
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

    def decisions_issued_since(self, since: float) -> list[Decision]: ...

    def decisions_expired_between(self, since: float, until: float) -> list[Decision]: ...

    def revocation(self, decision_id: int) -> Revocation | None: ...

    def revocations_since(self, since: float) -> list[Revocation]: ...

    def signals_since(self, since: float) -> list[Signal]: ...

    def decision_event_refs(self, after: int, upto: int) -> list[tuple[int, str, int]]: ...

    # -- the stream's log -----------------------------------------------------------

    def add_events(self, at: float, events: Sequence[tuple[str, str]]) -> list[int]: ...

    def events_after(self, after: int, limit: int = 10000) -> list[tuple[int, float, str, str]]: ...

    def last_event_id(self) -> int: ...
