"""An in-process bus: the same contract as NATS JetStream, in a list.

For tests and for a primary and replicas in one process. Positions start at 1 and
count both subjects, as a JetStream stream's sequence does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from shieldwall.bus.base import BusError
from shieldwall.bus.records import Charter, InputRecord, decode_input


class MemoryBus:
    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.messages: list[tuple[str, bytes]] = []  # (subject, data); position = index + 1
        self._charter: Charter | None = None
        self._ids: set[str] = set()  # message ids seen, as JetStream's duplicate window
        self._changed = asyncio.Condition()
        self.fail_next = 0  # tests: how many publishes to refuse

    @property
    def where(self) -> str:
        return f"in-process bus {self.name!r}"

    async def charter(self) -> Charter | None:
        return self._charter

    async def publish_charter(self, charter: Charter) -> None:
        self._charter = charter

    async def last_input(self) -> InputRecord | None:
        for subject, data in reversed(self.messages):
            if subject == "inputs":
                return decode_input(data)
        return None

    async def publish_input(self, data: bytes, seq: int) -> None:
        await self._append("inputs", data, f"input-{seq}")

    async def _append(self, subject: str, data: bytes, msg_id: str) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise BusError(f"{self.where} refused {msg_id} (a test asked it to)")
        if msg_id in self._ids:
            return  # deduplicated, as JetStream does with Nats-Msg-Id
        self._ids.add(msg_id)
        self.messages.append((subject, data))
        async with self._changed:
            self._changed.notify_all()

    def append_raw(self, data: bytes) -> None:
        """Tests: put any bytes on the inputs subject, as a hostile writer could."""
        self.messages.append(("inputs", data))

    def follow(self, after: int) -> AsyncIterator[tuple[int, bytes]]:
        return self._follow("inputs", after)

    async def publish_receipt(self, data: bytes, msg_id: str) -> None:
        await self._append("receipts", data, msg_id)

    def follow_receipts(self, after: int) -> AsyncIterator[tuple[int, bytes]]:
        return self._follow("receipts", after)

    async def _follow(self, wanted: str, after: int) -> AsyncIterator[tuple[int, bytes]]:
        position = after
        while True:
            while position < len(self.messages):
                subject, data = self.messages[position]
                position += 1
                if subject == wanted:
                    yield position, data
            async with self._changed:
                if position >= len(self.messages):
                    await self._changed.wait()

    async def close(self) -> None:
        return None
