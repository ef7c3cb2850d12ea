"""Hub nodes on one PostgreSQL store, in one process: the leader records, a standby
follows the records through the same council, a takeover fences the old leader, and
the old leader rejoins as a standby with the same state as a replay of the records.

The nodes here are the ones ``hub serve`` runs on a PostgreSQL store, driven step by
step instead of by their task; tests/e2e/test_failover_e2e.py runs real processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shieldwall.bus.memory import MemoryBus
from shieldwall.client import HubClient, HubError
from shieldwall.core.model import Signal
from shieldwall.core.treaty import template_text
from shieldwall.hub.app import create_app
from shieldwall.hub.bookkeeping import ReadOnly, StoreFailure
from shieldwall.hub.leadership import Leadership, open_node
from shieldwall.hub.replication import Pump
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.settings import HubSettings
from shieldwall.hub.setup import init_hub
from shieldwall.signing import SigningKey
from shieldwall.store.postgres import PostgresStore
from tests.conftest import require_env
from tests.store.pg import scratch_schema
from tests.waiting import wait

from .conftest import Clock
from .replicas import ATTACKER, FOUNDERS, connect_to, state, stop, until

pytestmark = pytest.mark.postgres


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with scratch_schema(require_env("SHIELDWALL_TEST_PG"), prefix="sw_lead") as url:
        init_hub(tmp_path / "hub", template_text("nato"), "nato", store=url)
        yield url


def _report(sec: Secretariat, name: str, target: str = ATTACKER) -> None:
    signal = Signal(name, target, "ssh-bruteforce", sec.clock(), 6)
    sec.submit(name, sec.identities[name].last_seq + 1, [signal])


def _caught_up(node: Leadership) -> None:
    while node.follow():
        pass


def _take_over(node: Leadership) -> None:
    """``node`` takes the lease once the leader stopped renewing it, and leads."""
    taken: list[int] = []
    wait(lambda: bool(taken.append(e) if (e := node.lease.acquire()) else False) or bool(taken))
    node.promote(taken[0], time.monotonic())


@pytest.mark.parametrize(
    "fenced",
    [
        pytest.param("change", id="refused-before-the-council-changed"),
        pytest.param("tick", id="refused-after-the-council-ticked"),  # rebuilt, resynced
    ],
)
def test_a_standby_follows_takes_over_and_fences_the_old_leader(
    store_url: str, fenced: str
) -> None:
    clock = Clock()
    settings = HubSettings(store=store_url, lease=0.3)
    a = open_node(settings, store_url, "http://a.test", clock)
    b = open_node(settings, store_url, "http://b.test", clock)
    nodes = [a, b]
    try:
        assert (a.role, a.epoch, b.role, b.epoch) == ("leader", 1, "standby", 0)
        assert a.forward_to() is None and b.forward_to() == "http://a.test"
        for name, address in FOUNDERS.items():
            a.sec.join(name, SigningKey.generate().public_key, [address])
            a.sec.approve(name, "secretariat")
        _report(a.sec, "alpha")
        _report(a.sec, "bravo")
        assert a.sec.active(clock()), "two reports made a decision"
        _report(a.sec, "charlie", "198.51.100.99")  # a lone report: a consultation opens
        behind = b.status()
        assert behind["lag_inputs"] == a.store.last_input_seq() > 0
        assert behind["lag_seconds"] >= 0.0
        _caught_up(b)
        assert state(b.sec) == state(a.sec), "same council, same stream ids"
        assert (b.status()["lag_inputs"], b.status()["lag_seconds"]) == (0, 0.0)
        with pytest.raises(ReadOnly, match="standby: send changes to the leader"):
            b.sec.approve("alpha", "secretariat")
        assert not b.sec.tick(), "a standby's clock moves only with the recorded inputs"

        # a stops renewing (paused); b takes over and records under epoch 2.
        _take_over(b)
        assert (b.role, b.epoch) == ("leader", 2)
        clock.advance(3600)  # the consultation's window has passed
        _report(b.sec, "charlie", "198.51.100.7")  # ... and b's council closed it
        rebuilds = a.sec.stats.council_rebuilds
        if fenced == "change":
            before = state(a.sec)
            with pytest.raises(StoreFailure):
                _report(a.sec, "alpha", "198.51.100.8")  # a has not noticed: fenced
            assert state(a.sec) == before, "the refused commit changed nothing"
            assert a.sec.stats.council_rebuilds == rebuilds
        else:
            with pytest.raises(StoreFailure):
                a.sec.tick()  # the tick moved a's council before its commit was refused
            assert a.sec.stats.council_rebuilds == rebuilds + 1

        # a notices at its next renewal, rebuilds from the records and follows b.
        assert not a.lease.renew(a.epoch)
        a.demote("test")
        assert (a.role, a.forward_to()) == ("standby", "")
        _caught_up(a)
        assert state(a.sec) == state(b.sec)

        # ... and both equal a single node replaying the records.
        fresh = Secretariat(PostgresStore(store_url, lock_wait=0), clock, settings)
        try:
            assert state(fresh) == state(b.sec)
        finally:
            fresh.store.close()
    finally:
        for node in nodes:
            node.lease.close()
            node.store.close()


def test_only_the_leader_publishes_to_the_bus(store_url: str) -> None:
    settings = HubSettings(store=store_url, lease=30.0)
    a = open_node(settings, store_url, "http://a.test", Clock())
    b = open_node(settings, store_url, "http://b.test", Clock())
    bus = MemoryBus()

    async def scenario() -> None:
        pumps = [Pump(node.sec, connect_to(bus)) for node in (a, b)]
        tasks = [asyncio.create_task(p.run()) for p in pumps]
        try:
            a.sec.join("alpha", SigningKey.generate().public_key, ["192.0.2.10"])
            recorded = a.store.last_input_seq()
            await until(lambda: pumps[0].published == recorded, what="the leader publishing")
            await until(lambda: pumps[1].state == "standby", what="the standby's pump waiting")
            assert pumps[1].published == 0
        finally:
            await stop(*tasks)

    try:
        asyncio.run(scenario())
    finally:
        for node in (a, b):
            node.lease.close()
            node.store.close()


def test_a_standby_asks_a_member_it_has_not_caught_up_with_to_resend(store_url: str) -> None:
    clock = Clock()
    settings = HubSettings(store=store_url, lease=30.0)
    a = open_node(settings, store_url, "http://a.test", clock)
    b = open_node(settings, store_url, "http://b.test", clock)
    key = SigningKey.generate()
    try:
        a.sec.join("alpha", key.public_key, ["192.0.2.10"])
        a.sec.approve("alpha", "secretariat")
        with TestClient(create_app(b.sec, ticker=False), base_url="http://b.test") as http:
            member = HubClient("http://b.test", name="alpha", key=key, http=http, clock=clock)
            with pytest.raises(HubError) as early:
                member.decisions(member="alpha")
            assert (early.value.status, early.value.code) == (503, "catching_up")
            _caught_up(b)
            assert member.decisions(member="alpha")["decisions"] == []
            stranger = HubClient(
                "http://b.test", name="nobody", key=SigningKey.generate(), http=http, clock=clock
            )
            with pytest.raises(HubError) as unknown:
                stranger.decisions(member="nobody")
            assert (unknown.value.status, unknown.value.code) == (403, "unknown_member")
    finally:
        for node in (a, b):
            node.lease.close()
            node.store.close()


def test_only_the_leader_checkpoints_and_a_resyncing_standby_starts_from_it(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from shieldwall.hub import checkpoints
    from shieldwall.hub.upkeep import Upkeep, build, store_built

    clock = Clock()
    settings = HubSettings(store=store_url, lease=0.3, checkpoint_inputs=1)
    a = open_node(settings, store_url, "http://a.test", clock)
    b = open_node(settings, store_url, "http://b.test", clock)
    try:
        for name, address in FOUNDERS.items():
            a.sec.join(name, SigningKey.generate().public_key, [address])
            a.sec.approve(name, "secretariat")
        _report(a.sec, "alpha")
        _report(a.sec, "bravo")
        assert asyncio.run(Upkeep(b.sec, tmp_path / "b", clock=clock).step()) is None
        written = asyncio.run(Upkeep(a.sec, tmp_path / "a", clock=clock).step())
        assert written is not None and a.store.checkpoints()[0].seq == written.row.seq
        _report(a.sec, "charlie", "198.51.100.99")

        # A standby resyncing loads the checkpoint and replays only what came after.
        caplog.set_level(logging.INFO, logger="shieldwall.hub")
        b.resync()
        assert f"loaded the checkpoint at input {written.row.seq} and replayed 1" in caplog.text
        _caught_up(b)  # the stream's events
        assert state(b.sec) == state(a.sec)

        # b takes over; a, deposed but not yet aware, cannot store a checkpoint.
        _take_over(b)
        late = build(a.store, a.sec.founding, a.store.last_input_seq(), clock())
        with pytest.raises(Exception, match="shieldwall fence: this hub writes under epoch 1"):
            store_built(a.store, late)
        assert [r.seq for r in b.store.checkpoints()] == [written.row.seq]
        assert checkpoints.verify(b.store, b.sec.founding).ok
    finally:
        for node in (a, b):
            node.lease.close()
            node.store.close()
