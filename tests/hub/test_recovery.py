"""After a failed commit the council is brought back to the store's records: at once
when the replay is short, else from a checkpoint built in a process of its own while
the hub answers 503 to changes and goes on serving reads."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import Future
from typing import Any

import pytest
from starlette.testclient import TestClient

from shieldwall.hub import recovery, upkeep
from shieldwall.hub.app import create_app
from shieldwall.signing import SigningKey
from tests.waiting import wait

from .conftest import Hub
from .test_writers import _fail_once, _signal, _signed


@pytest.fixture
def member(hub: Hub) -> SigningKey:
    key = SigningKey.generate()
    hub.client("alpha", key).join(["192.0.2.10"])
    hub.admin().approve("alpha")
    return key


def test_a_long_replay_is_built_apart_while_changes_wait(
    hub: Hub, member: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "INLINE", -1)  # every replay counts as a long one
    monkeypatch.setattr(recovery, "RETRY", (0.05, 0.1))
    gate = threading.Event()
    build = upkeep.build_apart
    builds: list[int] = []

    def held_build(*args: Any) -> Any:
        assert gate.wait(30), "the test never let the build go on"
        builds.append(1)
        if len(builds) == 1:
            raise OSError("the builder could not start")  # retried
        return build(*args)

    monkeypatch.setattr(upkeep, "build_apart", held_build)
    _fail_once(hub.sec.store, "add_events", sqlite3.OperationalError("disk is full"))
    batch = {"signals": [_signal(hub)]}
    with TestClient(create_app(hub.sec, ticker=False), base_url="http://hub.test") as http:
        first = http.post("/v1/signals", **_signed(hub, member, "alpha", 7, **batch))
        assert first.status_code == 503
        again = http.post("/v1/signals", **_signed(hub, member, "alpha", 7, **batch))
        assert again.status_code == 503
        assert "rebuilding its council" in again.json()["error"]["message"]
        assert http.get("/v1/decisions", headers={"Authorization": f"Bearer {hub.token}"})
        assert hub.sec.stats.council_rebuilds == 0, "nothing replayed on the loop"
        gate.set()
        wait(lambda: not hub.sec._stale, limit=60, what="the council rebuilt apart")
        recovering = hub.sec._recovery
        assert recovering is not None
        wait(recovering.done, limit=30, what="the recovery to end once done")
        assert len(builds) == 2, "a failed build is tried again, a done one is not"
        store = hub.sec.store
        assert store.checkpoints()[0].seq == store.last_input_seq(), "built and stored"
        assert hub.sec.council.consultations(hub.clock()) == [], "it never saw the batch"
        taken = http.post("/v1/signals", **_signed(hub, member, "alpha", 7, **batch))
        assert taken.is_success, taken.text
        assert len(hub.sec.council.consultations(hub.clock())) == 1
        assert hub.sec.stats.council_rebuilds == 1


def test_a_short_replay_is_done_at_once(hub: Hub, member: SigningKey) -> None:
    assert hub.sec.store.signals_after(0, recovery.INLINE + 1) <= recovery.INLINE
    _fail_once(hub.sec.store, "add_events", sqlite3.OperationalError("disk is full"))
    batch = {"signals": [_signal(hub)]}
    with TestClient(create_app(hub.sec, ticker=False), base_url="http://hub.test") as http:
        assert (
            http.post("/v1/signals", **_signed(hub, member, "alpha", 7, **batch)).status_code == 503
        )
        assert not hub.sec._stale and hub.sec.stats.council_rebuilds == 1
        assert hub.sec.store.checkpoints() == [], "no checkpoint needed"
        assert http.post("/v1/signals", **_signed(hub, member, "alpha", 7, **batch)).is_success


def _answer_lost_once(store: Any) -> list[int]:
    """The store's next commit lands, but its answer never comes back (a connection cut
    just after the server committed); returns the log of cuts."""
    handed = store.commit_later
    cut: list[int] = []

    def answer_lost(tail: Any) -> Any:
        future = handed(tail)
        if cut:
            return future
        cut.append(1)
        future.result()  # recorded
        lost: Future[Any] = Future()
        lost.set_exception(sqlite3.OperationalError("server closed the connection unexpectedly"))
        return lost

    store.commit_later = answer_lost
    return cut


def test_a_commit_that_landed_but_was_reported_failed_is_streamed(
    hub: Hub, member: SigningKey
) -> None:
    store = hub.sec.store
    cut = _answer_lost_once(store)
    before = hub.sec.stream.last_id
    batch = {"signals": [_signal(hub, "203.0.113.44")]}
    with TestClient(create_app(hub.sec, ticker=False), base_url="http://hub.test") as http:
        answer = http.post("/v1/signals", **_signed(hub, member, "alpha", 7, **batch))
        assert answer.status_code == 503, answer.text
    assert cut, "the commit was cut"
    stored = [(i, kind, body) for i, _at, kind, body in store.events_after(before, 1000)]
    assert stored, "the batch opened a consultation, recorded with its event"
    streamed = [(e.id, e.kind, e.body) for e in hub.sec.stream.since(before, 1000)]
    assert streamed == stored, "what the store holds is streamed"
    assert hub.sec.stream.last_id == store.last_event_id()
    assert hub.sec.identities["alpha"].last_seq == 7, "the number was taken with the batch"
    assert len(hub.sec.council.consultations(hub.clock())) == 1


def test_a_landed_commit_the_store_cannot_read_back_yet_is_streamed_on_the_next_change(
    hub: Hub, member: SigningKey
) -> None:
    store = hub.sec.store
    _answer_lost_once(store)
    reads = _fail_once(store, "events_after", sqlite3.OperationalError("disk I/O error"))
    before = hub.sec.stream.last_id
    first = {"signals": [_signal(hub, "203.0.113.44")]}
    with TestClient(create_app(hub.sec, ticker=False), base_url="http://hub.test") as http:
        assert (
            http.post("/v1/signals", **_signed(hub, member, "alpha", 7, **first)).status_code == 503
        )
        assert reads and hub.sec._stale, "not caught up: the rebuild is tried again"
        assert hub.sec.stream.last_id == before
        second = {"signals": [_signal(hub, "203.0.113.45")]}
        taken = http.post("/v1/signals", **_signed(hub, member, "alpha", 8, **second))
        assert taken.is_success, taken.text
    assert not hub.sec._stale
    stored = [(i, kind, body) for i, _at, kind, body in store.events_after(before, 1000)]
    streamed = [(e.id, e.kind, e.body) for e in hub.sec.stream.since(before, 1000)]
    assert streamed == stored and len(stored) >= 2, "both batches' events, in order"
