"""Signed signal batches from members: the alliance's intelligence."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shieldwall.hub import auth, oplog, validate
from shieldwall.hub.errors import ApiError
from shieldwall.hub.members import sec_of
from shieldwall.signing import MEMBER_HEADER


async def submit(request: Request) -> JSONResponse:
    sec = sec_of(request)
    settings = sec.settings
    try:
        body = await auth.read_body(request, settings.max_body_bytes)
        member, payload = auth.member_body(sec, request, body)
        auth.require_standing(sec, member)
        signals = validate.signals(
            payload,
            member,
            sec.treaty,
            sec.clock(),
            settings.max_signals_per_batch,
            settings.max_signal_age,
            settings.clock_skew,
        )
    except ApiError as exc:
        refused = sec.stats.batches_refused
        refused[exc.code] = refused.get(exc.code, 0) + 1
        # The claimed name, not yet proven when the signature is what failed.
        oplog.refused(request.headers.get(MEMBER_HEADER, ""), exc.code, exc.message)
        raise
    result = await sec.submit_async(member, payload["seq"], signals)
    return JSONResponse(
        {
            "accepted": result.accepted,
            "decisions": result.decisions,
            "consultations": result.consultations,
            "disputes": result.disputes,
            "no_action": result.no_action,
        }
    )


async def invoke(request: Request) -> JSONResponse:
    """A member under heavy attack invokes collective defence."""
    sec = sec_of(request)
    body = await auth.read_body(request, 16 * 1024)
    member, payload = auth.member_body(sec, request, body)
    auth.require_standing(sec, member)
    outcome = sec.invoke(member, payload["seq"])
    if outcome.no_action:
        raise ApiError(409, "refused", outcome.no_action[0].reason)
    return JSONResponse({"member": member, "invoked": True, "notices": list(outcome.notices)})


async def evidence(request: Request) -> JSONResponse:
    """A member's exposure (attacks it had to report) and benign counts per source."""
    sec = sec_of(request)
    body = await auth.read_body(request, sec.settings.max_body_bytes)
    member, payload = auth.member_body(sec, request, body)
    auth.require_standing(sec, member)
    exposure, benign = validate.evidence(payload, sec.treaty)
    sec.evidence(member, payload["seq"], exposure, benign)
    return JSONResponse({"member": member, "exposure": exposure, "benign": len(benign)})


routes = [
    Route("/v1/signals", submit, methods=["POST"]),
    Route("/v1/invocations", invoke, methods=["POST"]),
    Route("/v1/evidence", evidence, methods=["POST"]),
]
