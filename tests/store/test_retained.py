"""Checkpoint rows and pruning, on both stores; on PostgreSQL both pass the fence."""

from __future__ import annotations

import psycopg
import pytest

from shieldwall.core.model import Signal
from shieldwall.store.lease import Lease
from shieldwall.store.postgres import PostgresStore
from shieldwall.store.retained import CheckpointRow

from .conftest import AnyStore
from .pg import scratch_schema

FENCED = "shieldwall fence: this hub writes under epoch"


def _row(seq: int, digest: str = "d") -> CheckpointRow:
    return CheckpointRow(
        seq, 10.0 + seq, 20.0 + seq, 1, "0.1.0", "t" * 64, "nato@1", digest * 4, seq
    )


def _records(store: AnyStore, inputs: int) -> None:
    """``inputs`` signal inputs at times 1, 2, ..., each with two signals and an event."""
    with store.transaction():
        for i in range(1, inputs + 1):
            seq = store.add_input(float(i), "signals", {"member": "alpha", "seq": i})
            store.add_signals(
                seq,
                [
                    Signal("alpha", f"203.0.113.{i}", "ssh", float(i), 3),
                    Signal("bravo", f"203.0.113.{i}", "ssh", float(i), 4),
                ],
                float(i),
            )
            store.add_events(float(i), [("decision", f'{{"id":{i}}}')])


def test_checkpoints_are_listed_newest_first_and_only_the_newest_kept(store: AnyStore) -> None:
    assert store.checkpoints() == [] and store.checkpoint_blob(1) is None
    for seq in (5, 9, 2, 14):
        store.put_checkpoint(_row(seq), bytes([seq]) * 3, keep=3)
    assert [r.seq for r in store.checkpoints()] == [14, 9, 5]
    assert store.checkpoints()[0] == _row(14)
    assert store.checkpoint_blob(9) == b"\x09\x09\x09"
    assert store.checkpoint_blob(2) is None


@pytest.mark.parametrize("keep", [0, -1])
def test_keeping_no_checkpoint_is_refused(store: AnyStore, keep: int) -> None:
    with pytest.raises(ValueError, match=f"keep {keep} must be 1 or more"):
        store.put_checkpoint(_row(1), b"x", keep=keep)
    assert store.checkpoints() == []


def test_inputs_and_events_before_a_time(store: AnyStore) -> None:
    assert store.last_input_before(100.0) == 0 and store.last_event_before(100.0) == 0
    _records(store, 6)
    assert store.last_input_before(4.0) == 3
    assert store.last_event_before(4.5) == 4
    pairs = store.signals_between(2, 4)
    assert [seq for seq, _ in pairs] == [3, 3, 4, 4]
    assert pairs[0][1] == Signal("alpha", "203.0.113.3", "ssh", 3.0, 3)


def test_prune_deletes_up_to_the_numbers_and_remembers_them(store: AnyStore) -> None:
    _records(store, 6)
    with store.transaction():
        assert store.prune(3, 2) == (3, 2)
    assert (store.pruned_input(), store.pruned_event()) == (3, 2)
    assert [r[0] for r in store.inputs_after(0, 100)] == [4, 5, 6]
    assert [r[0] for r in store.events_after(0, 100)] == [3, 4, 5, 6]
    assert store.count("signals") == 6
    assert store.signals_between(0, 3) == []
    with store.transaction():
        assert store.prune(2, 1) == (0, 0), "pruning never goes back"
    assert (store.pruned_input(), store.pruned_event()) == (3, 2)
    assert store.last_input_seq() == 6 and store.last_event_id() == 6
    seq = store.add_input(7.0, "tick", {})
    assert seq == 7, "numbers go on after pruning"


def test_a_prune_that_fails_deletes_nothing(store: AnyStore) -> None:
    _records(store, 4)
    with pytest.raises(RuntimeError), store.transaction():
        store.prune(3, 3)
        raise RuntimeError("the disk filled up")
    assert store.pruned_input() == 0 and store.count("inputs") == 4
    assert store.count("events") == 4 and store.count("signals") == 8


@pytest.mark.postgres
def test_checkpoints_and_pruning_pass_the_fence(pg_server: str) -> None:
    with scratch_schema(pg_server) as url:
        store = PostgresStore(url, lock_wait=0)
        lease = Lease(url, "leader", "http://leader:1", ttl=30.0)
        try:
            _records(store, 3)  # before any node led: epoch 0 fences nothing
            epoch = lease.acquire()
            assert epoch is not None
            store.fence(epoch + 1)  # a writer under an epoch that is not the lease's
            with pytest.raises(psycopg.Error, match=FENCED):
                store.put_checkpoint(_row(3), b"x")
            for inputs, events in ((2, 0), (0, 2)):
                with pytest.raises(psycopg.Error, match=FENCED), store.transaction():
                    store.prune(inputs, events)
            assert store.count("inputs") == 3 and store.count("events") == 3
            store.fence(epoch)
            with store.transaction():
                store.put_checkpoint(_row(3), b"x")
                assert store.prune(2, 2) == (2, 2)
            assert store.checkpoints() == [_row(3)]
        finally:
            lease.close()
            store.close()
