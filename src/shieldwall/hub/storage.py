"""Which store a hub uses: SQLite in its data directory, or PostgreSQL by URL.

The setting ``store`` in ``DIR/hub.toml`` names it (``hub init --store`` writes it);
the environment variable ``SHIELDWALL_STORE`` overrides the setting, e.g. to keep a
URL out of the file. Everything else (admin token file, interop credentials,
settings) stays in the data directory whichever store holds the records.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from shieldwall.store.base import Store
from shieldwall.store.sqlite import SQLiteStore, StoreError
from shieldwall.store.urls import SQLITE, check_store

DB_NAME = "hub.sqlite3"
SETTINGS_FILE = "hub.toml"
STORE_ENV = "SHIELDWALL_STORE"


def store_spec(configured: str, environ: Mapping[str, str] | None = None) -> str:
    """The store to open: ``SHIELDWALL_STORE`` if set, else the ``store`` setting."""
    env = (os.environ if environ is None else environ).get(STORE_ENV, "").strip()
    return check_store(env, STORE_ENV) if env else configured


def open_store(data_dir: Path, spec: str, *, synchronous: str = "NORMAL") -> Store:
    """Open the hub's store; ValueError (naming the store, never a password) if it cannot."""
    data_dir = Path(data_dir)
    if spec == SQLITE:
        if not (data_dir / DB_NAME).exists():
            raise ValueError(
                f"{str(data_dir)!r} is not a hub data directory: "
                "run 'shieldwall hub init --data DIR --template nato' first"
            )
        try:
            return SQLiteStore(data_dir / DB_NAME, synchronous=synchronous)
        except StoreError as exc:
            raise ValueError(str(exc)) from None
    if not data_dir.is_dir():
        raise ValueError(
            f"{str(data_dir)!r} is not a hub data directory: "
            "run 'shieldwall hub init --data DIR --store URL' first"
        )
    return open_postgres(spec)


def open_postgres(url: str, lock_wait: float = 5.0) -> Store:
    """A :class:`PostgresStore` at ``url``; its errors as ValueError."""
    try:
        from shieldwall.store.postgres import PostgresStore
    except ImportError:
        raise ValueError(
            "a PostgreSQL store needs psycopg: pip install 'shieldwall[postgres]'"
        ) from None
    try:
        return PostgresStore(url, lock_wait=lock_wait)
    except StoreError as exc:
        raise ValueError(str(exc)) from None
