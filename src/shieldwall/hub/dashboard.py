"""The alliance console: one page at ``/`` and its script at ``/dashboard.js``.

The page itself is public and holds no data; everything it shows comes from the
views, read with the token the page asks for once (kept for the tab, sent as
``Authorization: Bearer``) as the treaty's ``[views] access`` requires. It draws its
charts itself (SVG) and loads nothing from elsewhere, so it works offline under a
Content-Security-Policy that allows only its own script. No data is ever inserted
as HTML.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

_STATIC = resources.files("shieldwall.hub").joinpath("static")
_PAGE = _STATIC.joinpath("dashboard.html").read_text()
_SCRIPT = _STATIC.joinpath("dashboard.js").read_text()
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; "
    "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def dashboard(request: Request) -> HTMLResponse:
    return HTMLResponse(_PAGE, headers=_HEADERS)


async def script(request: Request) -> Response:
    return Response(_SCRIPT, media_type="text/javascript; charset=utf-8", headers=_HEADERS)


routes = [
    Route("/", dashboard, methods=["GET"]),
    Route("/dashboard.js", script, methods=["GET"]),
]
