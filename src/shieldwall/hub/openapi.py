"""The hub's OpenAPI document, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from shieldwall import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}


def _op(
    summary: str, auth: str | None = None, body: str | None = None, **responses: Any
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK"},
            "4XX": {"description": "Refused", "content": {"application/json": {"schema": _ERROR}}},
            **responses,
        },
    }
    if auth:
        op["security"] = [{auth: []}]
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return op


def _id_param(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind}}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/v1/members": {
            "get": _op("List members with status, reputation and standing"),
            "post": _op("Ask to join (body signed with the presented key)", body="JoinRequest"),
        },
        "/v1/members/{name}": {"get": _op("One member"), "parameters": [_id_param("name")]},
        "/v1/members/{name}/approve": {
            "post": _op("Approve an applicant", auth="admin"),
            "parameters": [_id_param("name")],
        },
        "/v1/members/{name}/votes": {
            "post": _op("A member's signed accession vote", auth="member", body="Vote"),
            "parameters": [_id_param("name")],
        },
        "/v1/members/{name}/suspend": {
            "post": _op("Suspend a member", auth="admin"),
            "parameters": [_id_param("name")],
        },
        "/v1/members/{name}/policy": {
            "put": _op("A member reports its local policy", auth="member"),
            "parameters": [_id_param("name")],
        },
        "/v1/signals": {
            "post": _op("Submit a signed batch of signals", auth="member", body="SignalBatch")
        },
        "/v1/invocations": {
            "post": _op("Invoke collective defence under heavy attack", auth="member")
        },
        "/v1/decisions": {
            "get": {
                **_op("Active decisions, optionally covering an IP or range"),
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                    for n in ("ip", "range", "member")
                ],
            }
        },
        "/v1/decisions/{id}": {
            "get": _op("One decision, with its revocation if any"),
            "parameters": [_id_param("id", "integer")],
        },
        "/v1/decisions/{id}/revoke": {
            "post": _op(
                "Revoke (or, with appeal=true, uphold an appeal against) a decision", auth="admin"
            ),
            "parameters": [_id_param("id", "integer")],
        },
        "/v1/decisions/{id}/veto": {
            "post": _op("A permanent member vetoes a collective decision", auth="member"),
            "parameters": [_id_param("id", "integer")],
        },
        "/v1/stream": {
            "get": {
                **_op(
                    "Live decision stream (text/event-stream); resume with Last-Event-ID",
                    auth="member",
                ),
                "parameters": [
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "integer"},
                    }
                ],
            }
        },
        "/v1/consultations": {"get": _op("Open consultations (all=true for closed ones too)")},
        "/v1/ledger": {"get": _op("Burden sharing: contribution, consumption, standing")},
        "/v1/reputation": {"get": _op("Reputation of every member")},
        "/v1/treaty": {"get": _op("The treaty in force, with its digest")},
        "/v1/disputes": {"get": _op("Reports against protected assets")},
        "/healthz": {"get": _op("Liveness and basic state")},
        "/metrics": {"get": _op("Prometheus metrics")},
    }
    signal = {
        "type": "object",
        "required": ["target", "scenario"],
        "properties": {
            "target": {"type": "string", "example": "203.0.113.9"},
            "scenario": {"type": "string", "example": "ssh-bruteforce"},
            "at": {"type": "number", "description": "Unix time the attack was seen"},
            "events": {"type": "integer", "minimum": 1},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "shieldwall hub", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "admin": {"type": "http", "scheme": "bearer"},
                "member": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Shieldwall-Signature",
                    "description": "Ed25519 signature of the body (or of 'METHOD PATH TIMESTAMP' "
                    "for GET) with X-Shieldwall-Member naming the member",
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
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
                        "name": {"type": "string"},
                        "public_key": {"type": "string"},
                        "addresses": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "Vote": {
                    "type": "object",
                    "required": ["member", "seq", "sent_at", "approve"],
                    "properties": {"approve": {"type": "boolean"}},
                },
                "Signal": signal,
                "SignalBatch": {
                    "type": "object",
                    "required": ["member", "seq", "sent_at", "signals"],
                    "properties": {
                        "member": {"type": "string"},
                        "seq": {"type": "integer", "description": "increasing per member"},
                        "sent_at": {"type": "number"},
                        "signals": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Signal"},
                        },
                    },
                },
            },
        },
    }
