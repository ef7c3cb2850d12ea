"""Offline reads of the hub's database: the store opened read-only."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from shieldwall.core.model import Revocation
from shieldwall.interop.hubdb import active_decisions, is_member
from shieldwall.store.sqlite import SQLiteStore, StoreError
from tests.interop.conftest import T0, make_decision


@pytest.fixture
def hub_db(hub_dir: Path) -> Path:
    store = SQLiteStore(hub_dir / "hub.sqlite3")
    with store.transaction():
        store.put_decisions(
            [
                make_decision(1, "203.0.113.9"),
                make_decision(2, "198.51.100.0/24"),
                make_decision(3, "192.0.2.1"),  # revoked below
                make_decision(4, "192.0.2.2", issued_at=T0 - 7200, ttl=60),  # expired
                make_decision(5, "192.0.2.3", issued_at=T0 + 60),  # not yet issued
            ]
        )
        store.put_revocations([Revocation(3, "192.0.2.1", T0 - 1, "alpha", "appeal", "appeal")])
        store.add_member("opencti", "", [], T0, external=True)
    store.close()
    return hub_dir / "hub.sqlite3"


def test_active_decisions(hub_db: Path) -> None:
    assert [d.id for d in active_decisions(hub_db.parent, T0)] == [1, 2]
    store = SQLiteStore(hub_db, read_only=True)
    try:
        assert [d.target for d in store.active_decisions(T0)] == ["203.0.113.9", "198.51.100.0/24"]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("alpha", True, id="member"),
        pytest.param("opencti", False, id="external-partner"),
        pytest.param("ghost", False, id="unknown"),
    ],
)
def test_is_member(hub_db: Path, name: str, expected: bool) -> None:
    assert is_member(hub_db.parent, name) is expected


def test_read_only_open_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.sqlite3"
    message = f"cannot open database {str(path)!r}: unable to open database file"
    with pytest.raises(StoreError, match=f"^{re.escape(message)}$"):
        SQLiteStore(path, read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_read_only_runs_no_migration(tmp_path: Path) -> None:
    path = tmp_path / "hub.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE unrelated (a)")
    db.close()
    store = SQLiteStore(path, read_only=True)
    try:
        assert store.schema_version == 0
    finally:
        store.close()
    message = f"cannot read decisions from {str(path)!r}: no such table: decisions"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        active_decisions(tmp_path, T0)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (0,)
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("unrelated",)]
    db.close()


def test_read_only_store_takes_no_write_lock(hub_db: Path) -> None:
    reader = SQLiteStore(hub_db, read_only=True)
    writer = SQLiteStore(hub_db)
    try:
        assert [d.id for d in reader.active_decisions(T0)] == [1, 2]
        with writer.transaction():  # the write lock: free although the reader is open
            writer.put_decisions([make_decision(6, "192.0.2.6")])
            assert [d.id for d in active_decisions(hub_db.parent, T0)] == [1, 2], (
                "readers see what is committed, without waiting for the writer"
            )
        assert [d.id for d in reader.active_decisions(T0)] == [1, 2, 6]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.put_decisions([make_decision(7, "192.0.2.7")])
    finally:
        writer.close()
        reader.close()
