"""JSON forms of the alliance's records, as the API and the stream send them."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from shieldwall.core.model import Consultation, Decision, Dispute, Revocation


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
    out = dataclasses.asdict(c)
    out["members"] = list(c.members)
    return out


def dispute(d: Dispute) -> dict[str, Any]:
    return dataclasses.asdict(d)


def record(value: Any) -> Any:
    """Any frozen record from core (member states, ledger entries) as JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: record(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [record(v) for v in value]
    return value


def decision_from(data: dict[str, Any]) -> Decision:
    """A decision received from the hub (stream or query); ValueError if malformed."""
    try:
        return Decision(
            id=int(data["id"]),
            target=str(data["target"]),
            scope=data["scope"],
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
