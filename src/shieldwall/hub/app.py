"""The hub's ASGI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from shieldwall.hub import (
    activity,
    amendments,
    archive,
    dashboard,
    decisions,
    detail,
    lookup,
    members,
    openapi,
    signals,
    views,
)
from shieldwall.hub.admission import Admission
from shieldwall.hub.bookkeeping import ReadOnly, StoreFailure
from shieldwall.hub.errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    read_only_handler,
    store_failure_handler,
    unexpected_error_handler,
)
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.settings import HubSettings, load_settings
from shieldwall.hub.storage import DB_NAME, SETTINGS_FILE, open_store, store_spec
from shieldwall.hub.viewers import NoViewers, Viewers

__all__ = ["DB_NAME", "create_app", "open_secretariat"]
log = logging.getLogger("shieldwall.hub")


async def _openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi.document(request.app.state.sec.settings))


async def _ticker(sec: Secretariat) -> None:
    """Closes consultations on time and records what members received."""
    last_flush = time.monotonic()
    while True:
        await asyncio.sleep(sec.settings.tick_interval)
        try:
            sec.tick()
            if time.monotonic() - last_flush >= sec.settings.received_flush:
                last_flush = time.monotonic()
                sec.flush_received()
        except Exception:
            log.exception("council tick failed")


def open_secretariat(
    data_dir: Path, clock: Callable[[], float] = time.time, settings: HubSettings | None = None
) -> Secretariat:
    """The hub of ``data_dir`` on its configured store (SQLite or PostgreSQL)."""
    data_dir = Path(data_dir)
    settings = settings or load_settings(data_dir / SETTINGS_FILE)
    store = open_store(data_dir, store_spec(settings.store), synchronous=settings.synchronous)
    try:
        return Secretariat(store, clock, settings, archives=data_dir / archive.DIRECTORY)
    except BaseException:
        store.close()
        raise


def create_app(
    sec: Secretariat,
    extra_routes: Sequence[BaseRoute] = (),
    ticker: bool = True,
    tasks: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    middleware: Sequence[Middleware] = (),
    viewers: Viewers | None = None,
) -> Starlette:
    """The hub's app; ``tasks`` run for its lifetime (the bus pump or follower).

    ``viewers`` checks read tokens (``DATA/viewers.sqlite3``); None: there are none.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        running = [asyncio.create_task(_ticker(sec))] if ticker else []
        running += [asyncio.create_task(task()) for task in tasks]
        try:
            yield
        finally:
            sec.settle()  # batches still committing are answered before the tasks stop
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            sec.flush_received()

    # Extra routes (interoperability) come first: they may refine a path of the hub's
    # own, e.g. /v1/decisions/stream before /v1/decisions/{id}.
    routes: list[BaseRoute] = [
        *extra_routes,
        *members.routes,
        *signals.routes,
        *decisions.routes,
        *views.routes,
        *activity.routes,
        *lookup.routes,
        *detail.routes,
        *amendments.routes,
        *dashboard.routes,
        Route("/openapi.json", _openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=list(middleware),
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_error_handler,
            StoreFailure: store_failure_handler,
            ReadOnly: read_only_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.sec = sec
    app.state.admission = Admission()
    app.state.viewers = viewers if viewers is not None else NoViewers()
    return app
