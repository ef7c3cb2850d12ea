"""Fan-out of the decision stream to every connected member.

Events are committed to the store first, then published here with their store ids.
A recent window is kept in memory; a subscriber resuming from an older id reads the
gap from the store, so reconnecting with ``Last-Event-ID`` gives no gap and no
duplicate. Subscribers share one wake-up per publish instead of a queue each, so a
slow member never makes the hub buffer for it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    at: float
    kind: str
    body: str
    audience: tuple[str, ...] = ()

    def sse(self) -> bytes:
        return f"id: {self.id}\nevent: {self.kind}\ndata: {self.body}\n\n".encode()


Backfill = Callable[[int, int], list[Event]]


class Broadcaster:
    def __init__(self, backfill: Backfill, last_id: int = 0, window: int = 100_000) -> None:
        self._backfill = backfill
        self._recent: deque[Event] = deque(maxlen=window)
        self._last_id = last_id
        self._changed = asyncio.Event()
        self.subscribers = 0

    @property
    def last_id(self) -> int:
        return self._last_id

    def publish(self, events: list[Event]) -> None:
        if not events:
            return
        self._recent.extend(events)
        self._last_id = events[-1].id
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def since(self, after: int, limit: int = 5000) -> list[Event]:
        """Events with id > ``after``, oldest first, at most ``limit``."""
        if after >= self._last_id:
            return []
        recent = self._recent
        if recent and after >= recent[0].id - 1:
            # ids are dense: index arithmetic finds the start without scanning.
            start = after - recent[0].id + 1
            return [recent[i] for i in range(start, min(len(recent), start + limit))]
        return self._backfill(after, limit)

    async def follow(self, after: int, heartbeat: float = 15.0) -> AsyncIterator[Event | None]:
        """Yield events after ``after`` forever; ``None`` is a heartbeat tick."""
        self.subscribers += 1
        try:
            while True:
                changed = self._changed
                batch = self.since(after)
                if batch:
                    for event in batch:
                        yield event
                    after = batch[-1].id
                    continue
                try:
                    # asyncio.timeout, not wait_for: Python 3.11's wait_for can
                    # swallow a cancellation that arrives with a publish.
                    async with asyncio.timeout(heartbeat):
                        await changed.wait()
                except TimeoutError:
                    yield None
        finally:
            self.subscribers -= 1
