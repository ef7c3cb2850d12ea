"""Fan-out of the decision stream to every connected member.

Events are committed to the store first, then published here with their store ids.
A recent window is kept in memory; a subscriber resuming from an older id reads the
gap from the store, so reconnecting with ``Last-Event-ID`` gives no gap and no
duplicate. Subscribers share one wake-up per publish instead of a queue each, so a
slow member never makes the hub buffer for it.

Retention prunes old events from the store (``hub/upkeep.py``); event ids are
dense, so a gap in what the store returns means the history asked for is gone. The
subscriber then gets one ``resync`` event instead, carrying the current id, and
follows on from there, as a new member does (a member's agent answers it with a full
resynchronisation from the decision list).

Events go out in batches of at most ``chunk``. Subscribers catching up (say from
``Last-Event-ID: 0``) take turns: at most ``turns`` of them read and format a batch
in one pass of the event loop, so however many members resume at once, a request
arriving meanwhile waits for a few batches, never for a round of all of them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from shieldwall import wire


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
    def __init__(
        self,
        backfill: Backfill,
        last_id: int = 0,
        window: int = 100_000,
        chunk: int = 200,
        turns: int = 2,
    ) -> None:
        if chunk <= 0 or turns <= 0:
            raise ValueError(f"chunk {chunk!r} and turns {turns!r} must be above zero")
        self._backfill = backfill
        self.chunk = chunk
        self._turns = asyncio.Semaphore(turns)
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
        events = self._backfill(after, limit)
        if events and events[0].id > after + 1:
            return [self.resync(after, events[0])]
        return events

    def resync(self, after: int, oldest: Event) -> Event:
        """What a subscriber asking for pruned history gets: start again from now."""
        body = {
            "reason": (
                f"events after {after} up to {oldest.id - 1} were pruned by the treaty's "
                "retention: resynchronise from the decision list, then follow on"
            ),
            "after": after,
            "oldest": oldest.id,
            "cursor": self._last_id,
        }
        return Event(self._last_id, oldest.at, "resync", wire.dumps(body))

    async def follow(
        self, after: int, heartbeat: float = 15.0
    ) -> AsyncIterator[list[Event] | None]:
        """Yield batches of events after ``after`` forever; ``None`` is a heartbeat tick.

        A subscriber catching up reads each batch holding one of the ``turns`` and
        keeps it for one pass of the event loop; the consumer formats and sends the
        batch right after, before it asks for the next. So each pass of the loop
        reads and formats at most ``turns`` batches, and a member that stops reading
        never holds a turn while its connection drains.
        """
        self.subscribers += 1
        try:
            while True:
                changed = self._changed
                if self._last_id - after > self.chunk:
                    async with self._turns:
                        batch = self.since(after, self.chunk)
                        await asyncio.sleep(0)  # the rest of the loop runs before the next turn
                else:
                    batch = self.since(after, self.chunk)
                if batch:
                    after = batch[-1].id
                    yield batch
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
