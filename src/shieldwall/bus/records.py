"""What travels on the bus: the primary hub's recorded inputs, in order, and its charter.

The council is deterministic: the same inputs at the same recorded times give the
same decisions, consultations and stream events. So a replica needs nothing but the
primary's input log to hold the same state and serve the same stream (same event ids).

An :class:`InputRecord` is one recorded input with everything a replica needs to apply
it: the signals it carried, and for an accession the applicant's public key. ``prev``
is the input published just before it, so a replica notices a gap (a purged stream)
instead of silently diverging. The :class:`Charter` names the alliance: its treaty and
the digest of the secretariat's token (never the token).

Wire form: zlib-compressed compact JSON. :func:`decode_input` and
:func:`decode_charter` validate everything, since the bus is one more input from
outside: ValueError names what is wrong.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

from shieldwall.core.model import Signal

FORMAT = 1
# A decompressed record larger than this is refused (a zlib bomb on the bus).
MAX_RECORD_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class InputRecord:
    seq: int
    prev: int
    at: float
    kind: str
    payload: dict[str, Any]
    signals: tuple[Signal, ...] = ()
    # For "apply": (public key, external partner). A partner has no key.
    member: tuple[str, bool] | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """How many decisions each member received from one replica since its last receipt.

    ``n`` counts the replica's receipts: the primary applies each (replica, n) once.
    """

    replica: str
    n: int
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class Charter:
    treaty: str
    admin_digest: str = field(repr=False)
    treaty_digest: str


def _pack(value: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 1)


def _unpack(data: bytes, what: str) -> dict[str, Any]:
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(data, MAX_RECORD_BYTES)
        if inflater.unconsumed_tail:
            raise ValueError(f"{what} is larger than {MAX_RECORD_BYTES} bytes once inflated")
        value = json.loads(raw)
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{what} is not a shieldwall bus record ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    if value.get("v") != FORMAT:
        raise ValueError(
            f"{what} has format {value.get('v')!r}, not {FORMAT}: "
            "run the same shieldwall version on the primary and its replicas"
        )
    return value


def encode_input(record: InputRecord) -> bytes:
    out: dict[str, Any] = {
        "v": FORMAT,
        "seq": record.seq,
        "prev": record.prev,
        "at": record.at,
        "kind": record.kind,
        "payload": record.payload,
    }
    if record.signals:
        out["signals"] = [[s.member, s.target, s.scenario, s.at, s.events] for s in record.signals]
    if record.member is not None:
        out["member"] = [record.member[0], record.member[1]]
    return _pack(out)


def _int(value: Any, name: str, what: str, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{what}: {name} {value!r} must be an integer >= {low}")
    return value


def _time(value: Any, name: str, what: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{what}: {name} {value!r} must be a Unix time")
    return float(value)


def _signal(item: Any, what: str) -> Signal:
    if not isinstance(item, list) or len(item) != 5:
        raise ValueError(
            f"{what}: signal {str(item)[:80]!r} must be [member, target, scenario, at, events]"
        )
    member, target, scenario, at, events = item
    if not all(isinstance(x, str) for x in (member, target, scenario)):
        raise ValueError(f"{what}: signal {str(item)[:80]!r} has a non-text name")
    return Signal(
        member, target, scenario, _time(at, "signal time", what), _int(events, "events", what, 1)
    )


def decode_input(data: bytes, where: str = "bus message") -> InputRecord:
    value = _unpack(data, where)
    seq = _int(value.get("seq"), "seq", where, 1)
    what = f"{where} (input {seq})"
    prev = _int(value.get("prev"), "prev", what)
    if prev >= seq:
        raise ValueError(f"{what}: prev {prev} must be below seq {seq}")
    kind = value.get("kind")
    if not isinstance(kind, str):
        raise ValueError(f"{what}: kind {str(kind)[:40]!r} must be text")
    payload = value.get("payload")
    if not isinstance(payload, dict):
        raise ValueError(f"{what}: payload must be an object")
    raw_signals = value.get("signals", [])
    if not isinstance(raw_signals, list):
        raise ValueError(f"{what}: signals must be a list")
    signals = tuple(_signal(item, what) for item in raw_signals)
    member = value.get("member")
    entry: tuple[str, bool] | None = None
    if member is not None:
        if (
            not isinstance(member, list)
            or len(member) != 2
            or not isinstance(member[0], str)
            or not isinstance(member[1], bool)
        ):
            raise ValueError(f"{what}: member must be [public key, external]")
        entry = (member[0], member[1])
    if kind == "apply" and entry is None:
        raise ValueError(f"{what}: an accession carries the applicant's key")
    return InputRecord(seq, prev, _time(value.get("at"), "at", what), kind, payload, signals, entry)


def encode_charter(charter: Charter) -> bytes:
    return _pack(
        {
            "v": FORMAT,
            "treaty": charter.treaty,
            "admin_digest": charter.admin_digest,
            "treaty_digest": charter.treaty_digest,
        }
    )


def decode_charter(data: bytes, where: str = "bus charter") -> Charter:
    value = _unpack(data, where)
    treaty, admin, digest = (
        value.get("treaty"),
        value.get("admin_digest"),
        value.get("treaty_digest"),
    )
    if not isinstance(treaty, str) or not treaty.strip():
        raise ValueError(f"{where}: the treaty text is missing")
    if not isinstance(admin, str) or not isinstance(digest, str):
        raise ValueError(f"{where}: admin_digest and treaty_digest must be text")
    return Charter(treaty, admin, digest)


MAX_RECEIPT_MEMBERS = 100_000


def encode_receipt(receipt: Receipt) -> bytes:
    return _pack(
        {"v": FORMAT, "replica": receipt.replica, "n": receipt.n, "counts": receipt.counts}
    )


def decode_receipt(data: bytes, where: str = "bus receipt") -> Receipt:
    value = _unpack(data, where)
    replica, counts = value.get("replica"), value.get("counts")
    if not isinstance(replica, str) or not 0 < len(replica) <= 64:
        raise ValueError(
            f"{where}: replica {str(replica)[:40]!r} must be a name of 1 to 64 characters"
        )
    n = _int(value.get("n"), "n", where, 1)
    if not isinstance(counts, dict) or len(counts) > MAX_RECEIPT_MEMBERS:
        raise ValueError(
            f"{where}: counts must be an object of at most {MAX_RECEIPT_MEMBERS} members"
        )
    for member, count in counts.items():
        if len(member) > 64:
            raise ValueError(f"{where}: member name {member[:40]!r}… is too long")
        _int(count, f"count of {member[:40]!r}", where, 1)
    return Receipt(replica, n, counts)
