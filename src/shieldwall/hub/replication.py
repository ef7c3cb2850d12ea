"""Replication over the bus: the primary's pump and a replica's follower.

The primary's store is the source of truth. The :class:`Pump` publishes every
recorded input, in order, from the store to the bus (on a hub of several nodes, only
the leader's pump does); it remembers nothing itself,
so after a crash or a bus outage it reads the bus's last input and carries on after
it (JetStream drops a resend it already holds). A :class:`Follower` applies the
inputs to a replica's own secretariat, which records them in its own store with the
bus position, and so resumes exactly where it stopped.

Both run as tasks on the hub's event loop and never stop it: a bus that cannot be
reached is retried with backoff, and what they are doing is in :meth:`status`
(``/healthz``, ``/metrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from shieldwall.bus.base import Bus, BusError
from shieldwall.bus.records import (
    InputRecord,
    Receipt,
    decode_input,
    decode_receipt,
    encode_input,
    encode_receipt,
)
from shieldwall.hub.bookkeeping import (
    RECEIPT_N,
    RECEIPTS_POSITION,
    REPLICA_ID,
    ReplicationError,
    StoreFailure,
)
from shieldwall.hub.secretariat import Secretariat

log = logging.getLogger("shieldwall.bus")

Connect = Callable[[], Awaitable[Bus]]
BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0)


class OnTheBus(ABC):
    """A task that holds a bus connection, reconnecting with backoff until told to stop.

    ``_session`` does the work on one connection; ``_failed`` says whether to retry.
    """

    _connect: Connect
    state: str
    error: str

    async def run(self) -> None:
        attempt = 0
        while True:
            bus: Bus | None = None
            try:
                bus = await self._connect()
                attempt = 0
                await self._session(bus)
            except Exception as exc:  # a task of the hub must never die silently
                if not self._failed(exc):
                    return
            finally:
                if bus is not None:
                    await bus.close()
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            attempt += 1

    @abstractmethod
    async def _session(self, bus: Bus) -> None:
        """The work done on one connection; returns or raises when it ends."""

    @abstractmethod
    def _failed(self, exc: Exception) -> bool:
        """Note what ``exc`` means (state, error); True to reconnect and go on."""


class Pump(OnTheBus):
    """Publishes the primary's recorded inputs to the bus, in order, exactly once."""

    def __init__(self, sec: Secretariat, connect: Connect, page: int = 500) -> None:
        self.sec = sec
        self._connect = connect
        self._page = page
        self._wake = asyncio.Event()
        self.published = 0
        self.receipts = 0
        self.state = "starting"
        self.error = ""
        self.fatal = False
        sec.commit_hooks.append(self._wake.set)

    def status(self) -> dict[str, Any]:
        return {
            "role": "primary",
            "state": self.state,
            "published_input": self.published,
            "recorded_input": self.sec.store.last_input_seq(),
            "receipts": self.receipts,
            "error": self.error or None,
        }

    async def _session(self, bus: Bus) -> None:
        while self.sec.standby:  # a standby node: its leader publishes (hub/leadership.py)
            self.state = "standby"
            await asyncio.sleep(0.5)
        await self._start(bus)
        self.state, self.error = "publishing", ""
        await together(self._publish_forever(bus), self._read_receipts(bus))

    def _failed(self, exc: Exception) -> bool:
        self.error = str(exc)
        if self.fatal:
            self.state = "stopped"
            log.error("bus pump stopped: %s", exc)
            return False
        self.state = "retrying"
        log.warning("bus pump: %s (retrying)", exc, exc_info=not isinstance(exc, BusError))
        return True

    async def _start(self, bus: Bus) -> None:
        charter = self.sec.charter()
        existing = await bus.charter()
        if existing is not None and existing.treaty_digest != charter.treaty_digest:
            self.fatal = True
            raise BusError(
                f"{bus.where} carries another alliance (treaty digest "
                f"{existing.treaty_digest[:12]}…, this hub's is {charter.treaty_digest[:12]}…): "
                "give this hub its own bus_stream"
            )
        if existing != charter:
            await bus.publish_charter(charter)
        try:
            last = await bus.last_input()
        except ValueError as exc:
            self.fatal = True
            raise BusError(
                f"the last input on {bus.where} is not this hub's ({exc}): "
                "give this hub its own bus_stream"
            ) from None
        self.published = 0 if last is None else last.seq
        recorded = self.sec.store.last_input_seq()
        if self.published > recorded:
            self.fatal = True
            raise BusError(
                f"{bus.where} holds input {self.published} but this hub's records end at "
                f"{recorded}: the stream belongs to another hub or the store was restored "
                "from a backup; delete the stream or give this hub another bus_stream"
            )

    async def _publish_forever(self, bus: Bus) -> None:
        store = self.sec.store
        while True:
            if self.sec.standby:
                raise BusError("this node no longer leads: its new leader publishes")
            self._wake.clear()
            rows = store.inputs_after(self.published, self._page)
            for seq, at, kind, text in rows:
                payload = json.loads(text)
                record = InputRecord(
                    seq=seq,
                    prev=self.published,
                    at=at,
                    kind=kind,
                    payload=payload,
                    signals=tuple(store.signals_of_input(seq)) if kind == "signals" else (),
                    member=self._member(seq, kind, payload),
                )
                await bus.publish_input(encode_input(record), seq)
                self.published = seq
            if len(rows) < self._page:
                # Woken by the next commit; the timeout is only a safety net.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5.0):
                        await self._wake.wait()

    def _member(self, seq: int, kind: str, payload: dict[str, Any]) -> tuple[str, bool] | None:
        """An accession's (public key, external): what a replica needs to admit it."""
        if kind != "apply":
            return None
        entry = self.sec.store.member_entry(payload["name"])
        if entry is None:
            self.fatal = True
            raise BusError(
                f"input {seq} admits {payload['name']!r}, whom this hub's store does not "
                "hold: the store is damaged; restore it before publishing again"
            )
        return entry

    async def _read_receipts(self, bus: Bus) -> None:
        """Record what members received from the replicas' streams (ledger consumption)."""
        after = int(self.sec.store.get_meta(RECEIPTS_POSITION) or 0)
        async for position, data in bus.follow_receipts(after):
            try:
                receipt = decode_receipt(data, f"{bus.where} receipt {position}")
            except ValueError as exc:
                # A replica's bad receipt costs that receipt, never the primary.
                log.warning("ignoring %s", exc)
                self.sec.store.set_meta(RECEIPTS_POSITION, str(position))
                continue
            self.sec.apply_receipt(receipt, position)
            self.receipts += 1


async def together(*work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` side by side; the first to fail stops the others and raises."""
    tasks = [asyncio.create_task(w) for w in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Follower(OnTheBus):
    """Applies the primary's inputs from the bus to a replica, in order."""

    def __init__(
        self,
        sec: Secretariat,
        connect: Connect,
        yield_every: int = 200,
        receipt_every: float | None = None,
    ) -> None:
        if sec.replica_of is None:
            raise ValueError("a follower needs a replica's secretariat")
        self.sec = sec
        self._connect = connect
        self._yield_every = yield_every
        self._receipt_every = receipt_every or sec.settings.received_flush
        self._replica_id = sec.store.get_meta(REPLICA_ID) or "replica"
        self._pending: Receipt | None = None  # sent again, unchanged, until the bus has it
        self.state = "starting"
        self.error = ""
        self.last_input_at: float | None = None  # the primary's time of the last input applied

    def status(self) -> dict[str, Any]:
        return {
            "role": "replica",
            "replica_of": self.sec.replica_of,
            "state": self.state,
            "applied_input": self.sec.replica_seq,
            "bus_position": self.sec.replica_position,
            "last_input_at": self.last_input_at,
            "error": self.error or None,
        }

    async def _session(self, bus: Bus) -> None:
        self.state, self.error = "following", ""
        await together(self._follow(bus), self._send_receipts(bus))

    def _failed(self, exc: Exception) -> bool:
        self.error = str(exc)
        if isinstance(exc, (ValueError, ReplicationError)):
            # Applying anything after a bad or missing input would diverge.
            self.state = "halted"
            log.error("replica halted: %s", exc)
            return False
        self.state = "retrying"  # the bus or this replica's store: both come back
        expected = isinstance(exc, (BusError, StoreFailure))
        log.warning("replica: %s (retrying)", exc, exc_info=not expected)
        return True

    async def _follow(self, bus: Bus) -> None:
        applied = 0
        async for position, data in bus.follow(self.sec.replica_position):
            record = decode_input(data, f"{bus.where} message {position}")
            if self.sec.replicate(record, position):
                self.last_input_at = record.at
            applied += 1
            if applied % self._yield_every == 0:
                await asyncio.sleep(0)  # catching up must not starve the members' requests

    async def _send_receipts(self, bus: Bus) -> None:
        """Tell the primary, now and then, how many decisions each member streamed here."""
        while True:
            await asyncio.sleep(self._receipt_every)
            await self.send_receipt(bus)

    async def send_receipt(self, bus: Bus) -> None:
        if self._pending is None:
            counts = self.sec.take_received()
            if not counts:
                return
            store = self.sec.store
            n = int(store.get_meta(RECEIPT_N) or 0) + 1
            store.set_meta(RECEIPT_N, str(n))  # before sending: a number is never reused
            self._pending = Receipt(self._replica_id, n, counts)
        receipt = self._pending
        await bus.publish_receipt(encode_receipt(receipt), f"{receipt.replica}-{receipt.n}")
        self._pending = None
