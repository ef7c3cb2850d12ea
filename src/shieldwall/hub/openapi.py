"""The hub's OpenAPI document, served at /openapi.json.

It documents the hub's own API (the interoperability endpoints follow their own
specifications: CrowdSec's bouncer API, TAXII 2.1, plain-text feeds). Every bound
and pattern is the one the server enforces (:mod:`shieldwall.hub.openapi_schemas`).
"""

from __future__ import annotations

from typing import Any

from shieldwall import __version__
from shieldwall.hub.openapi_schemas import (
    ADDRESS,
    DECISION_ID,
    EVENT_ID,
    NAME_SCHEMA,
    activity_parameters,
    path,
    query,
    schemas,
)
from shieldwall.hub.settings import HubSettings

_ERROR = {"$ref": "#/components/schemas/Error"}
_REFUSED = {"content": {"application/json": {"schema": _ERROR}}}
_JSON = {"content": {"application/json": {"schema": {"type": "object"}}}}
# Who may call: readers (the treaty's [views] access), the admin, a signing member.
Security = list[dict[str, list[str]]]
_READ: Security = [{"bearer": []}, {"member": []}]


def _op(
    summary: str,
    security: Security | None = None,
    body: str | None = None,
    optional_body: bool = False,
    writes: bool = False,
    ok: str = "200",
    media: str = "application/json",
) -> dict[str, Any]:
    """One operation; refusals (4XX) in the one error shape, writes may answer 503."""
    success: dict[str, Any] = {"description": "OK"}
    if media == "application/json":
        success.update(_JSON)
    elif media == "text/event-stream":  # each event's data is a JSON object
        success["content"] = {media: {"schema": {"type": "object"}}}
    else:
        success["content"] = {media: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {ok: success}
    if security:
        responses["401"] = {"description": "No credentials, or bad ones", **_REFUSED}
        responses["403"] = {"description": "These credentials may not do this", **_REFUSED}
    responses["4XX"] = {"description": "Refused: the message names the value", **_REFUSED}
    if body or writes:
        responses["503"] = {"description": "Store or replica cannot record it now", **_REFUSED}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if security:
        op["security"] = security
    if body:
        op["requestBody"] = {
            "required": not optional_body,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return op


_ADMIN: Security = [{"admin": []}]
_MEMBER: Security = [{"member": []}]
_NAME = [path("name", NAME_SCHEMA)]
_ID = [path("id", DECISION_ID)]


def _paths() -> dict[str, Any]:
    return {
        "/v1/members": {
            "get": _op("List members with status, reputation and standing", _READ),
            "post": _op(
                "Ask to join (body signed with the presented key)", body="JoinRequest", ok="201"
            ),
        },
        "/v1/members/{name}": {"get": _op("One member", _READ), "parameters": _NAME},
        "/v1/members/{name}/detail": {
            "get": _op("One member with its ledger, reports and decisions", _READ),
            "parameters": _NAME,
        },
        "/v1/members/{name}/approve": {
            "post": _op("Approve an applicant", _ADMIN, writes=True),
            "parameters": _NAME,
        },
        "/v1/members/{name}/reject": {
            "post": _op("Reject an applicant", _ADMIN, writes=True),
            "parameters": _NAME,
        },
        "/v1/members/{name}/votes": {
            "post": _op("A member's signed accession vote", _MEMBER, body="Vote"),
            "parameters": _NAME,
        },
        "/v1/members/{name}/suspend": {
            "post": _op("Suspend a member", _ADMIN, body="Suspension", optional_body=True),
            "parameters": _NAME,
        },
        "/v1/members/{name}/policy": {
            "put": _op("A member reports its local policy", _MEMBER, body="PolicyReport"),
            "parameters": _NAME,
        },
        "/v1/signals": {
            "post": _op("Submit a signed batch of signals", _MEMBER, body="SignalBatch")
        },
        "/v1/invocations": {
            "post": _op("Invoke collective defence under heavy attack", _MEMBER, body="Signed")
        },
        "/v1/evidence": {
            "post": _op(
                "A member's exposure and benign counts per source (shared addresses)",
                _MEMBER,
                body="Evidence",
            )
        },
        "/v1/decisions": {
            "get": {
                **_op("Active decisions, optionally covering an IP or range", _READ),
                "parameters": [
                    query("ip", ADDRESS),
                    query("range", ADDRESS),
                    query("target", ADDRESS),
                    query("member", NAME_SCHEMA),
                ],
            }
        },
        "/v1/decisions/{id}": {
            "get": _op("One decision, with its revocation if any", _READ),
            "parameters": _ID,
        },
        "/v1/decisions/{id}/detail": {
            "get": _op("One decision with its reports and history", _READ),
            "parameters": _ID,
        },
        "/v1/decisions/{id}/revoke": {
            "post": _op(
                "Revoke (or, with appeal=true, uphold an appeal against) a decision",
                _ADMIN,
                body="Revocation",
                optional_body=True,
            ),
            "parameters": _ID,
        },
        "/v1/decisions/{id}/veto": {
            "post": _op("A permanent member vetoes a collective decision", _MEMBER, body="Signed"),
            "parameters": _ID,
        },
        "/v1/stream": {
            "get": {
                **_op(
                    "Live decision stream; resume with Last-Event-ID (or ?after=)",
                    [{"member": []}, {"bearer": []}],
                    media="text/event-stream",
                ),
                "parameters": [
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "required": False,
                        "schema": EVENT_ID,
                    },
                    query("after", EVENT_ID),
                ],
            }
        },
        "/v1/lookup": {
            "get": {
                **_op("Is an address or range blocked, by what, and its history", _READ),
                "parameters": [query("target", ADDRESS), query("ip", ADDRESS)],
            }
        },
        "/v1/activity": {
            "get": {
                **_op(
                    "The alliance's recent activity, oldest first; page back with next_before",
                    _READ,
                ),
                "parameters": activity_parameters(),
            }
        },
        "/v1/charts": {"get": _op("Signals and decisions over the last day", _READ)},
        "/v1/alerts": {
            "get": _op("Alerts in force: stricter detection for members, never a ban", _READ)
        },
        "/v1/consultations": {
            "get": {
                **_op("Open consultations (all=true for closed ones too)", _READ),
                "parameters": [query("all", {"type": "boolean"})],
            }
        },
        "/v1/ledger": {"get": _op("Burden sharing: contribution, consumption, standing", _READ)},
        "/v1/reputation": {"get": _op("Reputation of every member", _READ)},
        "/v1/treaty": {"get": _op("The treaty in force, with its digest and history", _READ)},
        "/v1/treaty/amendments": {
            "post": _op("Amend the treaty (a higher version)", _ADMIN, body="Amendment")
        },
        "/v1/disputes": {"get": _op("Reports against protected assets", _READ)},
        "/v1/viewer": {"get": _op("Who these credentials make the caller", _READ)},
        "/healthz": {"get": _op("Liveness and basic state")},
        "/metrics": {"get": _op("Prometheus metrics", media="text/plain")},
        "/openapi.json": {"get": _op("This document")},
        "/": {"get": _op("The dashboard", media="text/html")},
        "/dashboard.js": {"get": _op("The dashboard's script", media="text/javascript")},
    }


def document(settings: HubSettings | None = None) -> dict[str, Any]:
    settings = settings or HubSettings()
    return {
        "openapi": "3.1.0",
        "info": {"title": "shieldwall hub", "version": __version__},
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "admin": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the secretariat's admin token (DATA/admin-token)",
                },
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a read token ('shieldwall viewers add') or the admin token; "
                    "the treaty's [views] access says who may read",
                },
                "member": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Shieldwall-Signature",
                    "description": "Ed25519 signature of the body (or of 'METHOD PATH TIMESTAMP' "
                    "for GET) with X-Shieldwall-Member naming the member",
                },
            },
            "schemas": schemas(settings.max_signals_per_batch),
        },
    }
