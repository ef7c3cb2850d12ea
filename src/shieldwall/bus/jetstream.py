"""The bus on NATS JetStream: one stream per alliance, two subjects.

Stream ``NAME`` (``bus_stream``, default ``shieldwall``) holds ``NAME.charter`` (the
treaty, republished when it changes) and ``NAME.inputs`` (the primary's recorded
inputs, one message each, ``Nats-Msg-Id: input-SEQ`` so a resend after a crash is
dropped by JetStream's duplicate window). File storage, no age limit: the input log
is how a new replica catches up from nothing. A replica follows with an ordered
consumer from the stream sequence after the last one it applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from shieldwall.bus.base import BusError, check_bus_url, check_stream
from shieldwall.bus.records import (
    Charter,
    InputRecord,
    decode_charter,
    decode_input,
    encode_charter,
)
from shieldwall.store.urls import redact, scrub

log = logging.getLogger("shieldwall.bus")

try:
    import nats
    from nats.errors import Error as NatsError
    from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
    from nats.js.errors import NotFoundError
except ImportError:  # pragma: no cover - shown as a BusError when a bus is configured
    nats = None  # type: ignore[assignment]


class NatsBus:
    """A connected bus; make one with :meth:`NatsBus.connect`."""

    def __init__(self, url: str, stream: str, client: Any) -> None:
        self._url = url
        self.stream = stream
        self._nc = client
        self._js = client.jetstream(timeout=10)
        self.max_payload = int(client.max_payload)
        self.missing = False  # the stream does not exist (yet): no primary has published

    def __repr__(self) -> str:
        return f"NatsBus({self.where!r})"

    @property
    def where(self) -> str:
        return f"NATS {redact(self._url)} stream {self.stream!r}"

    @property
    def inputs_subject(self) -> str:
        return f"{self.stream}.inputs"

    @property
    def charter_subject(self) -> str:
        return f"{self.stream}.charter"

    @property
    def receipts_subject(self) -> str:
        return f"{self.stream}.receipts"

    @classmethod
    async def connect(
        cls, url: str, stream: str, timeout: float = 10.0, *, create: bool = True
    ) -> NatsBus:
        """Connect, and (``create``: the primary) make sure the stream exists.

        BusError says what to do when the server cannot be reached or refuses.
        """
        if nats is None:
            raise BusError("a NATS bus needs nats-py: pip install 'shieldwall[nats]'")
        url = check_bus_url(url, "bus")
        stream = check_stream(stream, "bus")
        servers = url.split(",")
        where = redact(url)
        complained: dict[str, float] = {}
        last_error = ["timed out"]
        up = [False]

        async def quiet(exc: Exception) -> None:
            # Before the first connection the failure is the caller's error message;
            # after it, one line per distinct failure a minute, never a traceback.
            text = scrub(f"{type(exc).__name__}: {exc}", url)
            last_error[0] = text
            now = time.monotonic()
            if up[0] and now - complained.get(text, -1e9) >= 60:
                complained[text] = now
                log.warning("bus %s: %s", where, text)

        try:
            async with asyncio.timeout(timeout):
                client = await nats.connect(
                    servers,
                    name="shieldwall-hub",
                    connect_timeout=min(timeout, 5.0),
                    reconnect_time_wait=1.0,
                    max_reconnect_attempts=-1,
                    error_cb=quiet,
                )
        except (TimeoutError, OSError, NatsError) as exc:
            reason = scrub(str(exc), url) if str(exc) else last_error[0]
            raise BusError(
                f"cannot reach the NATS server at {where} ({reason}): "
                "start nats-server with JetStream (nats-server -js) or fix the bus URL"
            ) from None
        up[0] = True
        bus = cls(url, stream, client)
        try:
            await bus._ensure_stream(create)
        except BaseException:
            await client.close()
            raise
        return bus

    async def _ensure_stream(self, create: bool) -> None:
        """The stream, with our subjects; made by the primary (``create``), never a replica."""
        subjects = [self.inputs_subject, self.charter_subject, self.receipts_subject]
        try:
            info = await self._js.stream_info(self.stream)
        except NotFoundError:
            info = None
        except (NatsError, TimeoutError) as exc:
            raise BusError(
                f"{self.where}: JetStream does not answer ({type(exc).__name__}): "
                "start nats-server with JetStream enabled (-js)"
            ) from None
        if info is None:
            if not create:
                self.missing = True
                return
            config = StreamConfig(
                name=self.stream,
                subjects=subjects,
                storage=StorageType.FILE,
                duplicate_window=120.0,
                description="shieldwall: a primary hub's recorded inputs, its replicas' receipts",
            )
            try:
                await self._js.add_stream(config)
            except (NatsError, TimeoutError) as exc:
                raise BusError(f"{self.where}: cannot create the stream ({exc})") from None
            return
        have = set(info.config.subjects or [])
        if any(not subject.startswith(self.stream + ".") for subject in have):
            raise BusError(
                f"{self.where}: stream {self.stream!r} exists for other subjects "
                f"({', '.join(sorted(have))}): choose another bus_stream"
            )
        if create and not set(subjects) <= have:
            # A stream made by an older shieldwall: add the subjects it lacks.
            info.config.subjects = sorted(have | set(subjects))
            try:
                await self._js.update_stream(info.config)
            except (NatsError, TimeoutError) as exc:
                raise BusError(f"{self.where}: cannot add subjects to the stream ({exc})") from None

    async def _last(self, subject: str) -> Any:
        if self.missing:
            return None
        try:
            return await self._js.get_last_msg(self.stream, subject)
        except NotFoundError:
            return None
        except (NatsError, TimeoutError) as exc:
            raise BusError(f"{self.where}: cannot read {subject} ({type(exc).__name__})") from None

    async def charter(self) -> Charter | None:
        msg = await self._last(self.charter_subject)
        return None if msg is None else decode_charter(msg.data, f"{self.where} charter")

    async def publish_charter(self, charter: Charter) -> None:
        await self._publish(self.charter_subject, encode_charter(charter), None)

    async def last_input(self) -> InputRecord | None:
        msg = await self._last(self.inputs_subject)
        if msg is None:
            return None
        return decode_input(msg.data, f"{self.where} message {msg.seq}")

    async def publish_input(self, data: bytes, seq: int) -> None:
        if len(data) > self.max_payload:
            raise BusError(
                f"input {seq} is {len(data)} bytes, more than the NATS server's max_payload "
                f"({self.max_payload}): raise max_payload in nats-server's configuration"
            )
        await self._publish(self.inputs_subject, data, f"input-{seq}")

    async def _publish(self, subject: str, data: bytes, msg_id: str | None) -> None:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        try:
            await self._js.publish(subject, data, stream=self.stream, headers=headers, timeout=10)
        except (NatsError, TimeoutError) as exc:
            raise BusError(f"{self.where}: publish failed ({type(exc).__name__}: {exc})") from None

    def follow(self, after: int) -> AsyncIterator[tuple[int, bytes]]:
        return self._follow(self.inputs_subject, after)

    async def publish_receipt(self, data: bytes, msg_id: str) -> None:
        await self._publish(self.receipts_subject, data, msg_id)

    def follow_receipts(self, after: int) -> AsyncIterator[tuple[int, bytes]]:
        return self._follow(self.receipts_subject, after)

    async def _follow(self, subject: str, after: int) -> AsyncIterator[tuple[int, bytes]]:
        if self.missing:
            raise BusError(
                f"{self.where}: the stream does not exist: start the primary with "
                "'shieldwall hub serve --bus URL' (with the same bus stream)"
            )
        config = (
            ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1)
            if after > 0
            else ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        )
        try:
            sub = await self._js.subscribe(
                subject, stream=self.stream, ordered_consumer=True, config=config
            )
        except (NatsError, TimeoutError) as exc:
            raise BusError(f"{self.where}: cannot follow {subject} ({exc})") from None
        try:
            async for msg in sub.messages:
                yield int(msg.metadata.sequence.stream), msg.data
        finally:
            with contextlib.suppress(NatsError, TimeoutError):
                await sub.unsubscribe()

    async def close(self) -> None:
        with contextlib.suppress(NatsError, TimeoutError):
            await self._nc.close()


async def delete_stream(url: str, stream: str) -> None:
    """Remove ``stream`` and everything on it, whatever its subjects (tests, decommissioning).

    A stream that does not exist is not an error.
    """
    if nats is None:
        raise BusError("a NATS bus needs nats-py: pip install 'shieldwall[nats]'")
    nc = await nats.connect(check_bus_url(url, "bus").split(","))
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()
