"""A replica forwards every change to its primary, unchanged; a standby to its leader.

Members may point at a replica for everything: reads (the stream, decisions, views,
the bouncer API) are answered from the replica's own copy, and any other method goes
to the primary byte for byte, signature headers included, so the primary verifies
and records it as if the member had sent it there. The primary's answer comes back
as it was; the change reaches the replica over the bus moments later.

A standby node (:mod:`shieldwall.hub.leadership`) forwards the same way to whichever
node leads now: ``primary`` is then a function giving the leader's URL, None while
this node leads itself (changes are its own), "" while no node leads (503: resend).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shieldwall.hub.auth import read_body
from shieldwall.hub.errors import ApiError, error_response

log = logging.getLogger("shieldwall.hub")

READS = frozenset({"GET", "HEAD", "OPTIONS"})
# Hop-by-hop headers (RFC 9110 §7.6.1) and those the forwarder sets itself.
_DROP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)


class ForwardWrites:
    def __init__(
        self,
        app: ASGIApp,
        primary: str | Callable[[], str | None],
        client: httpx.AsyncClient,
        max_body: int,
    ) -> None:
        self.app = app
        self._primary = primary if callable(primary) else (lambda: primary)
        self.client = client
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            await self.app(scope, receive, send)
            return
        primary = self._primary()
        if primary is None:  # this node leads: the change is its own
            await self.app(scope, receive, send)
            return
        if not primary:
            response: Response = error_response(
                503,
                "no_leader",
                "no hub node leads right now (a takeover is under way): resend shortly",
            )
        else:
            response = await self._forward(Request(scope, receive), primary.rstrip("/"))
        await response(scope, receive, send)

    async def _forward(self, request: Request, primary: str) -> Response:
        try:
            body = await read_body(request, self.max_body)
        except ApiError as exc:  # too large: refused here, as the primary would
            return error_response(exc.status, exc.code, exc.message)
        url = primary + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _DROP]
        if request.client is not None:
            headers.append(("x-forwarded-for", request.client.host))
        try:
            answer = await self.client.request(request.method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("forwarding %s %s to %s failed: %s", request.method, request.url.path,
                        primary, type(exc).__name__)  # fmt: skip
            return error_response(
                503,
                "primary_unreachable",
                f"this hub could not reach the hub that records changes at {primary} "
                f"({type(exc).__name__}): resend later, or send to the primary directly",
            )
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _DROP}
        return Response(answer.content, status_code=answer.status_code, headers=kept)
