"""JSON forms of the alliance's records, as the API and the stream send them."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from shieldwall.core.addresses import as_target, parse_network
from shieldwall.core.model import Alert, Consultation, Decision, Dispute, Revocation


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def decision(d: Decision, now: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "target": d.target,
        "scope": d.scope,
        "action": d.action,
        "scenario": d.scenario,
        "clause": d.clause,
        "members": list(d.members),
        "issued_at": d.issued_at,
        "expires_at": d.expires_at,
        "offence": d.offence,
        "recommended": d.recommended,
        "treaty": d.treaty,
        "applies_to": list(d.applies_to),
    }
    if now is not None:
        out["remaining_s"] = max(0.0, round(d.expires_at - now, 3))
    return out


def alert(a: Alert) -> dict[str, Any]:
    """An alert as the stream sends it (event ``alert``): for detection, never a ban."""
    return {
        "id": a.id,
        "target": a.target,
        "scope": a.scope,
        "scenario": a.scenario,
        "member": a.member,
        "issued_at": a.issued_at,
        "expires_at": a.expires_at,
        "maxretry": a.maxretry,
        "treaty": a.treaty,
        "clause": a.clause,
        "correlated": list(a.correlated),
        "others_maxretry": a.others_maxretry,
    }


def revocation(r: Revocation) -> dict[str, Any]:
    return {
        "decision_id": r.decision_id,
        "target": r.target,
        "at": r.at,
        "by": r.by,
        "reason": r.reason,
        "clause": r.clause,
    }


def consultation(c: Consultation) -> dict[str, Any]:
    # Field by field: dataclasses.asdict deep-copies, and a storm opens thousands a batch.
    return {
        "id": c.id,
        "target": c.target,
        "scenario": c.scenario,
        "opened_at": c.opened_at,
        "closes_at": c.closes_at,
        "members": list(c.members),
        "status": c.status,
        "clause": c.clause,
        "decision_id": c.decision_id,
    }


def dispute(d: Dispute) -> dict[str, Any]:
    return {
        "member": d.member,
        "target": d.target,
        "scenario": d.scenario,
        "at": d.at,
        "protected": d.protected,
        "reason": d.reason,
    }


def record(value: Any) -> Any:
    """Any frozen record from core (member states, ledger entries) as JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: record(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [record(v) for v in value]
    return value


def decision_from(data: dict[str, Any]) -> Decision:
    """A decision received from the hub (stream or query); ValueError if malformed.

    The target is parsed into its canonical value: a hub can send nothing that an
    enforcer would write into a firewall command as text.
    """
    try:
        target = as_target(parse_network(data["target"]))  # parsed: never the text as sent
        return Decision(
            id=int(data["id"]),
            target=target.text,
            scope=target.scope,
            action=data["action"],
            scenario=str(data["scenario"]),
            clause=str(data["clause"]),
            members=tuple(data.get("members", ())),
            issued_at=float(data["issued_at"]),
            expires_at=float(data["expires_at"]),
            offence=int(data.get("offence", 1)),
            recommended=bool(data.get("recommended", False)),
            treaty=str(data.get("treaty", "")),
            applies_to=tuple(data.get("applies_to", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed decision from the hub ({exc!r}): upgrade this agent") from None


def alert_from(data: dict[str, Any]) -> Alert:
    """An alert received from the hub (stream or query); ValueError if malformed.

    Like :func:`decision_from`, the target is parsed into its canonical value, and the
    thresholds must be whole numbers a detector can use: a hostile hub can send
    anything, and an alert only ever makes detection stricter for one source.
    """
    try:
        target = as_target(parse_network(data["target"]))  # parsed: never the text as sent
        maxretry = _count(data["maxretry"], 1)
        others = _count(data.get("others_maxretry", 0), 0)
        issued_at, expires_at = float(data["issued_at"]), float(data["expires_at"])
        if not (math.isfinite(issued_at) and math.isfinite(expires_at)):
            raise ValueError("issued_at and expires_at must be finite times")
        correlated = data.get("correlated", [])
        if not isinstance(correlated, list) or not all(isinstance(m, str) for m in correlated):
            raise ValueError("correlated must be a list of member names")
        return Alert(
            id=_count(data["id"], 1, 1 << 62),
            target=target.text,
            scope=target.scope,
            scenario=str(data["scenario"])[:200],
            member=str(data["member"])[:200],
            issued_at=issued_at,
            expires_at=expires_at,
            maxretry=maxretry,
            treaty=str(data.get("treaty", ""))[:200],
            clause=str(data.get("clause", "alert"))[:200],
            correlated=tuple(correlated),
            others_maxretry=others,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed alert from the hub ({exc!r}): upgrade this agent") from None


def _count(value: Any, least: int, most: int = 1_000_000) -> int:
    """A whole number from least to most (JSON booleans and floats are not counts)."""
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ValueError(f"{str(value)[:32]!r} is not a whole number from {least} to {most}")
    return value


def revoked_id(data: str) -> int:
    """The decision id of a revocation event from the hub; ValueError if it is malformed."""
    try:
        decision_id = json.loads(data)["decision_id"]
    except (ValueError, KeyError, TypeError, IndexError):
        raise ValueError(f"malformed revocation from the hub: {data[:200]!r}") from None
    if not isinstance(decision_id, int) or isinstance(decision_id, bool) or decision_id <= 0:
        raise ValueError(f"revocation names decision {str(decision_id)[:32]!r}: not an id")
    return decision_id
