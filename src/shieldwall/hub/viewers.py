"""Read tokens: who may read the hub's views without being a member.

``shieldwall viewers add NAME`` makes a token (shown once) for a person or a program
that reads the dashboard, the decisions and the activity but changes nothing. The
tokens live in ``DATA/viewers.sqlite3`` as SHA-256 hashes, beside the hub's own
records (never in them: the hub keeps one writer), whichever store the hub uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shieldwall.hub.setup import TOKEN_FILE
from shieldwall.hub.storage import DB_NAME, SETTINGS_FILE
from shieldwall.interop import credentials as creds
from shieldwall.interop.credentials import CredentialStore, NameTaken, Table

VIEWERS_DB = "viewers.sqlite3"
TOKEN_PREFIX = "swr_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_TABLE = Table("viewers", hash_column="token_hash", attributes={})


def viewers_path(data_dir: Path) -> Path:
    """``DATA/viewers.sqlite3``; ValueError when ``data_dir`` is not a hub data directory."""
    data_dir = Path(data_dir)
    if not any((data_dir / f).exists() for f in (DB_NAME, SETTINGS_FILE, TOKEN_FILE)):
        raise ValueError(
            f"{str(data_dir)!r} is not a hub data directory: give the --data directory "
            "made by 'shieldwall hub init'"
        )
    return data_dir / VIEWERS_DB


def new_token() -> str:
    """A fresh read token (256 random bits); its prefix tells it from an admin token."""
    return TOKEN_PREFIX + creds.new_secret()


def check_name(name: str) -> str:
    return creds.check_name(
        name, NAME_RE, "viewer", "use 1-64 letters, digits, '.', '_', '@' or '-'"
    )


@dataclass(frozen=True, slots=True)
class Viewer:
    name: str
    created_at: float


class Viewers(Protocol):
    def check(self, token: str) -> Viewer | None: ...


class NoViewers:
    """No read tokens at all (a hub embedded without a data directory)."""

    def check(self, token: str) -> Viewer | None:
        return None


class SQLiteViewers:
    """Read tokens in ``DATA/viewers.sqlite3``."""

    def __init__(self, path: str | Path) -> None:
        self._store = CredentialStore(path, _TABLE, synchronous="FULL")
        self.path = self._store.path

    def __repr__(self) -> str:
        return f"SQLiteViewers(path={self.path!r})"

    def close(self) -> None:
        self._store.close()

    def add(self, name: str, token: str, now: float) -> Viewer:
        check_name(name)
        try:
            self._store.add(name, token, now)
        except NameTaken:
            raise ValueError(
                f"viewer {name!r} exists already: remove it first or pick another name"
            ) from None
        return Viewer(name, now)

    def check(self, token: str) -> Viewer | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 256:
            return None
        found = self._store.check(token)
        return None if found is None else Viewer(found.name, found.created_at)

    def delete(self, name: str) -> bool:
        return self._store.delete(name)

    def list(self) -> list[Viewer]:
        return [Viewer(c.name, c.created_at) for c in self._store.list()]
