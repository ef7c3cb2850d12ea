"""Read the hub's decisions straight from its SQLite file (read-only), for offline export.

Used by ``shieldwall feeds export --data DIR`` on the hub host when no HTTP request
should be needed (cron jobs, config management). Opens the store read-only (no
migration, no write lock), so it never competes with the hub's writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shieldwall.core.model import Decision
from shieldwall.store.sqlite import SQLiteStore, StoreError

DB_NAME = "hub.sqlite3"  # as shieldwall.hub.app.DB_NAME


def db_path(data_dir: Path) -> Path:
    path = Path(data_dir) / DB_NAME
    if not path.is_file():
        raise ValueError(
            f"{str(data_dir)!r} holds no hub database ({DB_NAME}): "
            "give the --data directory made by 'shieldwall hub init'"
        )
    return path


@contextmanager
def _reading(data_dir: Path, what: str) -> Iterator[SQLiteStore]:
    """The hub's store opened read-only; its errors as ValueError naming ``what``."""
    path = db_path(data_dir)
    try:
        store = SQLiteStore(path, read_only=True)
    except StoreError as exc:
        raise ValueError(f"cannot read {what} from {str(path)!r}: {exc}") from None
    try:
        yield store
    except sqlite3.Error as exc:
        raise ValueError(f"cannot read {what} from {str(path)!r}: {exc}") from None
    finally:
        store.close()


def active_decisions(data_dir: Path, now: float) -> list[Decision]:
    """Decisions active at ``now`` and not revoked, by id."""
    with _reading(data_dir, "decisions") as store:
        return store.active_decisions(now)


def is_member(data_dir: Path, name: str) -> bool:
    """Whether ``name`` is a member with a key (not an external partner) of this hub."""
    with _reading(data_dir, "members") as store:
        return any(row[0] == name and row[1] for row in store.member_rows())
