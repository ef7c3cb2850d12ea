"""One error shape for the whole API: ``{"error": {"code": ..., "message": ...}}``.

Messages name the bad value and say what to do. No traceback ever reaches a client.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

log = logging.getLogger("shieldwall.hub")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message)


_HTTP_CODES = {
    404: ("not_found", "no such endpoint: see /openapi.json for the API"),
    405: ("method_not_allowed", "this endpoint does not take that method: see /openapi.json"),
}


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (routes are one per method)."""
    methods: set[str] = set()
    for route in getattr(request.app, "routes", ()):
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match != Match.NONE and route_methods:
            methods.update(route_methods)
    return sorted(methods)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    if exc.status_code == 404:
        message = f"no such endpoint {request.url.path!r}: see /openapi.json for the API"
    if exc.status_code != 405:
        return error_response(exc.status_code, code, message)
    allow = ", ".join(allowed_methods(request)) or (exc.headers or {}).get("Allow", "")
    return error_response(405, code, f"{message} (it takes {allow})", headers={"Allow": allow})


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(
        500, "internal", "the hub failed to handle this request; it has been logged"
    )


async def store_failure_handler(request: Request, exc: Exception) -> Response:
    return error_response(503, "store_unavailable", str(exc))


async def read_only_handler(request: Request, exc: Exception) -> Response:
    return error_response(503, "read_only", str(exc))
