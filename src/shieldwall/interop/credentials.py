"""Named secrets in a SQLite file of their own, kept as SHA-256 hashes only.

Bouncer keys and TAXII partner secrets are both made here (256 random bits) and
shown once; a fast hash is enough for a secret of that strength. A row holds the
name, the hash, when it was made and a few attributes of the caller's choosing.

The file is created readable by its owner only (mode 0600) and an existing file
with looser permissions is tightened when we own it. WAL mode: the hub reads (and
for bouncers records each pull) while the CLI adds and deletes beside it. Neither
a secret nor its hash ever appears in a ``repr``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def new_secret() -> str:
    """A fresh random secret (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str, pattern: re.Pattern[str], kind: str, rule: str) -> str:
    """``name`` when ``pattern`` matches it; else ValueError naming it and the ``rule``."""
    if not isinstance(name, str) or not pattern.match(name):
        raise ValueError(f"{kind} name {str(name)[:80]!r} is not valid: {rule}")
    return name


class NameTaken(ValueError):
    """A credential with this name (or this very secret) exists already."""


@dataclass(frozen=True, slots=True)
class Credential:
    name: str
    secret_hash: str
    created_at: float
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # the hash is not secret, but keep it out of logs
        return f"Credential(name={self.name!r}, attributes={dict(self.attributes)!r})"


@dataclass(frozen=True, slots=True)
class Table:
    """Where a kind of credential lives: table, hash column, extra columns in order.

    ``attributes`` maps a column name to its SQL declaration, e.g.
    ``{"member": "TEXT NOT NULL DEFAULT ''"}``; every one needs a default.
    """

    name: str
    hash_column: str
    attributes: Mapping[str, str]

    def __post_init__(self) -> None:
        for ident in (self.name, self.hash_column, *self.attributes):
            if not _IDENT.match(ident):
                raise ValueError(f"{ident!r} is not a plain SQL identifier: use [a-z0-9_]")

    @property
    def schema(self) -> str:
        extra = "".join(f",\n    {col} {decl}" for col, decl in self.attributes.items())
        return (
            f"CREATE TABLE IF NOT EXISTS {self.name} (\n"
            "    name TEXT PRIMARY KEY,\n"
            f"    {self.hash_column} TEXT NOT NULL UNIQUE,\n"
            f"    created_at REAL NOT NULL{extra}\n)"
        )

    @property
    def columns(self) -> str:
        return ", ".join(("name", self.hash_column, "created_at", *self.attributes))


def _owner_only(path: Path) -> None:
    """Create ``path`` with mode 0600, or tighten it (and its WAL files) when we own it.

    Best effort: where the file cannot be made, SQLite's own error says why.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    except OSError:
        return
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = p.stat()
            if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
                p.chmod(0o600)
        except OSError:
            continue


class CredentialStore:
    """One :class:`Table` of credentials in a SQLite file; safe to share between threads."""

    def __init__(self, path: str | Path, table: Table, *, synchronous: str = "NORMAL") -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous {synchronous!r} is not valid: use NORMAL or FULL")
        self.path = str(path)
        self.table = table
        if self.path not in ("", ":memory:"):
            _owner_only(Path(self.path))
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(f"PRAGMA synchronous = {synchronous}")
        with self._lock, self._db:
            self._db.execute(table.schema)

    def __repr__(self) -> str:
        return f"CredentialStore(path={self.path!r}, table={self.table.name!r})"

    def close(self) -> None:
        self._db.close()

    def _credential(self, row: tuple[Any, ...]) -> Credential:
        name, secret_hash, created_at, *values = row
        return Credential(
            name, secret_hash, created_at, dict(zip(self.table.attributes, values, strict=True))
        )

    def _check_attributes(self, attributes: Mapping[str, Any]) -> None:
        for col in attributes:
            if col not in self.table.attributes:
                raise ValueError(f"{col!r} is not a column of {self.table.name}")

    def add(self, name: str, secret: str, now: float, **attributes: Any) -> Credential:
        """Store ``name`` with the hash of ``secret``; NameTaken when either is in use.

        Returns the stored credential, attributes not given at their defaults.
        """
        self._check_attributes(attributes)
        cols = ", ".join(("name", self.table.hash_column, "created_at", *attributes))
        marks = ", ".join("?" * (3 + len(attributes)))
        with self._lock:
            try:
                with self._db:
                    self._db.execute(
                        f"INSERT INTO {self.table.name} ({cols}) VALUES ({marks})",
                        (name, hash_secret(secret), now, *attributes.values()),
                    )
                    row = self._db.execute(
                        f"SELECT {self.table.columns} FROM {self.table.name} WHERE name = ?",
                        (name,),
                    ).fetchone()
            except sqlite3.IntegrityError:
                raise NameTaken(f"{name!r} exists already") from None
        return self._credential(row)

    def check(self, secret: str) -> Credential | None:
        """The credential whose secret this is, compared in constant time; else None."""
        if not secret:
            return None
        h = hash_secret(secret)
        with self._lock:
            row = self._db.execute(
                f"SELECT {self.table.columns} FROM {self.table.name} "
                f"WHERE {self.table.hash_column} = ?",
                (h,),
            ).fetchone()
        if row is None or not hmac.compare_digest(str(row[1]), h):
            return None
        return self._credential(row)

    def delete(self, name: str) -> bool:
        with self._lock, self._db:
            cur = self._db.execute(f"DELETE FROM {self.table.name} WHERE name = ?", (name,))
            return cur.rowcount > 0

    def list(self) -> list[Credential]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self.table.columns} FROM {self.table.name} ORDER BY name"
            ).fetchall()
        return [self._credential(r) for r in rows]

    def update(self, name: str, **attributes: Any) -> None:
        """Set attributes of ``name`` (nothing happens when there is no such name)."""
        self._check_attributes(attributes)
        if not attributes:
            return
        assignments = ", ".join(f"{col} = ?" for col in attributes)
        with self._lock, self._db:
            self._db.execute(
                f"UPDATE {self.table.name} SET {assignments} WHERE name = ?",
                (*attributes.values(), name),
            )
