"""What the secretariat keeps beside the council: members' keys, counters, results,
its errors, and the meta keys of a replica's store."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Identity:
    name: str
    public_key: Ed25519PublicKey
    public_text: str
    addresses: list[str]
    last_seq: int = 0
    policy: dict[str, Any] | None = None


@dataclass
class Stats:
    signals_accepted: int = 0
    batches_accepted: int = 0
    batches_refused: dict[str, int] = field(default_factory=dict)
    decisions_issued: int = 0
    revocations: int = 0
    disputes: int = 0
    consultations_opened: int = 0
    council_rebuilds: int = 0  # after a commit failed once the council had changed


@dataclass(frozen=True)
class SubmitResult:
    accepted: int
    decisions: list[int]
    consultations: list[int]
    disputes: list[dict[str, Any]]
    no_action: list[dict[str, Any]]


class StoreFailure(RuntimeError):
    """The store refused a commit; the request was undone and may be resent."""


class ReadOnly(RuntimeError):
    """A replica was asked to change the alliance: only the primary records inputs."""


class ReplicationError(RuntimeError):
    """A replica cannot apply what the bus holds (a gap, or a malformed input)."""


# Meta keys of a replica's store: the primary's last applied input and bus position.
REPLICA_OF = "replica_of"
REPLICA_ID = "replica_id"
REPLICA_INPUT = "replica_input_seq"
REPLICA_POSITION = "replica_position"
RECEIPT_N = "replica_receipt_n"  # the number of the replica's last receipt
# ... and of a primary's: the bus position of the last replica receipt it read.
RECEIPTS_POSITION = "receipts_position"
