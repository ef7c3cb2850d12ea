"""Column lists and row <-> record mapping shared by both stores.

The two dialects store the same columns with the same encodings (JSON text for lists
and policies, 0/1 for flags), so a row read from either maps to a record the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from shieldwall.core.addresses import canonical
from shieldwall.core.model import Decision, Revocation, Signal
from shieldwall.store.base import MemberRow

DECISION_COLS = (
    "id, target, scope, action, scenario, clause, members, issued_at, expires_at, "
    "offence, recommended, treaty, applies_to"
)
REVOCATION_COLS = "id, target, revoked_at, revoked_by, revoke_reason, revoke_clause"
SIGNAL_COLS = "member, target, scenario, at, events"
SIGNAL_INSERT_COLS = "input_seq, member, target, scenario, at, events, received_at"
MEMBER_COLS = "name, public_key, addresses, applied_at, last_seq, policy"
DISPUTE_KEYS = ("id", "member", "target", "scenario", "at", "protected", "reason")
TABLES = frozenset(
    {"signals", "decisions", "disputes", "events", "inputs", "members", "checkpoints"}
)


def dumps(value: Any) -> str:
    """Standard JSON only: NaN or Infinity written here would break every later reader."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


@lru_cache(maxsize=4096)
def names_json(names: tuple[str, ...]) -> str:
    """A tuple of member names as a JSON list; the same few sets recur on every decision."""
    return dumps(list(names))


def marks(count: int) -> str:
    """``?, ?, ...``: ``count`` parameter markers (each store translates ``?``)."""
    return ", ".join(["?"] * count)


def canonical_target(text: object) -> bool:
    """Whether a stored target is canonical: rows that are not are never read back.

    A store written by an older version may hold a target this version refuses; the
    hub quarantines it at start (see :mod:`shieldwall.hub.quarantine`) and readers
    skip it, so no emitter ever sees its text.
    """
    try:
        canonical(text)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def decisions(cur: Iterable[Sequence[Any]]) -> list[Decision]:
    """The :class:`Decision` of each row whose target is canonical."""
    return [decision(r) for r in cur if canonical_target(r[1])]


def revocations(cur: Iterable[Sequence[Any]]) -> list[Revocation]:
    return [Revocation(*r) for r in cur if canonical_target(r[1])]


def signals(cur: Iterable[Sequence[Any]]) -> list[Signal]:
    return [Signal(*r) for r in cur if canonical_target(r[1])]


def decision(r: Sequence[Any]) -> Decision:
    """A :class:`Decision` from a row of :data:`DECISION_COLS`."""
    return Decision(
        id=r[0],
        target=r[1],
        scope=r[2],
        action=r[3],
        scenario=r[4],
        clause=r[5],
        members=tuple(json.loads(r[6])),
        issued_at=r[7],
        expires_at=r[8],
        offence=r[9],
        recommended=bool(r[10]),
        treaty=r[11],
        applies_to=tuple(json.loads(r[12])),
    )


def decision_params(d: Decision) -> tuple[Any, ...]:
    """The values of :data:`DECISION_COLS` for ``d``, in order."""
    return (
        d.id,
        d.target,
        d.scope,
        d.action,
        d.scenario,
        d.clause,
        names_json(d.members),
        d.issued_at,
        d.expires_at,
        d.offence,
        int(d.recommended),
        d.treaty,
        names_json(d.applies_to),
    )


def signal_params(input_seq: int, s: Signal, received_at: float) -> tuple[Any, ...]:
    """The values of :data:`SIGNAL_INSERT_COLS` for ``s``, in order."""
    return (input_seq, s.member, s.target, s.scenario, s.at, s.events, received_at)


def member_row(r: Sequence[Any]) -> MemberRow:
    """A :data:`MemberRow` from a row of :data:`MEMBER_COLS`."""
    return (r[0], r[1], json.loads(r[2]), r[3], r[4], policy(r[5]))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON")


def policy(text: str | None) -> dict[str, Any] | None:
    """A stored local policy; None when there is none or it cannot be read back.

    Policies are the members' own documents, shown as they sent them: a row that is
    not a standard JSON object (written before the hub refused NaN and Infinity)
    must not stop the hub from starting or listing its members.
    """
    if not text:
        return None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None
