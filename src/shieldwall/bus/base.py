"""The interface of a bus and how its URL and stream name are checked.

A bus is an ordered, durable log with two subjects: the alliance's charter (its
treaty) and the primary's recorded inputs. Positions are the bus's own numbers (a
JetStream stream sequence); a replica remembers the last position it applied and
follows from there.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Protocol

from shieldwall.bus.records import Charter, InputRecord
from shieldwall.store.urls import redact

BUS_SCHEMES = ("nats://", "tls://")
_STREAM = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
DEFAULT_STREAM = "shieldwall"


class BusError(RuntimeError):
    """The bus cannot be reached or refused an operation; the message says what to do."""


class Bus(Protocol):
    @property
    def where(self) -> str:
        """The bus and stream, for messages (never a password)."""
        ...

    async def charter(self) -> Charter | None: ...

    async def publish_charter(self, charter: Charter) -> None: ...

    async def last_input(self) -> InputRecord | None:
        """The newest input on the bus (a pump resumes after it); None if there is none."""
        ...

    async def publish_input(self, data: bytes, seq: int) -> None:
        """Append one encoded input; durable once this returns. Idempotent per ``seq``."""
        ...

    def follow(self, after: int) -> AsyncIterator[tuple[int, bytes]]:
        """(position, encoded input) for every input after position ``after``, forever."""
        ...

    async def publish_receipt(self, data: bytes, msg_id: str) -> None:
        """A replica's receipt for the primary; durable once this returns."""
        ...

    def follow_receipts(self, after: int) -> AsyncIterator[tuple[int, bytes]]:
        """(position, encoded receipt) for every receipt after position ``after``."""
        ...

    async def close(self) -> None: ...


def check_bus_url(url: str, source: str) -> str:
    """``url`` if it names a NATS server (or a comma-separated list of them)."""
    servers = [s.strip() for s in url.split(",")]
    for server in servers:
        scheme, sep, rest = server.partition("://")
        host = rest.rpartition("@")[2].split("/")[0]
        if not sep or f"{scheme.lower()}://" not in BUS_SCHEMES or not host:
            raise ValueError(
                f"{source}: bus {redact(server)!r} is not a NATS URL: give "
                "nats://HOST:4222 (a NATS server with JetStream, e.g. nats-server -js)"
            )
    return ",".join(servers)


def check_stream(name: str, source: str) -> str:
    if not _STREAM.match(name):
        raise ValueError(
            f"{source}: bus stream {name[:40]!r} is invalid: use 1 to 32 letters, digits, - or _"
        )
    return name
