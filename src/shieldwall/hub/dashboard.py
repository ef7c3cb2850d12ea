"""The alliance dashboard: one self-contained, read-only page at ``/``.

It reads the same public views as the CLI (decisions, consultations, members,
ledger, disputes) every two seconds. No data is ever inserted as HTML.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

_PAGE = resources.files("shieldwall.hub").joinpath("static/dashboard.html").read_text()
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


async def dashboard(request: Request) -> HTMLResponse:
    return HTMLResponse(_PAGE, headers=_HEADERS)


routes = [Route("/", dashboard, methods=["GET"])]
