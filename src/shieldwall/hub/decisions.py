"""Decisions: query, the live stream, revocation, appeal and veto."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from shieldwall import wire
from shieldwall.core.addresses import parse_network
from shieldwall.hub import auth, validate
from shieldwall.hub.errors import ApiError
from shieldwall.hub.members import sec_of
from shieldwall.hub.secretariat import Secretariat


async def list_decisions(request: Request) -> JSONResponse:
    """Active decisions, optionally those covering an IP or range."""
    sec = sec_of(request)
    now = sec.clock()
    query = request.query_params
    target = query.get("ip") or query.get("range") or query.get("target")
    if target:
        try:
            net = parse_network(target)
        except ValueError as exc:
            raise ApiError(400, "invalid_address", str(exc)) from None
        text = (
            net.with_prefixlen if net.prefixlen != net.max_prefixlen else str(net.network_address)
        )
        found = sec.council.lookup(text, now)
    else:
        found = sec.active(now)
    member = query.get("member")
    if member:
        found = [d for d in found if not d.applies_to or member in d.applies_to]
    return JSONResponse(
        {
            "cursor": sec.stream.last_id,
            "now": now,
            "decisions": [wire.decision(d, now) for d in found],
        }
    )


async def show_decision(request: Request) -> JSONResponse:
    sec = sec_of(request)
    row = sec.store.decision_row(validate.decision_id(request.path_params["id"]))
    if row is None:
        raise ApiError(
            404, "not_found", f"no decision {request.path_params['id']}: see 'decisions list'"
        )
    return JSONResponse(row)


def _decision(sec: Secretariat, raw: str) -> int:
    decision_id = validate.decision_id(raw)
    if sec.council.decision(decision_id) is None:
        raise ApiError(404, "not_found", f"no decision {decision_id}: see 'decisions list'")
    return decision_id


async def revoke(request: Request) -> JSONResponse:
    """The secretariat revokes a decision; as an appeal, its reporters lose reputation."""
    sec = sec_of(request)
    by = auth.admin(sec, request)
    decision_id = _decision(sec, request.path_params["id"])
    payload = auth.parse_json_object(await auth.read_body(request, 16 * 1024) or b"{}")
    outcome = sec.revoke(
        decision_id,
        by,
        validate.reason(payload, "revoked by the secretariat"),
        validate.flag(payload, "appeal"),
    )
    if not outcome.revocations:
        reason = outcome.no_action[0].reason if outcome.no_action else "it is no longer active"
        raise ApiError(409, "not_applicable", f"decision {decision_id} was not revoked: {reason}")
    return JSONResponse({"revoked": [wire.revocation(r) for r in outcome.revocations]})


async def veto(request: Request) -> JSONResponse:
    """A permanent member vetoes a collective decision (treaties with a veto)."""
    sec = sec_of(request)
    body = await auth.read_body(request, 16 * 1024)
    member, payload = auth.member_body(sec, request, body)
    auth.require_standing(sec, member)
    decision_id = _decision(sec, request.path_params["id"])
    outcome = sec.veto(member, decision_id, payload["seq"])
    if not outcome.revocations:
        reason = outcome.no_action[0].reason if outcome.no_action else "veto refused"
        raise ApiError(403, "refused", reason)
    return JSONResponse({"revoked": [wire.revocation(r) for r in outcome.revocations]})


async def stream(request: Request) -> StreamingResponse:
    """Server-Sent Events: one id per event; Last-Event-ID resumes without gap."""
    sec = sec_of(request)
    if request.headers.get("authorization"):
        auth.admin(sec, request)
        member = None
    else:
        member = auth.member_get(sec, request)
        auth.require_standing(sec, member)
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or ""
    if raw and not raw.isdigit():
        raise ApiError(
            400, "bad_request", f"Last-Event-ID {raw[:32]!r} must be an event id (a number)"
        )
    after = int(raw) if raw else sec.stream.last_id
    return StreamingResponse(
        _events(sec, member, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _events(sec: Secretariat, member: str | None, after: int) -> AsyncIterator[bytes]:
    yield b": shieldwall decision stream\nretry: 1000\n\n"
    async for event in sec.stream.follow(after, sec.settings.heartbeat):
        if event is None:
            yield b": keepalive\n\n"
            continue
        if member is not None:
            wait = sec.stream_delay(member, event.at)
            if wait > 0:
                await asyncio.sleep(wait)
            if event.audience and member not in event.audience:
                # Another member's act of self-defence: keep ids dense for resumption.
                yield f"id: {event.id}\nevent: skip\ndata: {{}}\n\n".encode()
                continue
            if event.kind == "decision":
                sec.note_received(member)
        yield event.sse()


routes = [
    Route("/v1/decisions", list_decisions, methods=["GET"]),
    Route("/v1/decisions/{id}", show_decision, methods=["GET"]),
    Route("/v1/decisions/{id}/revoke", revoke, methods=["POST"]),
    Route("/v1/decisions/{id}/veto", veto, methods=["POST"]),
    Route("/v1/stream", stream, methods=["GET"]),
]
