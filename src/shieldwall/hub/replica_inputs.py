"""What a replica does with the primary's inputs, and a primary with a replica's receipts.

A mixin of :class:`shieldwall.hub.secretariat.Secretariat`: the same one path for every
change (``_record``), driven by the bus instead of the API (see
:mod:`shieldwall.hub.replication` for the tasks that call these).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shieldwall.bus.records import Charter, InputRecord, Receipt
from shieldwall.core.model import Outcome, Signal
from shieldwall.core.treaty import Treaty
from shieldwall.hub.bookkeeping import (
    RECEIPTS_POSITION,
    REPLICA_INPUT,
    REPLICA_POSITION,
    Identity,
    ReplicationError,
)
from shieldwall.hub.inputs import check_input
from shieldwall.signing import parse_public
from shieldwall.store.base import Store


class ReplicaInputs:
    """Bus inputs and receipts through the secretariat's one path."""

    # Provided by the secretariat.
    store: Store
    clock: Callable[[], float]
    founding: Treaty
    identities: dict[str, Identity]
    replica_of: str | None
    replica_seq: int
    replica_position: int
    _admin_digest: str
    _replicating: bool
    _received: dict[str, int]

    if TYPE_CHECKING:  # the secretariat's own

        def _record(
            self,
            kind: str,
            payload: dict[str, Any],
            now: float,
            signals: Sequence[Signal] = (),
            before: Callable[[], None] | None = None,
            member_seq: tuple[str, int] | None = None,
        ) -> tuple[Outcome, list[int]]: ...

        def _remember(
            self, name: str, public_text: str, key: Ed25519PublicKey | None, addresses: list[str]
        ) -> None: ...

    def charter(self) -> Charter:
        # The founding treaty names the alliance; amendments travel as inputs.
        return Charter(self.founding.text, self._admin_digest, self.founding.digest)

    def replicate(self, record: InputRecord, position: int) -> bool:
        """A replica applies one of the primary's inputs; False if it had it already.

        The same council path at the primary's recorded time gives the same outcome
        and the same stream ids. The primary's input number and the bus position are
        stored in the same transaction, so a restart resumes exactly after it.
        """
        if self.replica_of is None:
            raise ReplicationError("this hub is a primary: only a replica applies bus inputs")
        if record.seq <= self.replica_seq:
            return False
        if record.prev != self.replica_seq:
            raise ReplicationError(
                f"the bus skips from input {self.replica_seq} to {record.seq} (it expected "
                f"{record.prev} first): the stream was purged or belongs to another hub; "
                "rebuild this replica from an empty --data directory"
            )
        p, at, kind = record.payload, record.at, record.kind
        public_text, external = record.member or ("", True)
        try:
            check_input(kind, p)
            # A key the replica could not read back at its next start is refused now.
            key = parse_public(public_text) if kind == "apply" and not external else None
        except ValueError as exc:
            raise ReplicationError(f"input {record.seq}: {exc}") from None

        def marks() -> None:
            s = self.store
            if kind == "apply":
                s.add_member(p["name"], public_text, p["addresses"], at, external=external)
            elif kind == "policy":
                s.set_policy(p["member"], p["policy"])
            s.set_meta(REPLICA_INPUT, str(record.seq))
            s.set_meta(REPLICA_POSITION, str(position))

        seq = p.get("seq")
        member_seq = (p["member"], seq) if kind == "signals" and isinstance(seq, int) else None
        self._replicating = True
        try:
            self._record(kind, p, at, record.signals, before=marks, member_seq=member_seq)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ReplicationError(
                f"input {record.seq} ({kind}) is malformed ({type(exc).__name__}: {exc}): "
                "the primary and this replica must run the same shieldwall version"
            ) from None
        finally:
            self._replicating = False
        self.replica_seq, self.replica_position = record.seq, position
        if kind == "apply":
            self._remember(p["name"], public_text, key, p["addresses"])
        elif kind == "policy" and p["member"] in self.identities:
            self.identities[p["member"]].policy = p["policy"]
        return True

    def apply_receipt(self, receipt: Receipt, position: int) -> bool:
        """The primary records a replica's receipt once; False for one it already has."""
        key = f"receipt:{receipt.replica}"
        if receipt.n <= int(self.store.get_meta(key) or 0):
            self.store.set_meta(RECEIPTS_POSITION, str(position))
            return False

        def marks() -> None:
            self.store.set_meta(key, str(receipt.n))
            self.store.set_meta(RECEIPTS_POSITION, str(position))

        payload = {"replica": receipt.replica, "n": receipt.n, "counts": receipt.counts}
        self._record("receipts", payload, self.clock(), before=marks)
        return True

    def take_received(self) -> dict[str, int]:
        """A replica's counts of decisions streamed to each member since last asked."""
        taken, self._received = self._received, {}
        return taken
