"""Treaty amendments: the secretariat puts a new version of the treaty in force."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shieldwall.core.treaty import Treaty
from shieldwall.hub import auth
from shieldwall.hub.errors import ApiError
from shieldwall.hub.members import sec_of

MAX_TREATY_BYTES = 256 * 1024


def history(entries: list[tuple[float | None, Treaty]]) -> list[dict[str, Any]]:
    """Every treaty in force so far, oldest first, with the time it took effect."""
    return [
        {"version": t.version, "label": t.label, "digest": t.digest, "since": at}
        for at, t in entries
    ]


async def amend(request: Request) -> JSONResponse:
    """``{"text": TREATY_TOML}``: recorded as an input; later decisions cite it."""
    sec = sec_of(request)
    auth.admin(sec, request)
    body = await auth.read_body(request, MAX_TREATY_BYTES)
    payload = auth.parse_json_object(body)
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(
            400, "bad_request", "'text' must be the amended treaty's TOML text, as a string"
        )
    previous = sec.treaty
    try:
        treaty = sec.amend(text)
    except ValueError as exc:
        raise ApiError(422, "invalid_treaty", str(exc)) from None
    return JSONResponse(
        {
            "previous": previous.label,
            "name": treaty.name,
            "version": treaty.version,
            "label": treaty.label,
            "digest": treaty.digest,
            "history": history(sec.council.history),
        }
    )


routes = [Route("/v1/treaty/amendments", amend, methods=["POST"])]
