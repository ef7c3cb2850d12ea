"""The hub's HTTP server: uvicorn with a header deadline, a connection cap and
an open-file limit that fits them.

uvicorn's HTTP/1.1 protocol times out idle keep-alive connections, but a client that
opens a connection and never finishes its request headers (or trickles them a byte
at a time) holds its socket forever. :class:`GuardedH11Protocol` gives every request
``header_timeout`` seconds (up to half again, at random), counted from the connection
or from the previous response, to deliver its headers; a slower client gets 408 and
is disconnected.
Connections beyond ``max_connections`` are answered 503 and closed at once, before
they can hold a file descriptor for long.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import resource
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from shieldwall.hub.settings import HubSettings

log = logging.getLogger("shieldwall.hub")

# Descriptors the hub needs besides its connections: store, logs, listening socket,
# bus, the event loop's own.
FD_RESERVE = 64


def _refusal(status: int, phrase: str, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 response in the API's one error shape, closing the connection."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-header deadline and a connection cap.

    Configure a subclass with :func:`guarded_protocol`; the class attributes are the
    defaults of :class:`HubSettings`.
    """

    header_timeout: float = HubSettings.header_timeout
    max_connections: int = HubSettings.max_connections

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("refused a connection: %d open (max_connections)", len(self.connections))
            transport.write(
                _refusal(
                    503,
                    "Service Unavailable",
                    "too_many_connections",
                    f"the hub holds its maximum of {self.max_connections} connections: "
                    "retry shortly",
                )
            )
            transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # a request's headers are in: the deadline is met

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request's headers get the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        # Up to half again at random, so that clients which connected together are not
        # all cut off (and reconnect) in the same pass of the event loop.
        delay = self.header_timeout * (1.0 + random.random() / 2)
        self._deadline = self.loop.call_later(delay, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.transport.write(
            _refusal(
                408,
                "Request Timeout",
                "request_timeout",
                f"the request headers did not arrive within {self.header_timeout:g}s: "
                "send the whole request at once",
            )
        )
        self.transport.close()


def guarded_protocol(header_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn should build each connection with."""
    return type(
        "HubProtocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "max_connections": max_connections},
    )


@dataclass(frozen=True)
class FileLimit:
    soft: int
    hard: int
    connections: int  # what the hub will accept at most, given the limit
    warning: str  # one line, empty when the limit is enough


def fit_file_limit(wanted: int) -> FileLimit:
    """Raise the soft open-file limit towards the hard one as far as ``wanted``
    connections need; if even the hard limit is too low, serve fewer and say so."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return plan_connections(wanted, soft, hard)


def plan_connections(wanted: int, soft: int, hard: int) -> FileLimit:
    """How many connections fit an open-file limit of ``soft`` (pure)."""
    if soft == resource.RLIM_INFINITY or soft >= wanted + FD_RESERVE:
        return FileLimit(soft, hard, wanted, "")
    fits = max(1, soft - FD_RESERVE)
    return FileLimit(
        soft,
        hard,
        fits,
        f"open-file limit {soft} is below the {wanted + FD_RESERVE} that max_connections "
        f"{wanted} needs: serving at most {fits} connections; raise it (ulimit -n, "
        "systemd LimitNOFILE=) or lower max_connections in DATA/hub.toml",
    )


def server_options(settings: HubSettings, connections: int) -> dict[str, Any]:
    """uvicorn.Config keywords for the hub's settings."""
    return {
        "http": guarded_protocol(settings.header_timeout, connections),
        # uvicorn takes whole seconds; never below one.
        "timeout_keep_alive": max(1, round(settings.keep_alive)),
        "backlog": min(2048, connections),
    }
