"""The interoperability endpoints the hub serves beside its own API.

``/v1/decisions/stream`` and ``/v1/decisions`` with an ``X-Api-Key`` are CrowdSec's
bouncer API; ``/v1/decisions`` without one stays the hub's own (members, CLI).
``/taxii2/…`` is TAXII 2.1 for partners; ``/feeds/{format}`` the blocklists.
These routes must come before the hub's own (``/v1/decisions/{id}`` would
otherwise take ``/v1/decisions/stream``).

Bouncer keys live in ``DATA/bouncers.sqlite3`` and partner credentials in
``DATA/partners.sqlite3``, never in the hub's database: the hub keeps one writer.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shieldwall.hub.decisions import list_decisions
from shieldwall.hub.interop_source import HubSource
from shieldwall.hub.secretariat import Secretariat
from shieldwall.interop.crowdsec import crowdsec_routes
from shieldwall.interop.feed_routes import feed_routes
from shieldwall.interop.keys import BOUNCERS_DB, SQLiteBouncerKeys
from shieldwall.interop.partners import PARTNERS_DB, SQLitePartners
from shieldwall.interop.taxii import taxii_routes


def interop_routes(sec: Secretariat, data_dir: Path) -> list[BaseRoute]:
    source = HubSource(sec)
    # ``sec`` was opened from ``data_dir``, so it is a hub's, whichever store holds the
    # records (DATA/hub.sqlite3 or PostgreSQL).
    keys = SQLiteBouncerKeys(Path(data_dir) / BOUNCERS_DB)
    partners = SQLitePartners(Path(data_dir) / PARTNERS_DB)
    crowdsec = {r.path: r for r in crowdsec_routes(source, keys, clock=sec.clock)}
    bouncer_decisions = crowdsec["/v1/decisions"].endpoint

    async def decisions(request: Request) -> Response:
        if "x-api-key" in request.headers:
            response: Response = await bouncer_decisions(request)
            return response
        return await list_decisions(request)

    return [
        crowdsec["/v1/decisions/stream"],
        Route("/v1/decisions", decisions, methods=["GET", "HEAD"]),
        *taxii_routes(source, partners, clock=sec.clock),
        *feed_routes(source, clock=sec.clock),
    ]
