"""A primary with a bus pump and a replica with a follower, driven in one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from shieldwall.bus.base import Bus
from shieldwall.bus.memory import MemoryBus
from shieldwall.core.model import Signal
from shieldwall.core.treaty import template_text
from shieldwall.hub.app import open_secretariat
from shieldwall.hub.replication import Follower, Pump
from shieldwall.hub.roles import prepare_replica
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.setup import init_hub
from shieldwall.signing import SigningKey
from tests.waiting import until

from .conftest import Clock

ATTACKER = "203.0.113.9"
FOUNDERS = {"alpha": "192.0.2.10", "bravo": "192.0.2.20", "charlie": "192.0.2.30"}
Connect = Callable[[], Awaitable[Bus]]


def connect_to(bus: MemoryBus) -> Callable[[], Awaitable[Bus]]:
    async def connect() -> Bus:
        return bus

    return connect


class Pair:
    """A primary with a pump and a replica with a follower, sharing one bus.

    The in-process bus by default; ``connect`` (and its ``stream``) for NATS.
    """

    def __init__(
        self,
        tmp: Path,
        template: str = "nato",
        connect: Connect | None = None,
        stream: str = "memory",
    ) -> None:
        self.tmp = tmp
        self.bus = MemoryBus()
        self.connect = connect or connect_to(self.bus)
        self.stream = stream
        self.clock = Clock()
        self.token = init_hub(tmp / "primary", template_text(template), template)
        self.primary = open_secretariat(tmp / "primary", clock=self.clock)
        self.pump = Pump(self.primary, self.connect)
        self.replica: Secretariat | None = None
        self.follower: Follower | None = None
        self.keys: dict[str, SigningKey] = {}

    async def open_replica(self) -> Secretariat:
        bus = await self.connect()
        charter = await bus.charter()
        if bus is not self.bus:
            await bus.close()
        prepare_replica(self.tmp / "replica", charter, self.stream)
        self.replica = open_secretariat(self.tmp / "replica", clock=self.clock)
        self.follower = Follower(self.replica, self.connect)
        return self.replica

    async def published(self, limit: float = 10.0) -> None:
        """Until the pump has published everything the primary recorded."""
        await until(lambda: self.pump.published == self.primary.store.last_input_seq(), limit)

    async def follow(self) -> tuple[Secretariat, asyncio.Task[None]]:
        """Open the replica and start its follower."""
        replica = await self.open_replica()
        assert self.follower is not None
        return replica, asyncio.create_task(self.follower.run())

    def close_replica(self) -> None:
        assert self.replica is not None
        self.replica.store.close()
        self.replica = None

    def close(self) -> None:
        self.primary.store.close()
        if self.replica is not None:
            self.close_replica()

    def member(self, name: str, address: str) -> None:
        key = SigningKey.generate()
        self.keys[name] = key
        self.primary.join(name, key.public_key, [address])
        self.primary.approve(name, "secretariat")

    def start(self, *names: str) -> asyncio.Task[None]:
        """Start the pump; enrol the named founders (alpha, bravo, charlie)."""
        pump = asyncio.create_task(self.pump.run())
        for name in names:
            self.member(name, FOUNDERS[name])
        return pump

    def report(self, name: str, target: str = ATTACKER, seq: int | None = None) -> None:
        ident = self.primary.identities[name]
        signal = Signal(name, target, "ssh-bruteforce", self.clock(), 6)
        self.primary.submit(name, seq or ident.last_seq + 1, [signal])

    def synced(self) -> bool:
        return (
            self.replica is not None
            and self.pump.published == self.primary.store.last_input_seq()
            and self.replica.replica_seq == self.pump.published
        )


def events(sec: Secretariat) -> list[tuple[int, str, str]]:
    return [(e.id, e.kind, e.body) for e in sec.stream.since(0, 100_000)]


def state(sec: Secretariat) -> dict[str, object]:
    now = sec.clock()
    return {
        "active": [(d.id, d.target, d.members, d.expires_at) for d in sec.active(now)],
        "members": [(m.name, m.status, m.reputation) for m in sec.council.members()],
        "keys": {n: i.public_text for n, i in sec.identities.items()},
        "policies": {n: i.policy for n, i in sec.identities.items()},
        "consultations": [
            (c.id, c.status, c.members) for c in sec.council.consultations(now, open_only=False)
        ],
        "ledger": repr(sec.council.ledger(now)),
        "events": events(sec),
        "externals": sorted(sec.externals),
    }


async def stop(*tasks: asyncio.Task[None]) -> None:
    """Cancel the pump and follower tasks and let them close their bus connections."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
