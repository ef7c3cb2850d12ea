"""Blocklist feeds over HTTP: ``GET /feeds/{format}``, with ETag and ``If-None-Match``.

Decisions never change once issued, so a feed's body depends only on the set of
active decision ids: the rendered text is cached per (format, ids) and its ETag is
the SHA-256 of the body. A client that sends the ETag back gets ``304`` until a
decision is added, revoked or expires.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shieldwall.interop.feeds import FORMATS, FeedOptions, enforceable
from shieldwall.interop.source import DecisionSource

Clock = Callable[[], float]
Authorize = Callable[[Request], bool]


def _error(status: int, code: str, message: str) -> JSONResponse:
    """The hub's one error shape."""
    return JSONResponse({"error": {"code": code, "message": message}}, status)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags


class FeedServer:
    def __init__(self, source: DecisionSource, clock: Clock, authorize: Authorize | None) -> None:
        self.source = source
        self.clock = clock
        self.authorize = authorize
        self._cache: dict[tuple[str, FeedOptions], tuple[tuple[int, ...], str, str]] = {}

    def body(self, fmt: str, opts: FeedOptions) -> tuple[str, str]:
        decisions = enforceable(self.source.active(self.clock()))
        ids = tuple(sorted(d.id for d in decisions))
        hit = self._cache.get((fmt, opts))
        if hit is not None and hit[0] == ids:
            return hit[1], hit[2]
        renderer, _ = FORMATS[fmt]
        text = renderer(decisions, opts)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[(fmt, opts)] = (ids, text, etag)
        return text, etag

    async def feed(self, request: Request) -> Response:
        if self.authorize is not None and not self.authorize(request):
            return _error(401, "unauthorized", "this feed needs credentials: ask the secretariat")
        fmt = request.path_params["fmt"]
        if fmt not in FORMATS:
            return _error(
                404, "not_found", f"feed format {fmt!r} is unknown: use one of {', '.join(FORMATS)}"
            )
        q = request.query_params
        try:
            opts = FeedOptions(
                set_name=q.get("set", "shieldwall"),
                table=q.get("table", "shieldwall"),
                variable=q.get("variable", "shieldwall_blocked"),
                jail=q.get("jail", "shieldwall"),
            )
        except ValueError as exc:
            return _error(400, "bad_request", str(exc))
        text, etag = self.body(fmt, opts)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if _etag_matches(request.headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=headers)
        media = FORMATS[fmt][1]
        if request.method == "HEAD":
            return Response(b"", 200, headers=headers, media_type=media)
        return Response(text, 200, headers=headers, media_type=media)


def feed_routes(
    source: DecisionSource, clock: Clock = time.time, authorize: Authorize | None = None
) -> list[Route]:
    """``GET|HEAD /feeds/{fmt}``; ``authorize`` (optional) decides who may read."""
    server = FeedServer(source, clock, authorize)
    return [Route("/feeds/{fmt}", server.feed, methods=["GET", "HEAD"])]
