"""Accession and membership: join, approve or reject, vote, suspend, local policy."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shieldwall import wire
from shieldwall.hub import auth, validate
from shieldwall.hub.admission import Admission
from shieldwall.hub.errors import ApiError
from shieldwall.hub.secretariat import Secretariat
from shieldwall.signing import SIGNATURE_HEADER, parse_public, verify


def sec_of(request: Request) -> Secretariat:
    sec: Secretariat = request.app.state.sec
    return sec


def member_view(sec: Secretariat, name: str) -> dict[str, object]:
    state = sec.council.member(name)
    out: dict[str, object] = dict(wire.record(state)) if state is not None else {"name": name}
    ident = sec.identities.get(name)
    if ident is not None:
        out["public_key"] = ident.public_text
        out["policy"] = validate.shown_policy(ident.policy)
    out["standing"] = sec.council.standing(name, sec.clock()) if state is not None else None
    return out


async def join(request: Request) -> JSONResponse:
    """A member asks to join, signing its request with the key it presents."""
    sec = sec_of(request)
    _join_allowed(sec, request)
    body = await auth.read_body(request, 64 * 1024)
    payload = auth.parse_json_object(body)
    name = validate.member_name(payload.get("name"))
    addresses = validate.addresses(payload.get("addresses"))
    public_text = payload.get("public_key")
    try:
        key = parse_public(public_text)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ApiError(400, "bad_key", str(exc)) from None
    if not verify(key, body, request.headers.get(SIGNATURE_HEADER, "")):
        raise ApiError(
            401, "bad_signature", "join request must be signed with the private key of 'public_key'"
        )
    pending = sum(1 for m in sec.council.members() if m.status == "pending")
    if pending >= sec.settings.max_pending_applicants:
        # Anyone may ask to join; nobody may bury the secretariat in applications.
        raise ApiError(
            429,
            "too_many_applicants",
            f"{pending} applications already await approval: try again once the "
            "secretariat has approved or rejected them",
        )
    try:
        sec.join(name, str(public_text), addresses)
    except ValueError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    return JSONResponse(member_view(sec, name), status_code=201)


def _join_allowed(sec: Secretariat, request: Request) -> None:
    """One source address may send ``join_burst`` join requests, then one per
    ``join_refill`` seconds: nobody fills the applicant queue from one place."""
    gate: Admission = request.app.state.admission
    source = request.client.host if request.client is not None else "unknown"
    burst, refill = sec.settings.join_burst, sec.settings.join_refill
    wait = gate.joins.take(source, sec.clock(), burst, refill)
    if wait > 0:
        raise ApiError(
            429,
            "too_many_joins",
            f"source {source[:64]} sent {burst} join requests recently (the most one address "
            f"may, then one every {refill:g}s): try again in {math.ceil(wait)}s",
        )


def _known(sec: Secretariat, name: str) -> str:
    if sec.council.member(name) is None:
        raise ApiError(404, "unknown_member", f"no member named {name[:64]!r}: see 'members list'")
    return name


async def approve(request: Request) -> JSONResponse:
    sec = sec_of(request)
    by = auth.admin(sec, request)
    name = _known(sec, request.path_params["name"])
    outcome = sec.approve(name, by)
    if outcome.no_action:
        raise ApiError(409, "not_applicable", outcome.no_action[0].reason)
    return JSONResponse(member_view(sec, name))


async def reject(request: Request) -> JSONResponse:
    """The secretariat refuses an applicant."""
    sec = sec_of(request)
    by = auth.admin(sec, request)
    name = _known(sec, request.path_params["name"])
    outcome = sec.reject(name, by)
    if outcome.no_action:
        raise ApiError(409, "not_applicable", outcome.no_action[0].reason)
    return JSONResponse(member_view(sec, name))


async def vote(request: Request) -> JSONResponse:
    """A member's signed vote on an applicant (majority or unanimity accession)."""
    sec = sec_of(request)
    body = await auth.read_body(request, 16 * 1024)
    voter, payload = auth.member_body(sec, request, body)
    auth.require_standing(sec, voter)
    name = _known(sec, request.path_params["name"])
    outcome = sec.vote(name, voter, validate.flag(payload, "approve"), payload["seq"])
    if outcome.no_action:
        raise ApiError(409, "not_applicable", outcome.no_action[0].reason)
    return JSONResponse(member_view(sec, name))


async def suspend(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.admin(sec, request)
    name = _known(sec, request.path_params["name"])
    payload = auth.parse_json_object(await auth.read_body(request, 16 * 1024) or b"{}")
    sec.suspend(name, validate.reason(payload, "suspended by the secretariat"))
    return JSONResponse(member_view(sec, name))


async def put_policy(request: Request) -> JSONResponse:
    """A member reports its local policy (its sovereignty), signed."""
    sec = sec_of(request)
    body = await auth.read_body(request, 2 * validate.MAX_POLICY_BYTES)
    name, payload = auth.member_body(sec, request, body)
    if request.path_params["name"] != name:
        raise ApiError(
            403, "forbidden", f"member {name!r} may report only its own policy, not another's"
        )
    auth.require_admitted(sec, name)
    policy = validate.policy(payload)
    if policy != sec.identities[name].policy:  # the same policy again records nothing
        sec.set_policy(name, policy, payload["seq"])
    return JSONResponse({"member": name, "policy": policy})


async def list_members(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
    return JSONResponse({"members": [member_view(sec, m.name) for m in sec.council.members()]})


async def show_member(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
    return JSONResponse(member_view(sec, _known(sec, request.path_params["name"])))


routes = [
    Route("/v1/members", join, methods=["POST"]),
    Route("/v1/members", list_members, methods=["GET"]),
    Route("/v1/members/{name}", show_member, methods=["GET"]),
    Route("/v1/members/{name}/approve", approve, methods=["POST"]),
    Route("/v1/members/{name}/reject", reject, methods=["POST"]),
    Route("/v1/members/{name}/votes", vote, methods=["POST"]),
    Route("/v1/members/{name}/suspend", suspend, methods=["POST"]),
    Route("/v1/members/{name}/policy", put_policy, methods=["PUT"]),
]
