"""The credential store behind bouncer keys and partner secrets."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldwall.interop.credentials import (
    CredentialStore,
    NameTaken,
    Table,
    check_name,
    hash_secret,
    new_secret,
)

TABLE = Table(
    "things",
    hash_column="thing_hash",
    attributes={"owner": "TEXT NOT NULL DEFAULT ''", "uses": "INTEGER NOT NULL DEFAULT 0"},
)
SECRET = "s3cret-0123456789abcdef-s3cret"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CredentialStore]:
    s = CredentialStore(tmp_path / "things.sqlite3", TABLE)
    yield s
    s.close()


def test_add_check_list_update_delete(store: CredentialStore) -> None:
    added = store.add("web1", SECRET, 10.0, owner="alpha")
    assert (added.name, added.secret_hash, added.created_at) == ("web1", hash_secret(SECRET), 10.0)
    assert added.attributes == {"owner": "alpha", "uses": 0}, "defaults are filled in"
    store.add("app2", new_secret(), 11.0)

    assert store.check(SECRET) == added
    store.update("web1", uses=3)
    found = store.check(SECRET)
    assert found is not None and found.attributes == {"owner": "alpha", "uses": 3}
    assert [c.name for c in store.list()] == ["app2", "web1"]

    assert store.delete("web1") is True
    assert store.delete("web1") is False
    assert store.check(SECRET) is None
    store.update("web1", uses=4)  # no such name: nothing happens
    assert [c.name for c in store.list()] == ["app2"]


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("", id="empty"),
        pytest.param(SECRET + "x", id="longer"),
        pytest.param(SECRET[:-1], id="shorter"),
        pytest.param(hash_secret(SECRET), id="the-hash-itself"),
        pytest.param("\udcff", id="lone-surrogate"),
    ],
)
def test_check_refuses_other_secrets(store: CredentialStore, secret: str) -> None:
    store.add("web1", SECRET, 10.0)
    assert store.check(secret) is None


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        pytest.param("web1", "another-secret-0123456789", id="same-name"),
        pytest.param("web2", SECRET, id="same-secret"),
    ],
)
def test_name_and_secret_are_unique(store: CredentialStore, name: str, secret: str) -> None:
    store.add("web1", SECRET, 10.0)
    with pytest.raises(NameTaken, match=f"^{name!r} exists already$"):
        store.add(name, secret, 11.0)
    assert [c.name for c in store.list()] == ["web1"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda s: s.add("web1", SECRET, 1.0, admin=1),
            "'admin' is not a column of things",
            id="add-unknown-attribute",
        ),
        pytest.param(
            lambda s: s.update("web1", thing_hash="x"),
            "'thing_hash' is not a column of things",
            id="update-the-hash",
        ),
    ],
)
def test_only_declared_attributes_are_written(store: CredentialStore, call, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call(store)


def test_table_names_must_be_plain_identifiers() -> None:
    with pytest.raises(ValueError, match=re.escape("'owner; DROP' is not a plain SQL identifier")):
        Table("things", "thing_hash", {"owner; DROP": "TEXT"})


def test_no_secret_or_hash_in_repr(store: CredentialStore) -> None:
    added = store.add("web1", SECRET, 10.0, owner="alpha")
    for text in (repr(added), repr(store), repr(store.list()), str(added)):
        assert SECRET not in text and added.secret_hash not in text
    assert repr(added) == "Credential(name='web1', attributes={'owner': 'alpha', 'uses': 0})"


def test_new_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    store = CredentialStore(path, TABLE)
    try:
        store.add("web1", SECRET, 10.0)
        files = sorted(tmp_path.glob("new.sqlite3*"))
        assert [p.name for p in files] == ["new.sqlite3", "new.sqlite3-shm", "new.sqlite3-wal"]
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        store.close()


def test_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    CredentialStore(path, TABLE).close()
    path.chmod(0o644)
    CredentialStore(path, TABLE).close()
    assert _mode(path) == 0o600


def test_memory_store_makes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = CredentialStore(":memory:", TABLE)
    store.add("web1", SECRET, 1.0)
    assert store.check(SECRET) is not None
    store.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("a b", "thing name 'a b' is not valid: use letters", id="space"),
        pytest.param(
            "x" * 200, f"thing name {'x' * 80!r} is not valid: use letters", id="long-is-cut"
        ),
        pytest.param(None, "thing name 'None' is not valid: use letters", id="not-a-string"),
    ],
)
def test_check_name(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_name(name, re.compile(r"^[a-z0-9]{1,64}$"), "thing", "use letters")
    assert check_name("web1", re.compile(r"^[a-z0-9]{1,64}$"), "thing", "use letters") == "web1"
