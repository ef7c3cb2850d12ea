"""Look-up: is an address or range blocked, by what, since when, until when; and its history.

``GET /v1/lookup?target=203.0.113.9`` answers from the store, so revoked and expired
decisions are part of the answer: every decision on the target itself or on a range
that contains it (for a range, also the decisions in force inside it), the reports
against it and the disputes it caused.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shieldwall import wire
from shieldwall.core.addresses import parse_network
from shieldwall.core.model import Decision
from shieldwall.hub import auth, validate
from shieldwall.hub.errors import ApiError
from shieldwall.hub.members import sec_of
from shieldwall.hub.secretariat import Secretariat

HISTORY_LIMIT = 200
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _text(net: Network) -> str:
    """A network as decisions name it: a bare address for a host, else CIDR."""
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else net.with_prefixlen


def covering(net: Network) -> list[str]:
    """``net`` and every range that contains it, as decisions name them."""
    return [_text(net.supernet(new_prefix=p)) for p in range(net.prefixlen, -1, -1)]


def status(sec: Secretariat, d: Decision, now: float) -> dict[str, Any]:
    """A decision with what became of it: in force, expired or revoked (by whom, why)."""
    out = wire.decision(d, now)
    revocation = sec.store.revocation(d.id)
    if revocation is not None:
        out["state"] = "revoked"
        out["revocation"] = wire.revocation(revocation)
        out["appeal"] = revocation.clause == "appeal"
    elif d.expires_at <= now:
        out["state"] = "expired"
    elif d.issued_at > now:
        out["state"] = "pending"
    else:
        out["state"] = "in force"
    return out


def parse_target(raw: str | None) -> Network:
    if not raw:
        raise ApiError(
            400, "bad_request", "give the address or range to look up: ?target=203.0.113.9"
        )
    try:
        return parse_network(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_address", str(exc)) from None


def look_up(sec: Secretariat, net: Network, now: float) -> dict[str, Any]:
    names = covering(net)
    history = {d.id: d for d in sec.store.decisions_on(names, HISTORY_LIMIT)}
    active = sec.council.lookup(_text(net), now)
    for d in active:
        history.setdefault(d.id, d)
    decisions = [status(sec, d, now) for d in sorted(history.values(), key=lambda d: d.id)]
    in_force = [d for d in decisions if d["state"] == "in force" and d["action"] != "watch"]
    reports = sec.store.signals_on(names, HISTORY_LIMIT)
    disputes = [d for d in sec.store.disputes(HISTORY_LIMIT) if d["target"] in names]
    return {
        "target": _text(net),
        "now": now,
        "blocked": bool(in_force),
        "by": [d["id"] for d in in_force],
        "since": min((d["issued_at"] for d in in_force), default=None),
        "until": max((d["expires_at"] for d in in_force), default=None),
        "decisions": decisions,
        "reports": [wire.record(s) for s in reversed(reports)],
        "disputes": disputes,
    }


async def lookup(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
    given = validate.query_networks(request.query_params, "target", "ip")
    net = given[0] if given else parse_target(None)
    return JSONResponse(look_up(sec, net, sec.clock()))


routes = [Route("/v1/lookup", lookup, methods=["GET"])]
