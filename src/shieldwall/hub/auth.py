"""Who is asking: signed member requests, read tokens and the secretariat's admin token.

Refusals raise :class:`ApiError`; nothing is stored for a refused request.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request

from shieldwall import strictjson
from shieldwall.hub.admission import StampBook
from shieldwall.hub.bookkeeping import Identity
from shieldwall.hub.errors import ApiError
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.validate import MAX_INT64
from shieldwall.hub.viewers import NoViewers, Viewers
from shieldwall.signing import (
    MEMBER_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    request_message,
    verify,
)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413,
            "too_large",
            f"body of {declared} bytes exceeds the limit of {limit}: send smaller batches",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(
                413, "too_large", f"body exceeds the limit of {limit} bytes: send smaller batches"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The one reader of request bodies: strict JSON (see :mod:`shieldwall.strictjson`)."""
    try:
        value = strictjson.loads(body)
    except strictjson.JsonError as exc:
        raise ApiError(400, "bad_json", str(exc)) from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_json", "body must be a JSON object, not " + type(value).__name__)
    return value


def _identity(sec: Secretariat, request: Request) -> tuple[Identity, str]:
    name = request.headers.get(MEMBER_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not name or not signature:
        raise ApiError(
            401,
            "unsigned",
            f"request is not signed: send {MEMBER_HEADER} and {SIGNATURE_HEADER} "
            "(the shieldwall client does this for you)",
        )
    ident = sec.identities.get(name)
    if ident is None and name in sec.externals:
        raise ApiError(
            403,
            "external_partner",
            f"{name[:64]!r} is an external partner: partners have no key and submit over TAXII",
        )
    if ident is None and sec.standby and sec.store.member_entry(name) is not None:
        # Recorded by the leader moments ago; this standby has not applied it yet.
        raise ApiError(
            503,
            "catching_up",
            f"member {name[:64]!r} joined moments ago and this standby node has not "
            "caught up yet: resend shortly, or to another node",
        )
    if ident is None:
        raise ApiError(
            403,
            "unknown_member",
            f"member {name[:64]!r} is not known here: join with 'shieldwall join'",
        )
    return ident, signature


def require_standing(sec: Secretariat, name: str) -> None:
    """Only an admitted member in good standing may act: signals, votes, vetoes, stream."""
    require_admitted(sec, name)
    if sec.council.standing(name, sec.clock()) == "suspended":
        raise ApiError(
            403,
            "suspended",
            f"member {name!r} is suspended as a free rider: report attacks to restore its standing",
        )


def require_admitted(sec: Secretariat, name: str) -> None:
    """An admitted member (a free rider too): applicants, rejected and suspended may not write."""
    member = sec.council.member(name)
    status = getattr(member, "status", None)
    if status == "suspended":
        raise ApiError(403, "suspended", f"member {name!r} is suspended: appeal to the secretariat")
    if status == "rejected":
        raise ApiError(
            403, "rejected", f"member {name!r} was refused accession: apply again under a new name"
        )
    if status != "active":
        raise ApiError(
            403, "not_approved", f"member {name!r} has not been approved yet: wait for accession"
        )


def member_body(sec: Secretariat, request: Request, body: bytes) -> tuple[str, dict[str, Any]]:
    """Verify a signed body; returns the member's name and the parsed object."""
    ident, signature = _identity(sec, request)
    if not verify(ident.public_key, body, signature):
        raise ApiError(
            401,
            "bad_signature",
            f"signature does not match member {ident.name!r}'s key: sign the exact body",
        )
    payload = parse_json_object(body)
    if payload.get("member") != ident.name:
        raise ApiError(
            400,
            "member_mismatch",
            f"body names member {str(payload.get('member'))[:64]!r} but the request is signed by "
            f"{ident.name!r}: put the signer's name in 'member'",
        )
    check_fresh(sec, payload, ident)
    return ident.name, payload


def check_fresh(sec: Secretariat, payload: dict[str, Any], ident: Identity) -> None:
    seq, sent_at = payload.get("seq"), payload.get("sent_at")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq <= MAX_INT64:
        raise ApiError(
            400,
            "bad_request",
            f"'seq' {str(seq)[:32]} must be an integer from 1 to {MAX_INT64}: "
            "number batches 1, 2, 3, ... (the shieldwall client does this for you)",
        )
    if (
        not isinstance(sent_at, (int, float))
        or isinstance(sent_at, bool)
        or not math.isfinite(sent_at)
    ):
        raise ApiError(400, "bad_request", f"'sent_at' {sent_at!r} must be a Unix time in seconds")
    skew = sec.settings.clock_skew
    now = sec.clock()
    if abs(now - sent_at) > skew:
        raise ApiError(
            400,
            "stale",
            f"'sent_at' {sent_at} is {now - sent_at:+.0f}s from the hub's clock (limit {skew:.0f}s): "
            "check the member's clock (NTP) and resend",
        )
    if seq <= ident.last_seq:
        raise ApiError(
            409,
            "replayed",
            f"sequence number {seq} is not above the last accepted ({ident.last_seq}): "
            "this batch was already accepted or is a replay",
        )


def member_get(sec: Secretariat, request: Request) -> str:
    """Verify a signed request without a body (the stream)."""
    ident, signature = _identity(sec, request)
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    try:
        when = float(stamp)
    except ValueError:
        raise ApiError(
            401, "unsigned", f"{TIMESTAMP_HEADER} {stamp[:32]!r} is not a Unix time"
        ) from None
    if not math.isfinite(when) or abs(sec.clock() - when) > sec.settings.clock_skew:
        raise ApiError(
            400, "stale", f"{TIMESTAMP_HEADER} {stamp[:32]} is too far from the hub's clock"
        )
    message = request_message(request.method, request.url.path, stamp)
    if not verify(ident.public_key, message, signature):
        raise ApiError(
            401, "bad_signature", f"signature does not match member {ident.name!r}'s key"
        )
    return ident.name


def stamp_once(sec: Secretariat, request: Request, book: StampBook, member: str) -> None:
    """A stream stamp (checked by :func:`member_get`) opens one connection only."""
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    skew = sec.settings.clock_skew
    signed = request_message(request.method, request.url.path, stamp).decode()
    refused = book.use(member, signed, float(stamp), sec.clock(), skew)
    if refused == "used":
        raise ApiError(
            409,
            "replayed",
            f"{TIMESTAMP_HEADER} {stamp[:32]} of member {member!r} was already used: sign a "
            "fresh stamp for every connection (the shieldwall client does this for you)",
        )
    if refused:
        raise ApiError(
            429,
            "too_many_streams",
            f"member {member!r} opened {book.per_member} streams in the last {skew:.0f}s: "
            "keep a stream open instead of reconnecting",
        )


def admin(sec: Secretariat, request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not sec.check_admin(token.strip()):
        given = scheme.lower() == "bearer" and token.strip()
        raise ApiError(
            401,
            "unauthorized",
            ("this admin token is not the secretariat's: pass" if given else "this needs")
            + " the admin token printed by 'shieldwall hub init' (kept in DATA/admin-token)"
            + ("" if given else " with --admin-token"),
        )
    return "secretariat"


def reader(sec: Secretariat, request: Request) -> str:
    """Who may read a view under the treaty's ``[views] access``; refuses everyone else.

    ``public``: anyone. ``members`` (the default): a member's signed request, a read
    token (``shieldwall viewers add``) or the admin token. ``admin``: the admin token.
    Returns "secretariat", "viewer:NAME", the member's name, or "public".
    """
    access = sec.treaty.views.access
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and sec.check_admin(token):
            return "secretariat"
        viewers: Viewers = getattr(request.app.state, "viewers", NoViewers())
        found = viewers.check(token) if scheme.lower() == "bearer" else None
        if found is not None and access != "admin":
            return "viewer:" + found.name
        if found is not None:
            raise _admin_only(sec)
        if access == "public":
            return "public"
        raise ApiError(
            401,
            "unauthorized",
            "this token is neither a read token nor the admin token: ask the secretariat "
            "for one ('shieldwall viewers add NAME') and send 'Authorization: Bearer TOKEN'",
        )
    if access == "public":
        return "public"
    if request.headers.get(MEMBER_HEADER):
        name = member_get(sec, request)
        if access == "admin":
            raise _admin_only(sec)
        require_standing(sec, name)
        return name
    who = "members and holders of a read token" if access == "members" else "the secretariat"
    raise ApiError(
        401,
        "unauthorized",
        f"treaty {sec.treaty.label} lets only {who} read this: send "
        "'Authorization: Bearer TOKEN' with a read token ('shieldwall viewers add NAME') "
        "or the admin token, or sign the request as a member",
    )


def _admin_only(sec: Secretariat) -> ApiError:
    return ApiError(
        403,
        "forbidden",
        f'treaty {sec.treaty.label} sets [views] access = "admin": only the '
        "secretariat's admin token may read this",
    )
