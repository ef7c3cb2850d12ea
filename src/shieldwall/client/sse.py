"""A Server-Sent Events parser (text/event-stream).

What a hub sends is input like any other: :class:`EventReader` reads raw bytes, cuts
lines itself and bounds what it holds. An event bigger than ``max_event`` bytes (a
decision is well under a kilobyte) is skipped whole and counted in ``skipped``; a
line that is not UTF-8 is skipped too. Memory stays bounded whatever arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_EVENT = 1 << 20
log = logging.getLogger("shieldwall.client")


@dataclass(frozen=True, slots=True)
class ServerEvent:
    id: int | None
    kind: str
    data: str


class _Builder:
    __slots__ = ("data", "id", "kind", "size")

    def __init__(self) -> None:
        self.id: int | None = None
        self.kind = "message"
        self.data: list[str] = []
        self.size = 0

    def feed(self, line: str) -> ServerEvent | None:
        if line == "":
            if not self.data and self.id is None:
                return None
            event = ServerEvent(self.id, self.kind, "\n".join(self.data))
            self.__init__()  # type: ignore[misc]
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self.data.append(value)
            self.size += len(value) + 1
        elif field == "event":
            self.kind = value
        elif field == "id" and value.isascii() and value.isdigit() and len(value) <= 18:
            self.id = int(value)
        return None


class EventReader:
    """Events from chunks of raw bytes, with bounded memory (see the module's doc)."""

    def __init__(self, max_event: int = MAX_EVENT) -> None:
        self.max_event = max_event
        self.skipped = 0
        self._builder = _Builder()
        self._rest = b""
        self._skipping = False  # inside an oversized event: drop lines until a blank one

    def feed(self, chunk: bytes) -> list[ServerEvent]:
        data = self._rest + chunk
        lines = data.split(b"\n")
        self._rest = lines.pop()
        events = [e for e in map(self._line, lines) if e is not None]
        if len(self._rest) + self._builder.size > self.max_event:
            self._rest = b""
            self._oversized()
        return events

    def _line(self, raw: bytes) -> ServerEvent | None:
        raw = raw.removesuffix(b"\r")
        if self._skipping:
            if raw == b"":
                self._skipping = False
            return None
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        event = self._builder.feed(line)
        if self._builder.size > self.max_event:
            self._oversized()
        return event

    def _oversized(self) -> None:
        if not self._skipping:
            self.skipped += 1
            self._skipping = True
            log.warning("skipping a stream event of more than %d bytes", self.max_event)
        self._builder = _Builder()


def read_events(
    chunks: Iterable[bytes], reader: EventReader | None = None
) -> Iterator[ServerEvent]:
    """Events from raw byte chunks (``response.iter_bytes()``), bounded by ``reader``."""
    reader = reader or EventReader()
    for chunk in chunks:
        yield from reader.feed(chunk)
