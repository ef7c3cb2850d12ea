"""API keys of CrowdSec-compatible bouncers, stored as SHA-256 hashes only.

A key is shown once, when it is created; the store keeps its hash, the bouncer's
name, the member it enforces for (optional) and where its last stream pull ended
(so the next pull returns only what changed, across hub restarts).
"""

from __future__ import annotations

import hmac
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from shieldwall.interop import credentials as creds
from shieldwall.interop.credentials import Credential, CredentialStore, NameTaken, Table
from shieldwall.interop.hubdb import db_path

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
BOUNCERS_DB = "bouncers.sqlite3"


def bouncers_path(data_dir: Path) -> Path:
    """``DATA/bouncers.sqlite3``, beside the hub's own database (which it never touches).

    Raises ValueError when ``data_dir`` is not a hub data directory.
    """
    return db_path(data_dir).with_name(BOUNCERS_DB)


new_key = creds.new_secret  # a fresh random bouncer key (256 bits, URL-safe)
hash_key = creds.hash_secret


def check_name(name: str) -> str:
    return creds.check_name(
        name, NAME_RE, "bouncer", "use 1-64 letters, digits, '.', '_', '@' or '-'"
    )


@dataclass(frozen=True, slots=True)
class Bouncer:
    name: str
    key_hash: str
    created_at: float
    member: str = ""
    last_seq: int = -1  # -1: never pulled
    last_pull: float = 0.0

    def __repr__(self) -> str:  # the hash is not secret, but keep logs short
        return f"Bouncer(name={self.name!r}, member={self.member!r}, last_seq={self.last_seq})"


class BouncerKeys(Protocol):
    def add(self, name: str, key: str, now: float, member: str = "") -> Bouncer: ...
    def check(self, key: str) -> Bouncer | None: ...
    def delete(self, name: str) -> bool: ...
    def list(self) -> list[Bouncer]: ...
    def record_pull(self, name: str, seq: int, at: float) -> None: ...


class MemoryBouncerKeys:
    def __init__(self) -> None:
        self._by_hash: dict[str, Bouncer] = {}
        self._lock = threading.Lock()

    def add(self, name: str, key: str, now: float, member: str = "") -> Bouncer:
        check_name(name)
        with self._lock:
            if any(b.name == name for b in self._by_hash.values()):
                raise ValueError(f"bouncer {name!r} exists already: delete it first or pick a name")
            b = Bouncer(name, hash_key(key), now, member)
            self._by_hash[b.key_hash] = b
            return b

    def check(self, key: str) -> Bouncer | None:
        if not key:
            return None
        h = hash_key(key)
        b = self._by_hash.get(h)
        return b if b is not None and hmac.compare_digest(b.key_hash, h) else None

    def delete(self, name: str) -> bool:
        with self._lock:
            for h, b in list(self._by_hash.items()):
                if b.name == name:
                    del self._by_hash[h]
                    return True
            return False

    def list(self) -> list[Bouncer]:
        return sorted(self._by_hash.values(), key=lambda b: b.name)

    def record_pull(self, name: str, seq: int, at: float) -> None:
        with self._lock:
            for h, b in self._by_hash.items():
                if b.name == name:
                    self._by_hash[h] = replace(b, last_seq=seq, last_pull=at)


_TABLE = Table(
    "interop_bouncers",
    hash_column="key_hash",
    attributes={
        "member": "TEXT NOT NULL DEFAULT ''",
        "last_seq": "INTEGER NOT NULL DEFAULT -1",
        "last_pull": "REAL NOT NULL DEFAULT 0",
    },
)


def _bouncer(cred: Credential) -> Bouncer:
    a = cred.attributes
    return Bouncer(
        cred.name, cred.secret_hash, cred.created_at, a["member"], a["last_seq"], a["last_pull"]
    )


class SQLiteBouncerKeys:
    """Bouncer keys in a SQLite file of their own (``DATA/bouncers.sqlite3``).

    Kept out of the hub's database so the hub's one writer never waits for the CLI
    adding a key, nor the CLI for the hub. The hub records each pull while
    ``shieldwall bouncers`` reads and writes beside it.
    """

    def __init__(self, path: str | Path) -> None:
        self._store = CredentialStore(path, _TABLE)
        self.path = self._store.path

    def __repr__(self) -> str:
        return f"SQLiteBouncerKeys(path={self.path!r})"

    def close(self) -> None:
        self._store.close()

    def add(self, name: str, key: str, now: float, member: str = "") -> Bouncer:
        check_name(name)
        try:
            return _bouncer(self._store.add(name, key, now, member=member))
        except NameTaken:
            raise ValueError(
                f"bouncer {name!r} exists already: delete it first or pick a name"
            ) from None

    def check(self, key: str) -> Bouncer | None:
        cred = self._store.check(key)
        return None if cred is None else _bouncer(cred)

    def delete(self, name: str) -> bool:
        return self._store.delete(name)

    def list(self) -> list[Bouncer]:
        return [_bouncer(c) for c in self._store.list()]

    def record_pull(self, name: str, seq: int, at: float) -> None:
        self._store.update(name, last_seq=seq, last_pull=at)
