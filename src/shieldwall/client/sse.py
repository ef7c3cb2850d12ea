"""A Server-Sent Events parser over lines (text/event-stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerEvent:
    id: int | None
    kind: str
    data: str


class _Builder:
    __slots__ = ("data", "id", "kind")

    def __init__(self) -> None:
        self.id: int | None = None
        self.kind = "message"
        self.data: list[str] = []

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
        elif field == "event":
            self.kind = value
        elif field == "id" and value.isdigit():
            self.id = int(value)
        return None


def parse(lines: Iterable[str]) -> Iterator[ServerEvent]:
    builder = _Builder()
    for line in lines:
        event = builder.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event


async def aparse(lines: AsyncIterator[str]) -> AsyncIterator[ServerEvent]:
    builder = _Builder()
    async for line in lines:
        event = builder.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event
