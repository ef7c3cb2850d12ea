"""Decisions: query, the live stream, revocation, appeal and veto."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from shieldwall import wire
from shieldwall.hub import auth, oplog, validate
from shieldwall.hub.admission import Admission
from shieldwall.hub.errors import ApiError
from shieldwall.hub.members import sec_of
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.stream import Event


async def list_decisions(request: Request) -> JSONResponse:
    """Active decisions, optionally those covering an IP or range."""
    sec = sec_of(request)
    auth.reader(sec, request)
    now = sec.clock()
    query = request.query_params
    networks = validate.query_networks(query, "ip", "range", "target")
    if networks:
        net = networks[0]
        text = (
            net.with_prefixlen if net.prefixlen != net.max_prefixlen else str(net.network_address)
        )
        found = sec.council.lookup(text, now)
    else:
        found = sec.active(now)
    member = query.get("member")
    if member is not None:
        member = validate.member_name(member)
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
    auth.reader(sec, request)
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
    """Server-Sent Events: one id per event; Last-Event-ID resumes without gap.

    A member's signed stamp opens one connection; a member holds at most
    ``max_streams_per_member`` streams at once (the one over gets 429).
    """
    sec = sec_of(request)
    gate: Admission = request.app.state.admission
    if request.headers.get("authorization"):
        # the admin, or a read token the treaty allows
        who = auth.reader(sec, request)
        member = None
        if who == "public" and request.client is not None:
            who = f"public {request.client.host}"
    else:
        member = who = auth.member_get(sec, request)
        auth.require_standing(sec, member)
        auth.stamp_once(sec, request, gate.stamps, member)
    header = request.headers.get("last-event-id")
    query = request.query_params.get("after")
    given = [
        validate.event_id(raw, where)
        for raw, where in ((header, "Last-Event-ID"), (query, "after"))
        if raw is not None
    ]
    after = given[0] if given else sec.stream.last_id
    cap = sec.settings.max_streams_per_member
    capped = who != "secretariat"  # the admin token is not a member: it is not capped
    if capped and not gate.streams.acquire(who, cap):
        raise ApiError(
            429,
            "too_many_streams",
            f"{who[:64]!r} already holds {cap} decision streams, the most one member may "
            "hold (setting max_streams_per_member): close one before opening another",
        )
    oplog.stream("opened", who, after=after)

    def release() -> None:
        if capped:
            gate.streams.release(who)
        oplog.stream("closed", who)

    return _Leased(
        _events(sec, member, after),
        release=release,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class _Leased(StreamingResponse):
    """A stream that gives its member's slot back however it ends."""

    def __init__(
        self, content: AsyncIterator[bytes], release: Callable[[], None], **kw: Any
    ) -> None:
        super().__init__(content, **kw)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def _events(sec: Secretariat, member: str | None, after: int) -> AsyncIterator[bytes]:
    yield b": shieldwall decision stream\nretry: 1000\n\n"
    async for batch in sec.stream.follow(after, sec.settings.heartbeat):
        if batch is None:
            yield b": keepalive\n\n"
            continue
        if member is None:
            yield b"".join(event.sse() for event in batch)
        elif sec.stream_delay(member, batch[-1].at) > 0:
            # A member the treaty delays: each event waits for its own time.
            for event in batch:
                wait = sec.stream_delay(member, event.at)
                if wait > 0:
                    await asyncio.sleep(wait)
                yield _sse_for(sec, member, event)
        else:
            yield b"".join(_sse_for(sec, member, event) for event in batch)


def _sse_for(sec: Secretariat, member: str, event: Event) -> bytes:
    if event.audience and member not in event.audience:
        # Another member's act of self-defence: keep ids dense for resumption.
        return f"id: {event.id}\nevent: skip\ndata: {{}}\n\n".encode()
    if event.kind == "decision":
        sec.note_received(member)
    return event.sse()


routes = [
    Route("/v1/decisions", list_decisions, methods=["GET"]),
    Route("/v1/decisions/{id}", show_decision, methods=["GET"]),
    Route("/v1/decisions/{id}/revoke", revoke, methods=["POST"]),
    Route("/v1/decisions/{id}/veto", veto, methods=["POST"]),
    Route("/v1/stream", stream, methods=["GET"]),
]
