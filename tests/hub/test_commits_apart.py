"""Signal batches committed apart on PostgreSQL: the council applies each batch at once,
the store commits it on its own thread while the hub goes on, and what is published,
answered and recorded is exactly what a node replaying the records would hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shieldwall.core.model import Signal
from shieldwall.core.treaty import template_text
from shieldwall.hub.bookkeeping import StoreFailure, SubmitResult
from shieldwall.hub.commits import Pending
from shieldwall.hub.leadership import Leadership, open_node
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.settings import HubSettings
from shieldwall.hub.setup import init_hub
from shieldwall.hub.stream import Event
from shieldwall.signing import SigningKey
from shieldwall.store.postgres import PostgresStore
from tests.conftest import require_env
from tests.store.pg import scratch_schema

from .conftest import Clock
from .replicas import FOUNDERS, state

pytestmark = pytest.mark.postgres

BATCH = 40  # above the size from which rows go in one statement


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    with scratch_schema(require_env("SHIELDWALL_TEST_PG"), prefix="sw_apart") as url:
        init_hub(tmp_path / "hub", template_text("nato"), "nato", store=url)
        yield url


@pytest.fixture
def leader(store_url: str) -> Iterator[Leadership]:
    node = open_node(HubSettings(store=store_url), store_url, "http://a.test", Clock())
    try:
        assert node.role == "leader"
        for name, address in FOUNDERS.items():
            node.sec.join(name, SigningKey.generate().public_key, [address])
            node.sec.approve(name, "secretariat")
        yield node
    finally:
        node.lease.close()
        node.store.close()


def _batch(sec: Secretariat, member: str, first: int) -> list[Signal]:
    # Members report overlapping ranges: corroborated targets are decided.
    return [
        Signal(member, f"198.51.100.{(first + i) % 250 + 1}", "ssh-bruteforce", sec.clock(), 6)
        for i in range(BATCH)
    ]


def _published(sec: Secretariat) -> list[Event]:
    seen: list[Event] = []
    sec.listeners.append(seen.extend)
    return seen


def _replayed(store_url: str, sec: Secretariat) -> dict[str, object]:
    fresh = Secretariat(PostgresStore(store_url, lock_wait=0), sec.clock, HubSettings())
    try:
        return state(fresh)
    finally:
        fresh.store.close()


def _begin(sec: Secretariat, member: str, first: int) -> tuple[Pending, int]:
    seq = sec.identities[member].last_seq + 1
    return sec._begin_submit(member, seq, _batch(sec, member, first), True), seq


def _stored_signals(sec: Secretariat) -> int:
    return int(sec.store.count("signals"))


def test_batches_committed_apart_are_published_in_order_and_replay_the_same(
    leader: Leadership, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sec = leader.sec
    seen = _published(sec)
    handed = sec.store.commit_later
    done_when_handed: list[bool] = []

    def commit_later(tail: Any) -> Any:
        future = handed(tail)
        done_when_handed.append(future.done())
        return future

    monkeypatch.setattr(sec.store, "commit_later", commit_later)
    before = sec.stream.last_id

    async def scenario() -> list[SubmitResult]:
        jobs = [
            sec.submit_async(member, 1_000 + round_, _batch(sec, member, round_ * 7))
            for round_ in range(4)
            for member in FOUNDERS
        ]
        return await asyncio.gather(*jobs)

    results = asyncio.run(scenario())
    assert [r.accepted for r in results] == [BATCH] * 4 * len(FOUNDERS)
    assert len(done_when_handed) == len(results)
    assert not all(done_when_handed), "the hub went on while the store was committing"
    assert sum(len(r.decisions) for r in results) > 0, "corroborated targets were decided"
    ids = [e.id for e in seen]
    assert ids == list(range(before + 1, before + 1 + len(ids))), "dense, in order, once"
    assert ids[-1] == sec.stream.last_id == sec.store.last_event_id()
    stored = [(i, kind, body) for i, _at, kind, body in sec.store.events_after(before, 100_000)]
    assert stored == [(e.id, e.kind, e.body) for e in seen], "published exactly what is stored"
    assert _stored_signals(sec) == BATCH * 4 * len(FOUNDERS)
    assert state(sec) == _replayed(store_url, sec)


def test_a_failed_commit_fails_the_batches_queued_after_it_and_rebuilds_once(
    leader: Leadership, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sec = leader.sec
    store = sec.store
    real = store.put_consultations
    calls: list[int] = []

    def second_call_fails(*args: Any) -> None:  # runs on the commit thread
        calls.append(1)
        if len(calls) == 2:
            raise psycopg.OperationalError("could not extend file: No space left on device")
        real(*args)

    monkeypatch.setattr(store, "put_consultations", second_call_fails)
    rebuilds = sec.stats.council_rebuilds
    members = list(FOUNDERS)

    async def scenario() -> tuple[list[Pending], list[int]]:
        begun = [_begin(sec, members[i % 3], 100 * i) for i in range(4)]
        pendings = [p for p, _ in begun]
        for pending in pendings:
            await pending.committed()
        return pendings, [seq for _, seq in begun]

    pendings, seqs = asyncio.run(scenario())
    assert pendings[0].error is None and pendings[0].settled
    for pending in pendings[1:]:  # the failed one and the two applied on top of it
        assert isinstance(pending.error, StoreFailure), pending.error
        assert "resend" in str(pending.error)
    assert len(calls) == 2, "the batches after the failed one wrote nothing"
    assert sec.stats.council_rebuilds == rebuilds + 1, "one rebuild for the three"
    assert _stored_signals(sec) == BATCH
    assert state(sec) == _replayed(store_url, sec), "the council is the store's again"

    # The members resend with the same sequence numbers: each is taken once.
    monkeypatch.setattr(store, "put_consultations", real)
    for i in range(1, 4):
        member = members[i % 3]
        assert sec.identities[member].last_seq < seqs[i]
        sec.submit(member, seqs[i], _batch(sec, member, 100 * i))
    assert _stored_signals(sec) == 4 * BATCH
    assert state(sec) == _replayed(store_url, sec)


def test_a_lost_connection_costs_the_queued_batches_and_the_next_are_taken(
    leader: Leadership, store_url: str
) -> None:
    sec = leader.sec
    members = list(FOUNDERS)
    backend = sec.store._db.info.backend_pid  # the writer's session on the server

    async def scenario() -> list[tuple[Pending, int]]:
        begun = [_begin(sec, members[i % 3], 50 * i) for i in range(6)]
        with psycopg.connect(require_env("SHIELDWALL_TEST_PG"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        for pending, _ in begun:
            await pending.committed()
        return begun

    begun = asyncio.run(scenario())
    assert all(p.error is None or isinstance(p.error, StoreFailure) for p, _ in begun)
    assert any(p.error is not None for p, _ in begun), "the cut cost the batches queued"
    # The council is the store's again: a batch whose commit landed just as the session
    # was cut (its answer lost) is recorded, and its sequence number taken.
    assert state(sec) == _replayed(store_url, sec)
    recorded = [seq <= sec.identities[members[i % 3]].last_seq for i, (p, seq) in enumerate(begun)]
    assert _stored_signals(sec) == BATCH * sum(recorded)
    # The members resend what they were not told was taken (with the same numbers);
    # the store is reachable again (a new session): each batch is recorded once.
    for i, ((pending, seq), done) in enumerate(zip(begun, recorded, strict=True)):
        if pending.error is None:
            assert done, "an acknowledged batch is recorded"
        elif not done:
            sec.submit(members[i % 3], seq, _batch(sec, members[i % 3], 50 * i))
    assert _stored_signals(sec) == BATCH * len(begun)
    assert state(sec) == _replayed(store_url, sec)


def test_a_caller_that_goes_away_does_not_lose_its_batch(leader: Leadership) -> None:
    sec = leader.sec
    before = sec.stream.last_id

    async def scenario() -> None:
        task = asyncio.create_task(sec.submit_async("alpha", 77, _batch(sec, "alpha", 0)))
        await asyncio.sleep(0)  # the batch is applied and handed to the store
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Nobody waits for it and nothing else comes in: it is published all the same.
        for _ in range(500):
            if sec.stream.last_id > before:
                return
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert sec.stream.last_id > before, "the committed batch was published"
    assert sec.store.last_event_id() == sec.stream.last_id
    assert _stored_signals(sec) == BATCH
    assert sec.identities["alpha"].last_seq == 77


def test_a_batch_recorded_whose_answer_was_lost_is_streamed_and_not_taken_twice(
    leader: Leadership, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sec = leader.sec
    handed = sec.store.commit_later
    before = sec.stream.last_id

    def answer_lost(tail: Any) -> Any:  # the server commits; its answer is cut off
        future = handed(tail)
        future.result()
        lost: Future[Any] = Future()
        lost.set_exception(psycopg.OperationalError("server closed the connection unexpectedly"))
        return lost

    monkeypatch.setattr(sec.store, "commit_later", answer_lost)

    async def scenario() -> tuple[Pending, int]:
        begun = _begin(sec, "alpha", 0)
        await begun[0].committed()
        sec.settle()
        return begun

    pending, seq = asyncio.run(scenario())
    assert isinstance(pending.error, StoreFailure)
    assert sec.store.last_event_id() > before, "the batch was recorded with its events"
    assert sec.stream.last_id == sec.store.last_event_id(), "and they are streamed"
    assert state(sec) == _replayed(store_url, sec)
    # Its number is taken: the member's resend is refused as a replay (hub/auth.py).
    assert sec.identities["alpha"].last_seq == seq
    assert _stored_signals(sec) == BATCH
