"""Stored rows this version refuses: left out at start, with one log line each.

A store written by an older version may hold a target the current parser refuses (an
IPv6 zone, special-purpose space) or an input the council now rejects. Such a row
must never stop the hub nor reach an emitter: at start it is quarantined, i.e. left
out of the rebuilt state, and the hub serves the rest. Decision and consultation ids
such rows used are reserved, so every other stored row, stream event and member's
copy keeps its id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from shieldwall.core.addresses import canonical
from shieldwall.core.treaty import Treaty
from shieldwall.store.base import Store

log = logging.getLogger("shieldwall.hub")


@dataclass
class Quarantine:
    decisions: set[int] = field(default_factory=set)
    consultations: set[int] = field(default_factory=set)
    inputs: set[int] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.decisions) + len(self.consultations) + len(self.inputs)


def refused(treaty: Treaty, target: str) -> str:
    """Why the current code refuses a stored ``target`` ('' if it accepts it)."""
    try:
        canonical(target)
        t = treaty.check_target(target)
    except ValueError as exc:
        return str(exc)
    refusal = treaty.special_refusal(t.version, t.first, t.last)
    return f"{t.text} {refusal}" if refusal else ""


def scan(store: Store, treaty: Treaty, after: tuple[int, int] | None = None) -> Quarantine:
    """Stored decisions and consultations whose target this version refuses.

    ``after``: (decision id, consultation id) up to which the rows were already checked
    (by the replay a checkpoint of this same version was built from).
    """
    q = Quarantine()
    decisions, consultations = after if after is not None else (None, None)
    tables = (
        ("decisions", q.decisions, decisions),
        ("consultations", q.consultations, consultations),
    )
    for table, ids, checked in tables:
        for row_id, target in store.stored_targets(table, checked):
            reason = refused(treaty, target)
            if reason:
                ids.add(row_id)
                log.warning(
                    "quarantined stored %s #%d: %s; it is no longer served",
                    table[:-1],
                    row_id,
                    reason,
                )
    return q


def note_input(q: Quarantine, seq: int, kind: str, reason: str) -> None:
    """A recorded input the council now refuses: skipped on replay, named once."""
    q.inputs.add(seq)
    log.warning("quarantined stored %s input #%d: %s; the hub serves the rest", kind, seq, reason)
