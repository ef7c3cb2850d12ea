"""A hub node on a PostgreSQL store: the leader under the lease, or a warm standby.

Several ``hub serve`` processes on one PostgreSQL schema form one hub. The node that
holds the lease (:mod:`shieldwall.store.lease`) is the leader: its secretariat records
and decides, every commit passing the fence under its epoch. The others are standbys:
they follow the recorded inputs from the store through the same council, at the
recorded times, exactly as a start-up replay does, and stream the stored events
with their stored ids; they record nothing and forward every change to the leader.

When the lease lapses (the leader died, paused, or lost the database), the first
standby to take it applies whatever it had not yet applied, and leads. A leader that
cannot renew in time stops taking changes at once, and if another node took over,
rebuilds its council from the store as a standby. A fenced commit is refused by the
database, so even a leader that has not noticed yet never writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from shieldwall.hub.bookkeeping import Identity
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.settings import HubSettings
from shieldwall.signing import parse_public
from shieldwall.store.lease import Lease
from shieldwall.store.postgres import PostgresStore
from shieldwall.store.queries import StoreError

log = logging.getLogger("shieldwall.hub")

PAGE = 500  # recorded inputs applied per pass; the loop serves requests in between


def node_name() -> str:
    """This process's name in the lease: host, pid and a random tail (never reused)."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(3)}"


class Leadership:
    """Leads or follows; :meth:`run` is the hub's task, :meth:`status` its health."""

    def __init__(
        self,
        sec: Secretariat,
        store: PostgresStore,
        lease: Lease,
        applied: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sec = sec
        self.store = store
        self.lease = lease
        self.applied = applied  # the last recorded input this node's council has applied
        self.clock = clock
        self.role = "standby"
        self.epoch = 0
        self.leader = ""  # the URL of the node leading now ("" unknown)
        self.takeovers = 0
        self.last_input_at: float | None = None
        self.error = ""
        self._valid_until = 0.0  # monotonic time until which our lease surely holds
        self._stale = False  # the council must be rebuilt before following on
        self._rebuilds = 0  # council rebuilds seen when this node last took the lease
        self._poll = min(0.2, lease.ttl / 10)
        sec.standby = True
        sec.commit_hooks.append(self._committed)

    def _committed(self) -> None:
        if self.role == "leader":
            self.applied = max(self.applied, self.store.written_input)

    # -- what the API asks -------------------------------------------------------------

    def forward_to(self) -> str | None:
        """Where changes go: None when this node leads, else the leader's URL ("" unknown)."""
        if self.role == "leader":
            return None
        return self.leader if self.leader != self.lease.advertise else ""

    def status(self) -> dict[str, Any]:
        recorded, lag = self.applied, 0.0
        if self.role == "standby":
            with contextlib.suppress(Exception):  # health answers even without the store
                recorded = self.store.last_input_seq()
                behind = self.store.inputs_after(self.applied, 1)
                if behind:  # how long the oldest input not applied yet has waited
                    lag = max(0.0, self.sec.clock() - behind[0][1])
        return {
            "role": self.role,
            "epoch": self.epoch,
            "node": self.lease.node,
            "leader": self.leader or None,
            "applied_input": self.applied,
            "recorded_input": recorded,
            "lag_inputs": max(0, recorded - self.applied),
            "lag_seconds": round(lag, 3),
            "last_input_at": self.last_input_at,
            "takeovers": self.takeovers,
            "error": self.error or None,
        }

    # -- following the store -------------------------------------------------------------

    def follow(self, page: int = PAGE) -> int:
        """Apply the next recorded inputs and stream the next stored events; how many of both.

        Events are read before inputs: an event is committed with its input, so the
        council is never behind what is streamed.
        """
        sec = self.sec
        if self._stale:
            self.resync()
        events = sec._backfill(sec.stream.last_id, page)
        rows = self.store.inputs_after(self.applied, page)
        members = False
        for seq, at, kind, text in rows:
            payload = json.loads(text)
            signals = self.store.signals_of_input(seq) if kind == "signals" else []
            try:
                sec._apply(kind, payload, at, signals)
            except (ValueError, KeyError, TypeError) as exc:  # as a start-up replay does
                log.warning("recorded input %d (%s) refused by this version: %s", seq, kind, exc)
            self.applied, self.last_input_at = seq, at
            # Keys and policies; sequence numbers matter only to a leader (promote).
            members = members or kind in ("apply", "policy")
        if members:
            self._reload_members()
        if events:
            sec._announce(events)
        return len(rows) + len(events)

    def _reload_members(self) -> None:
        """Members' keys, addresses, policies and last sequence numbers, from the store."""
        sec = self.sec
        identities = {}
        for name, public, addresses, _at, last_seq, policy in self.store.member_rows():
            identities[name] = Identity(
                name, parse_public(public), public, addresses, last_seq, policy
            )
        sec.identities = identities
        sec.externals = set(self.store.external_members())

    def resync(self) -> None:
        """Rebuild the council from one consistent snapshot of the store."""
        self._stale = True
        with self.store.snapshot():
            self.sec._rebuild()
            self.applied = self.store.last_input_seq()
        self._stale = False

    # -- changing role -------------------------------------------------------------------

    def promote(self, epoch: int, started: float) -> None:
        """Lead under ``epoch`` (taken at monotonic time ``started``): catch up first."""
        self.store.fence(epoch, idle_timeout=self.lease.ttl)
        try:
            while self.follow():
                pass
            self._reload_members()
        except BaseException:
            self.store.fence(None)
            raise
        self.epoch, self.role, self.leader = epoch, "leader", self.lease.advertise
        self._valid_until = started + self.lease.ttl
        self._rebuilds = self.sec.stats.council_rebuilds
        self.takeovers += 1
        self.sec.standby = False
        log.warning("leading the alliance under epoch %d (applied input %d)", epoch, self.applied)

    def demote(self, why: str) -> None:
        """Stop taking changes at once; follow the store again as a standby."""
        self.sec.standby = True
        self.sec.settle()  # batches still committing land (or fail) before we look
        self.role, self.epoch = "standby", 0
        log.warning("no longer leading (%s): following as a standby", why)
        with contextlib.suppress(Exception):
            self.store.fence(None)
        if self.sec.stats.council_rebuilds == self._rebuilds and not self.sec._stale:
            # Every change this node made went through a commit that either landed
            # or was refused before the council saw it: the council holds exactly
            # the records up to this node's last input. Follow on from there.
            self.applied = max(self.applied, self.store.written_input)
            return
        self._stale = True  # a failed commit rebuilt the council from a moving store
        with contextlib.suppress(Exception):
            self.resync()

    # -- the task ------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                try:
                    if self.role == "leader":
                        await self._lead()
                    else:
                        await self._stand_by()
                    self.error = ""
                except Exception as exc:  # a task of the hub must never die silently
                    self.error = str(exc)
                    expected = isinstance(exc, (StoreError, psycopg.Error))
                    log.warning("leadership: %s (retrying)", exc, exc_info=not expected)
                    await asyncio.sleep(self._poll)
        finally:
            await self._release()

    async def _lead(self) -> None:
        started = self.clock()
        try:
            held = await asyncio.to_thread(self.lease.renew, self.epoch)
        except StoreError:
            if self.clock() >= self._valid_until:
                self.demote("the lease could not be renewed in time")
            raise
        if not held:
            self.demote(f"another node took the lease over from epoch {self.epoch}")
            return
        self._valid_until = started + self.lease.ttl
        await asyncio.sleep(self.lease.ttl / 3)

    async def _stand_by(self) -> None:
        busy = self.follow()
        started = self.clock()
        epoch = await asyncio.to_thread(self.lease.acquire)
        if epoch is not None:
            self.promote(epoch, started)
            return
        state = await asyncio.to_thread(self.lease.state)
        self.leader = state.url
        # Catching up goes on at once; the members' requests are served in between.
        await asyncio.sleep(0 if busy else self._poll)

    async def _release(self) -> None:
        if self.role != "leader":
            return
        self.sec.standby = True
        self.sec.settle()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.lease.release, self.epoch)
        with contextlib.suppress(Exception):
            self.lease.close()


def open_node(
    settings: HubSettings,
    url: str,
    advertise: str,
    clock: Callable[[], float] = time.time,
    archives: Path | None = None,
) -> Leadership:
    """A node of the hub on the PostgreSQL store ``url`` (``archives``: its data
    directory's archive files, for a replay that needs inputs retention pruned).

    It leads at once if the lease is free, else starts as a standby. ValueError (what
    to do) if the store cannot be opened.
    """
    from shieldwall.hub.storage import open_postgres

    store = open_postgres(url)
    if not isinstance(store, PostgresStore):  # pragma: no cover - open_postgres's contract
        raise TypeError("open_postgres must return a PostgresStore")
    try:
        with store.snapshot():  # the council and the stream from one state of the records
            sec = Secretariat(store, clock, settings, archives)
            applied = store.last_input_seq()
        lease = Lease(url, node_name(), advertise, settings.lease)
        node = Leadership(sec, store, lease, applied)
        started = time.monotonic()
        try:
            epoch = lease.acquire()
        except StoreError as exc:
            raise ValueError(str(exc)) from None
        if epoch is not None:
            node.promote(epoch, started)
        else:
            node.leader = lease.state().url
    except BaseException:
        store.close()
        raise
    return node
