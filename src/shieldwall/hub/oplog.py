"""The hub's operational log: one line per committed change that matters.

The secretariat calls :func:`committed` once an input and its outcome are in the
store; routes call :func:`refused` for a batch they turn away and the stream calls
:func:`stream` as members come and go. Targets are written from the council's
canonical value; tokens and keys never appear.
"""

from __future__ import annotations

import logging
from typing import Any

from shieldwall.core.model import Outcome
from shieldwall.logs import duration, event, iso

log = logging.getLogger("shieldwall.hub")

# The input kinds whose arrival is itself worth a line (the others speak through
# what they produce: decisions, revocations, consultations, disputes).
_INPUT_LINES: dict[str, tuple[str, tuple[str, ...]]] = {
    "apply": ("join", ("name", "addresses")),
    "approve": ("approval", ("name", "by")),
    "reject": ("rejection", ("name", "by")),
    "vote": ("vote", ("applicant", "voter", "approve")),
    "suspend": ("suspension", ("name", "reason")),
    "invoke": ("invocation", ("member",)),
}


def _clip(value: object, limit: int = 80) -> str:
    text = str(value)[:limit]
    return "".join(c if c.isprintable() else "?" for c in text)


def committed(kind: str, payload: dict[str, Any], outcome: Outcome, replica: bool = False) -> None:
    """Log what one recorded input did, after it was committed (never raises)."""
    try:
        _committed(kind, payload, outcome, replica)
    except Exception:  # a log line must not fail a change that is already recorded
        log.exception("could not log a %s input", kind)


def _committed(kind: str, payload: dict[str, Any], outcome: Outcome, replica: bool) -> None:
    origin = "primary" if replica else None
    line = _INPUT_LINES.get(kind)
    if line is not None:
        name, keys = line
        fields: dict[str, Any] = {k: payload.get(k) for k in keys}
        if kind == "apply" and not payload.get("addresses"):
            fields["addresses"] = "-"
        refusal = next((n.reason for n in outcome.no_action), None)
        event(log, name, origin=origin, **fields, refused=refusal)
    elif kind == "amend":
        event(log, "amendment", treaty=payload.get("label"), digest=payload.get("digest"))
    for d in outcome.decisions:
        event(
            log,
            "decision",
            id=d.id,
            target=d.target,
            action=d.action,
            clause=d.clause,
            treaty=d.treaty,
            scenario=d.scenario,
            members=list(d.members) or "-",
            duration=duration(d.duration),
            until=iso(d.expires_at),
            origin=origin,
        )
    for r in outcome.revocations:
        event(
            log,
            "revocation",
            decision=r.decision_id,
            target=r.target,
            clause=r.clause,
            by=r.by,
            reason=_clip(r.reason, 200),
            origin=origin,
        )
    for c in outcome.consultations:
        event(
            log,
            "consultation",
            id=c.id,
            target=c.target,
            scenario=c.scenario,
            status=c.status,
            members=list(c.members) or "-",
            closes=iso(c.closes_at) if c.status == "open" else None,
            origin=origin,
        )
    for dispute in outcome.disputes:
        event(
            log,
            "dispute",
            member=dispute.member,
            target=dispute.target,
            scenario=dispute.scenario,
            protected=dispute.protected,
            reason=_clip(dispute.reason, 200),
            origin=origin,
            level=logging.WARNING,
        )


def refused(member: str, code: str, reason: str) -> None:
    """A signal batch turned away (never lost silently): who, why."""
    event(
        log,
        "batch_refused",
        member=_clip(member or "-", 64),
        code=code,
        reason=_clip(reason, 300),
        level=logging.WARNING,
    )


def stream(what: str, member: str, **fields: Any) -> None:
    """A member's decision stream opened or closed."""
    event(log, f"stream_{what}", member=_clip(member, 64), **fields)
