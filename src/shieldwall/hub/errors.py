"""One error shape for the whole API: ``{"error": {"code": ..., "message": ...}}``.

Messages name the bad value and say what to do. No traceback ever reaches a client.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("shieldwall.hub")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message)


_HTTP_CODES = {
    404: ("not_found", "no such endpoint: see /openapi.json for the API"),
    405: ("method_not_allowed", "this endpoint does not take that method: see /openapi.json"),
}


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP_CODES.get(exc.status_code, ("http_error", str(exc.detail)))
    if exc.status_code == 404:
        message = f"no such endpoint {request.url.path!r}: see /openapi.json for the API"
    return error_response(exc.status_code, code, message)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(
        500, "internal", "the hub failed to handle this request; it has been logged"
    )


async def store_failure_handler(request: Request, exc: Exception) -> Response:
    return error_response(503, "store_unavailable", str(exc))


async def read_only_handler(request: Request, exc: Exception) -> Response:
    return error_response(503, "read_only", str(exc))
