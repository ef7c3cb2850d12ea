"""The leader lease and the fence on a real PostgreSQL: one holder, a rising epoch,
takeovers that wait for a commit in flight, and no commit under a lost lease."""

from __future__ import annotations

import psycopg
import pytest

from shieldwall.store.lease import Lease
from shieldwall.store.postgres import PostgresStore
from shieldwall.store.queries import StoreError
from tests.waiting import wait

from .pg import scratch_schema

pytestmark = pytest.mark.postgres
FENCED = "shieldwall fence: this hub writes under epoch"


def _take(lease: Lease) -> int:
    """The lease's new epoch, once the previous holder's lease lapsed."""
    got: list[int] = []

    def taken() -> bool:
        epoch = lease.acquire()
        if epoch is not None:
            got.append(epoch)
        return bool(got)

    wait(taken, what=f"{lease.node} to take the lease")
    return got[0]


def test_one_holder_and_the_epoch_rises_on_every_takeover(pg_server: str) -> None:
    with scratch_schema(pg_server) as url:
        PostgresStore(url, lock_wait=0).close()  # creates the schema, lease row included
        a = Lease(url, "a", "http://a:1", ttl=0.3)
        b = Lease(url, "b", "http://b:1", ttl=30.0)
        try:
            assert a.state().epoch == 0 and a.state().holder == ""
            assert a.acquire() == 1
            assert a.renew(1)
            state = b.state()
            assert (state.holder, state.url, state.epoch) == ("a", "http://a:1", 1)
            assert _take(b) == 2, "b takes over once a stops renewing"
            assert not a.renew(1), "a learns at its next renewal that it lost the lease"
            assert a.acquire() is None, "b's lease has not lapsed"
            b.release(2)
            assert a.acquire() == 3, "a released lease is free at once"
        finally:
            a.close()
            b.close()


def test_a_takeover_waits_for_the_commit_in_flight_which_then_lands(pg_server: str) -> None:
    with scratch_schema(pg_server) as url:
        store = PostgresStore(url, lock_wait=0)
        old = Lease(url, "old", "http://old:1", ttl=0.2)
        new = Lease(url, "new", "http://new:1", ttl=30.0, timeout=0.5)
        try:
            epoch = old.acquire()
            assert epoch is not None
            store.fence(epoch)
            with store.transaction():
                store.add_input(1.0, "tick", {})  # the fence holds the lease row from here
                wait(lambda: old.state().remaining <= 0, what="the old lease to lapse")
                # Blocked by the commit in flight, which is younger than a lease: the
                # takeover gives up after its lock timeout, and leaves it alone.
                assert new.acquire() is None
            assert store.last_input_seq() == 1, "the commit in flight landed"
            assert _take(new) == epoch + 1
            with pytest.raises(psycopg.Error, match=f"{FENCED} {epoch}, the lease is at"):
                store.add_input(2.0, "tick", {})
            assert store.last_input_seq() == 1
        finally:
            for lease in (old, new):
                lease.close()
            store.close()


def test_a_writer_paused_inside_a_transaction_loses_its_session_and_the_lease(
    pg_server: str,
) -> None:
    with scratch_schema(pg_server) as url:
        store = PostgresStore(url, lock_wait=0)
        paused = Lease(url, "paused", "http://paused:1", ttl=0.2)
        standby = Lease(url, "standby", "http://standby:1", ttl=30.0, timeout=0.5)
        try:
            epoch = paused.acquire()
            assert epoch is not None
            store.fence(epoch, idle_timeout=0.3)
            with (
                pytest.raises(psycopg.Error, match="idle-in-transaction timeout"),
                store.transaction(),
            ):
                store.add_input(1.0, "tick", {})
                # The process stops here; the server ends its idle session ...
                new_epoch = _take(standby)  # ... so the standby can take over.
            assert new_epoch == epoch + 1
            assert store.last_input_seq() == 0, "the paused writer committed nothing"
            with pytest.raises(psycopg.Error, match=FENCED):
                store.add_input(2.0, "tick", {})  # reconnected, still under its old epoch
        finally:
            for lease in (paused, standby):
                lease.close()
            store.close()


def test_a_writer_paused_in_the_middle_of_a_copy_is_ended_by_the_takeover(
    pg_server: str,
) -> None:
    """Paused while the server waits for COPY rows, a writer is not idle (no idle
    timeout ends it) and holds the lease row: the takeover ends its session once it
    has been in its transaction for longer than a lease."""
    with scratch_schema(pg_server) as url:
        store = PostgresStore(url, lock_wait=0)
        paused = Lease(url, "paused", "http://paused:1", ttl=0.2)
        standby = Lease(url, "standby", "http://standby:1", ttl=0.5, timeout=0.5)
        try:
            epoch = paused.acquire()
            assert epoch is not None
            store.fence(epoch)  # no idle timeout at all: only the takeover can end it
            with pytest.raises(psycopg.OperationalError), store.transaction() as db:
                store.add_input(1.0, "tick", {})  # the fence holds the lease row from here
                with (
                    db.cursor() as cur,
                    cur.copy("COPY events (id, at, kind, body) FROM STDIN") as copy,
                ):
                    copy.write_row((1, 1.0, "alert", "{}"))
                    # The process stops here, the server waiting for the next rows ...
                    new_epoch = _take(standby)  # ... and the standby takes over anyway.
            assert new_epoch == epoch + 1
            assert store.last_input_seq() == 0, "the paused writer committed nothing"
            assert store.last_event_id() == 0
        finally:
            for lease in (paused, standby):
                lease.close()
            store.close()


def test_lease_errors_name_the_server_never_the_password(pg_server: str) -> None:
    lease = Lease("postgresql://postgres:s3cr%40t@127.0.0.1:1/test", "n", "http://n:1", 1.0)
    with pytest.raises(StoreError) as failed:
        lease.acquire()
    assert "127.0.0.1:1/test" in str(failed.value)
    assert "s3cr" not in str(failed.value) and "\n" not in str(failed.value)


@pytest.mark.parametrize("ttl", [pytest.param(0.0, id="zero"), pytest.param(-1.0, id="negative")])
def test_a_lease_time_must_be_above_zero(ttl: float) -> None:
    with pytest.raises(ValueError, match=f"lease time {ttl!r} must be above zero"):
        Lease("postgresql://127.0.0.1/test", "n", "http://n:1", ttl)
