"""The schemas of the hub's OpenAPI document: exactly what the edge accepts.

Every pattern and bound here is the one :mod:`shieldwall.hub.validate` (and the
routes) enforce; a change to one is a change to both, pinned by the schemathesis
test that runs the real hub against this document.
"""

from __future__ import annotations

from typing import Any

from shieldwall.hub.activity import KINDS as ACTIVITY_KINDS
from shieldwall.hub.activity import MAX_LIMIT as ACTIVITY_LIMIT
from shieldwall.hub.amendments import MAX_TREATY_BYTES
from shieldwall.hub.validate import (
    MAX_BENIGN_COUNT,
    MAX_BENIGN_SOURCES,
    MAX_EXPOSURE,
    MAX_INT64,
    NAME,
    SCENARIO,
)

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(\.{_OCTET}){{3}}"
# An IPv4 address or range (CIDR); IPv6 addresses by format. The hub also takes
# IPv6 ranges ("2001:db8::/48"), which JSON Schema has no exact pattern for.
ADDRESS: dict[str, Any] = {
    "type": "string",
    "anyOf": [
        {"pattern": rf"^{IPV4}(/(3[0-2]|[12]?[0-9]))?$"},
        {"format": "ipv6", "pattern": "^[0-9A-Fa-f:.]{2,45}$"},
    ],
    "example": "203.0.113.9",
}
NAME_SCHEMA: dict[str, Any] = {"type": "string", "pattern": NAME.pattern, "example": "alpha"}
DECISION_ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_INT64}
EVENT_ID: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_INT64}
SEQ: dict[str, Any] = {
    "type": "integer",
    "minimum": 1,
    "maximum": MAX_INT64,
    "description": "above the member's last accepted seq (replay protection)",
}
SENT_AT: dict[str, Any] = {
    "type": "number",
    "description": "Unix time the request was signed; within the hub's clock skew",
}
REASON: dict[str, Any] = {"type": "string", "maxLength": 500}
PUBLIC_KEY: dict[str, Any] = {
    "type": "string",
    "pattern": "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$",
    "description": "base64 Ed25519 public key ('shieldwall keygen')",
}


def _signed(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> Any:
    """A signed member body: member, seq, sent_at and ``properties``."""
    return {
        "type": "object",
        "required": ["member", "seq", "sent_at", *required],
        "properties": {"member": NAME_SCHEMA, "seq": SEQ, "sent_at": SENT_AT, **properties},
        **extra,
    }


def schemas(max_signals: int) -> dict[str, Any]:
    signal = {
        "type": "object",
        "required": ["target", "scenario"],
        "additionalProperties": False,
        "properties": {
            "target": ADDRESS,
            "scenario": {
                "type": "string",
                "pattern": SCENARIO.pattern,
                "example": "ssh-bruteforce",
            },
            "at": {"type": "number", "description": "Unix time the attack was seen"},
            "events": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "additionalProperties": False,
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "JoinRequest": {
            "type": "object",
            "required": ["name", "public_key", "addresses"],
            "properties": {
                "name": NAME_SCHEMA,
                "public_key": PUBLIC_KEY,
                "addresses": {"type": "array", "minItems": 1, "maxItems": 256, "items": ADDRESS},
            },
        },
        "Vote": _signed({"approve": {"type": "boolean"}}),
        "Signed": _signed({}),
        "PolicyReport": _signed(
            {"policy": {"type": "object", "description": "the member's local policy"}},
            ("policy",),
            additionalProperties=False,
        ),
        "Evidence": _signed(
            {
                "exposure": {
                    "type": "object",
                    "required": ["attacks"],
                    "additionalProperties": False,
                    "properties": {
                        "attacks": {"type": "integer", "minimum": 0, "maximum": MAX_EXPOSURE}
                    },
                    "description": "attacks the member had to report since its last report",
                },
                "benign": {
                    "type": "object",
                    "maxProperties": MAX_BENIGN_SOURCES,
                    "propertyNames": ADDRESS,
                    "additionalProperties": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_BENIGN_COUNT,
                    },
                    "description": "benign events (successful logins, 2xx answers) per source",
                },
            },
            additionalProperties=False,
            anyOf=[{"required": ["exposure"]}, {"required": ["benign"]}],
        ),
        "Signal": signal,
        "SignalBatch": _signed(
            {
                "signals": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": max_signals,
                    "items": {"$ref": "#/components/schemas/Signal"},
                }
            },
            ("signals",),
            additionalProperties=False,
        ),
        "Suspension": {"type": "object", "properties": {"reason": REASON}},
        "Revocation": {
            "type": "object",
            "properties": {"reason": REASON, "appeal": {"type": "boolean"}},
        },
        "Amendment": {
            "type": "object",
            "required": ["text"],
            "properties": {
                "text": {
                    "type": "string",
                    "maxLength": MAX_TREATY_BYTES,
                    "description": "treaty TOML",
                }
            },
        },
    }


def activity_parameters() -> list[dict[str, Any]]:
    kinds = "|".join(ACTIVITY_KINDS)
    return [
        query("limit", {"type": "integer", "minimum": 1, "maximum": ACTIVITY_LIMIT}),
        query("before", {"type": "number", "minimum": 0, "maximum": 1e11}),
        query("kind", {"type": "string", "pattern": f"^(({kinds})(,({kinds}))*)?$"}),
    ]


def query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}
