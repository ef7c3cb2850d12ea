"""What only the PostgreSQL store does: several openers of one schema with one writer
(the fence), passwords kept out of every message, reconnection, its version table."""

from __future__ import annotations

import time

import psycopg
import pytest

from shieldwall.store.lease import Lease
from shieldwall.store.pg_schema import MIGRATIONS
from shieldwall.store.postgres import PostgresStore
from shieldwall.store.sqlite import StoreError
from shieldwall.store.urls import with_search_path

from .pg import scratch_schema

pytestmark = pytest.mark.postgres
FENCED = "shieldwall fence: this hub writes under epoch"


def _with_password(url: str, password: str) -> str:
    scheme, _, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    user = userinfo if at else "postgres"
    return f"{scheme}://{user}:{password}@{host if at else rest}"


def test_a_second_opener_shares_the_schema_and_only_the_leaseholder_writes(
    pg_server: str,
) -> None:
    with scratch_schema(pg_server) as url:
        first, second = PostgresStore(url, lock_wait=0), PostgresStore(url, lock_wait=0)
        lease = Lease(url, "first", "http://first", ttl=30.0)
        try:
            first.add_input(1.0, "tick", {})  # no node ever led (epoch 0): nothing fenced
            epoch = lease.acquire()
            assert epoch == 1
            first.fence(epoch)
            assert first.add_input(2.0, "tick", {}) == 2
            with pytest.raises(psycopg.Error, match=FENCED + " none, the lease is at 1"):
                second.add_input(3.0, "tick", {})
            second.fence(7)
            for many in (1, 40):  # one row, and the bulk path (COPY)
                with pytest.raises(psycopg.Error, match=FENCED + " 7, the lease is at 1"):
                    second.add_events(3.0, [("alert", "{}")] * many)
            assert second.last_input_seq() == 2 and second.last_event_id() == 0
        finally:
            lease.close()
            first.close()
            second.close()


def test_hubs_on_other_schemas_of_one_database_do_not_block_each_other(pg_server: str) -> None:
    with scratch_schema(pg_server) as one, scratch_schema(pg_server) as two:
        a, b = PostgresStore(one, lock_wait=0), PostgresStore(two, lock_wait=0)
        try:
            a.set_meta("treaty", "a")
            assert b.get_meta("treaty") is None
        finally:
            a.close()
            b.close()


def test_schema_version_is_kept_in_a_table(pg_server: str) -> None:
    with scratch_schema(pg_server) as url:
        PostgresStore(url, lock_wait=0).close()
        with psycopg.connect(url) as db:
            row = db.execute("SELECT version FROM shieldwall_schema").fetchone()
            indexes = {
                r[0]
                for r in db.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                )
            }
            external = db.execute(
                "SELECT column_default FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'members' "
                "AND column_name = 'external'"
            ).fetchone()
    assert row == (len(MIGRATIONS),)
    assert {
        "signals_target",
        "signals_input",
        "signals_at",
        "decisions_target",
        "decisions_expiry",
        "decisions_issued",
        "decisions_revoked",
    } <= indexes
    assert external == ("0",)


def test_passwords_never_appear_in_repr_or_errors(pg_server: str) -> None:
    with scratch_schema(pg_server) as url:
        store = PostgresStore(_with_password(url, "hunter2-secret"), lock_wait=0)
        try:
            assert "hunter2" not in repr(store) and "hunter2" not in str(store.path)
            assert ":***@" in repr(store)
            with pytest.raises(StoreError) as refused:
                PostgresStore(_with_password(url, "hunter2-secret") + "&bogus=1", lock_wait=0)
            assert "hunter2" not in str(refused.value)
        finally:
            store.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        pytest.param(
            "postgresql://postgres:s3cr%40t@127.0.0.1:1/shieldwall",
            "cannot connect to PostgreSQL at 127.0.0.1:1/shieldwall",
            id="server-down",
        ),
        pytest.param(
            "postgresql://nobody:s3cr%40t@127.0.0.1:5432/test",
            'role "nobody" does not exist',
            id="unknown-role",
        ),
        pytest.param(
            "postgresql://postgres:s3cr%40t@127.0.0.1:5432/test?bogus=1&password=s3cr3t",
            "is not a valid PostgreSQL URL",
            id="bad-option",
        ),
    ],
)
def test_connection_errors_are_one_line_without_the_password(
    pg_server: str, url: str, words: str
) -> None:
    with pytest.raises(StoreError) as failed:
        PostgresStore(url, lock_wait=0, connect_timeout=5)
    message = str(failed.value)
    assert words in message
    assert "\n" not in message
    assert "s3cr" not in message


def test_a_search_path_without_a_schema_is_refused(pg_server: str) -> None:
    url = with_search_path(pg_server, "sw_test_missing_schema")
    with pytest.raises(StoreError, match="no schema to create the hub's tables in"):
        PostgresStore(url, lock_wait=0)


def test_a_lost_connection_is_reopened_with_its_epoch(pg_server: str) -> None:
    with scratch_schema(pg_server) as url:
        store = PostgresStore(url, lock_wait=0)
        lease = Lease(url, "only", "http://only", ttl=30.0)
        try:
            epoch = lease.acquire()
            assert epoch is not None
            store.fence(epoch)
            store.set_meta("treaty", "kept")
            with store.transaction() as db:
                row = db.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            with psycopg.connect(pg_server, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (row[0],))
            with pytest.raises(psycopg.OperationalError):
                store.get_meta("treaty")  # the call that finds the connection gone fails
            assert store.get_meta("treaty") == "kept"  # the next one reconnects
            assert store.add_input(1.0, "tick", {}) == 1, "still writing under its epoch"
        finally:
            lease.close()
            store.close()


def test_a_leader_keeps_event_ids_dense_across_rollbacks_and_takeovers(pg_server: str) -> None:
    """A leader remembers its last event id instead of reading max(id) for every commit:
    a rolled-back write and another node's writes while it did not lead must not make
    it reuse or skip an id."""
    with scratch_schema(pg_server) as url:
        a, b = PostgresStore(url, lock_wait=0), PostgresStore(url, lock_wait=0)
        lease_a = Lease(url, "a", "http://a", ttl=0.2)
        lease_b = Lease(url, "b", "http://b", ttl=30.0)
        try:
            first = lease_a.acquire()
            assert first is not None
            a.fence(first)
            assert a.add_events(1.0, [("alert", "{}")] * 3) == [1, 2, 3]
            for many in (1, 40):  # one row, and the bulk path (COPY)
                with pytest.raises(RuntimeError, match="boom"), a.transaction():
                    a.add_events(2.0, [("alert", "{}")] * many)
                    raise RuntimeError("boom")
            assert a.add_events(3.0, [("alert", "{}")]) == [4], "no gap after a rollback"
            deadline = time.monotonic() + 10
            while (second := lease_b.acquire()) is None:  # a's short lease lapses
                assert time.monotonic() < deadline, "b never took the lease"
                time.sleep(0.05)
            b.fence(second)
            assert b.add_events(4.0, [("alert", "{}")] * 20) == list(range(5, 25))
            lease_b.release(second)
            third = lease_a.acquire()
            assert third is not None
            a.fence(third)  # a leads again: it must not trust what it remembered
            assert a.add_events(6.0, [("alert", "{}")]) == [25]
            assert [row[0] for row in a.events_after(0)] == list(range(1, 26))
        finally:
            lease_a.close()
            lease_b.close()
            a.close()
            b.close()
