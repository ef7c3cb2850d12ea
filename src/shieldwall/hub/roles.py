"""A hub's role on the bus: a primary publishing its inputs, or a replica of one.

``hub serve`` with a bus (``--bus``, the setting ``bus`` or ``SHIELDWALL_BUS``) runs a
:class:`~shieldwall.hub.replication.Pump` beside the API. ``hub replica`` keeps its
own copy of the alliance in its own data directory (SQLite), created from the bus's
charter on first start, applies the primary's inputs as they arrive, answers every
read itself and forwards every change to the primary.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from shieldwall.bus.base import Bus, BusError, check_bus_url
from shieldwall.bus.records import Charter
from shieldwall.hub.bookkeeping import REPLICA_ID, REPLICA_OF
from shieldwall.hub.replication import Follower, Pump
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.settings import HubSettings
from shieldwall.hub.storage import DB_NAME
from shieldwall.store.sqlite import SQLiteStore, StoreError

BUS_ENV = "SHIELDWALL_BUS"
Connect = Callable[[], Awaitable[Bus]]


def bus_url(
    flag: str | None, settings: HubSettings, environ: Mapping[str, str] | None = None
) -> str:
    """The bus to use: ``--bus``, else ``SHIELDWALL_BUS``, else the setting; "" for none."""
    if flag:
        return check_bus_url(flag, "--bus")
    env = (os.environ if environ is None else environ).get(BUS_ENV, "").strip()
    if env:
        return check_bus_url(env, BUS_ENV)
    return settings.bus


def nats_connect(url: str, stream: str, *, primary: bool = True) -> Connect:
    """Connections to the bus; only the primary creates the stream."""

    async def connect() -> Bus:
        from shieldwall.bus.jetstream import NatsBus

        return await NatsBus.connect(url, stream, create=primary)

    return connect


def primary_pump(sec: Secretariat, connect: Connect) -> Pump:
    pump = Pump(sec, connect)
    sec.replication = pump
    return pump


def replica_follower(sec: Secretariat, connect: Connect) -> Follower:
    follower = Follower(sec, connect)
    sec.replication = follower
    return follower


def prepare_replica(data_dir: Path, charter: Charter | None, stream: str) -> None:
    """Make DATA a replica's directory for ``stream``, or check that it is one.

    ValueError (what to do) if DATA holds a primary, a replica of another stream, or
    another alliance, or if there is nothing to copy yet (no charter on the bus).
    """
    data_dir = Path(data_dir)
    path = data_dir / DB_NAME
    if path.exists():
        try:
            store = SQLiteStore(path)
        except StoreError as exc:
            raise ValueError(str(exc)) from None
        try:
            of = store.get_meta(REPLICA_OF)
            treaty = store.get_meta("treaty")
        finally:
            store.close()
        if of is None:
            raise ValueError(
                f"{str(data_dir)!r} holds a primary hub: give the replica its own --data directory"
            )
        if of != stream:
            raise ValueError(
                f"{str(data_dir)!r} is a replica of bus stream {of!r}, not {stream!r}: "
                "pass --bus-stream " + of + " or give another --data directory"
            )
        if charter is not None and treaty is not None:
            from shieldwall.core.treaty import load_treaty

            if load_treaty(treaty, "replica treaty").digest != charter.treaty_digest:
                raise ValueError(
                    f"the bus stream {stream!r} now carries another treaty than the one "
                    f"{str(data_dir)!r} copied: rebuild the replica from an empty --data directory"
                )
        return
    if charter is None:
        raise ValueError(
            f"bus stream {stream!r} has no charter yet: start the primary with "
            "'shieldwall hub serve --bus URL' first"
        )
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir, 0o700)
    store = SQLiteStore(path)
    try:
        with store.transaction():
            store.set_meta("treaty", charter.treaty)
            store.set_meta("admin_token_sha256", charter.admin_digest)
            store.set_meta(REPLICA_OF, stream)
            # Names this replica's receipts to the primary (decisions it streamed).
            store.set_meta(REPLICA_ID, "replica-" + secrets.token_hex(8))
    finally:
        store.close()


async def fetch_charter(connect: Connect) -> Charter | None:
    """The charter on the bus; BusError if the bus cannot be reached."""
    bus = await connect()
    try:
        return await bus.charter()
    finally:
        await bus.close()


__all__ = [
    "BUS_ENV",
    "BusError",
    "bus_url",
    "fetch_charter",
    "nats_connect",
    "prepare_replica",
    "primary_pump",
    "replica_follower",
]
