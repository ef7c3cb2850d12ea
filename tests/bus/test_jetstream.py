"""The bus on a real NATS JetStream server: stream, order, duplicates, replicas, outages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from shieldwall.bus.base import BusError
from shieldwall.bus.jetstream import NatsBus
from shieldwall.bus.records import InputRecord, decode_input, encode_input
from shieldwall.hub.roles import nats_connect
from tests.hub.replicas import Pair, state, stop, until

from .conftest import NatsServer

pytestmark = pytest.mark.nats


def tick(seq: int, prev: int) -> InputRecord:
    return InputRecord(seq, prev, 1_800_000_000.0 + seq, "tick", {})


def test_inputs_in_order_once_and_followed_from_a_position(nats_url: str, stream: str) -> None:
    async def scenario() -> None:
        bus = await NatsBus.connect(nats_url, stream)
        assert await bus.last_input() is None
        assert await bus.charter() is None
        for seq in (1, 2, 3):
            await bus.publish_input(encode_input(tick(seq, seq - 1)), seq)
        await bus.publish_input(encode_input(tick(2, 1)), 2)  # a resend: dropped by JetStream
        last = await bus.last_input()
        assert last is not None and last.seq == 3
        seen: list[tuple[int, int]] = []
        async for position, data in bus.follow(0):
            seen.append((position, decode_input(data).seq))
            if len(seen) == 3:
                break
        assert [seq for _, seq in seen] == [1, 2, 3]
        after_first = seen[0][0]
        rest = []
        async for _position, data in bus.follow(after_first):
            rest.append(decode_input(data).seq)
            if len(rest) == 2:
                break
        assert rest == [2, 3]
        await bus.close()

    asyncio.run(scenario())


def test_primary_and_replica_over_jetstream(tmp_path: Path, nats_url: str, stream: str) -> None:
    pair = Pair(tmp_path, connect=nats_connect(nats_url, stream), stream=stream)

    async def scenario() -> None:
        pump = pair.start("alpha", "bravo", "charlie")
        await pair.published()
        replica, follow = await pair.follow()
        pair.report("alpha")
        pair.report("bravo")
        await until(pair.synced, 20)
        assert state(replica) == state(pair.primary)
        assert [d.target for d in replica.active(pair.clock())] == ["203.0.113.9"]
        await stop(pump, follow)

    try:
        asyncio.run(scenario())
    finally:
        pair.close()


def test_a_bus_outage_loses_nothing(tmp_path: Path, private_nats: NatsServer) -> None:
    """The NATS server dies and comes back: the pump and the replica carry on."""
    connect = nats_connect(private_nats.url, "outage")
    pair = Pair(tmp_path, connect=connect, stream="outage")

    async def scenario() -> None:
        pump = pair.start("alpha", "bravo")
        await pair.published(20)
        replica, follow = await pair.follow()
        await until(pair.synced, 20)
        private_nats.stop()
        pair.report("alpha")  # recorded by the primary while the bus is down
        pair.report("bravo")
        # The pump tried to publish them and failed: the outage is seen, not assumed.
        await until(lambda: pair.pump.status()["state"] == "retrying", 60, "the pump retrying")
        assert replica.replica_seq < pair.primary.store.last_input_seq()
        private_nats.start()  # same JetStream storage directory
        await until(pair.synced, 60)
        assert state(replica) == state(pair.primary)
        assert pair.pump.status()["state"] == "publishing"
        await stop(pump, follow)

    try:
        asyncio.run(scenario())
    finally:
        pair.close()


def test_an_unreachable_server_is_one_clear_error() -> None:
    async def scenario() -> None:
        with pytest.raises(BusError) as info:
            await NatsBus.connect("nats://user:s3cret@127.0.0.1:1", "x", timeout=2)
        message = str(info.value)
        assert "cannot reach the NATS server at nats://user:***@127.0.0.1:1" in message
        assert "nats-server -js" in message
        assert "s3cret" not in message

    asyncio.run(scenario())


def test_a_stream_of_other_subjects_is_refused(nats_url: str, stream: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        await nc.jetstream().add_stream(
            StreamConfig(name=stream, subjects=[f"elsewhere-{stream}.>"])
        )
        await nc.close()
        with pytest.raises(
            BusError, match=r"exists for other subjects .* choose another bus_stream"
        ):
            await NatsBus.connect(nats_url, stream)

    asyncio.run(scenario())


def test_an_input_above_the_server_limit_is_refused(nats_url: str, stream: str) -> None:
    async def scenario() -> None:
        bus = await NatsBus.connect(nats_url, stream)
        with pytest.raises(BusError, match="more than the NATS server's max_payload"):
            await bus.publish_input(b"x" * (bus.max_payload + 1), 1)
        assert await bus.last_input() is None
        await bus.close()

    asyncio.run(scenario())


def test_a_replica_never_creates_the_stream(nats_url: str, stream: str) -> None:
    async def scenario() -> None:
        bus = await NatsBus.connect(nats_url, stream, create=False)
        assert await bus.charter() is None and await bus.last_input() is None
        with pytest.raises(BusError, match="the stream does not exist: start the primary"):
            async for _ in bus.follow(0):
                pass
        await bus.close()
        nc = await nats.connect(nats_url)
        with pytest.raises(NotFoundError):
            await nc.jetstream().stream_info(stream)
        await nc.close()

    asyncio.run(scenario())


def test_the_primary_adds_subjects_an_older_stream_lacks(nats_url: str, stream: str) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream}.inputs"]))
        bus = await NatsBus.connect(nats_url, stream)
        info = await js.stream_info(stream)
        assert set(info.config.subjects or []) == {
            f"{stream}.inputs",
            f"{stream}.charter",
            f"{stream}.receipts",
        }
        await bus.close()
        await nc.close()

    asyncio.run(scenario())
