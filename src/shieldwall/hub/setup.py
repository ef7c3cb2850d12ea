"""Creating a hub's data directory: treaty, database and the admin token."""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from pathlib import Path

from shieldwall.core.treaty import load_treaty
from shieldwall.hub.bookkeeping import token_digest
from shieldwall.hub.storage import DB_NAME, SETTINGS_FILE, open_postgres, store_spec
from shieldwall.store.base import Store
from shieldwall.store.sqlite import SQLiteStore
from shieldwall.store.urls import SQLITE, check_store, redact

TOKEN_FILE = "admin-token"


def init_hub(data_dir: Path, treaty_text: str, source: str, store: str | None = None) -> str:
    """Create DATA with the treaty; returns the admin token (also in DATA/admin-token).

    ``store``: "sqlite" (DATA/hub.sqlite3) or a PostgreSQL URL, recorded as the setting
    ``store`` in DATA/hub.toml; None: ``SHIELDWALL_STORE`` if set (not recorded), else
    SQLite. The treaty and the admin token's digest go into the store's meta table.
    """
    treaty = load_treaty(treaty_text, source)
    data_dir = Path(data_dir)
    spec = store_spec(SQLITE) if store is None else check_store(store, "--store")
    if (data_dir / DB_NAME).exists() or "store" in _settings(data_dir / SETTINGS_FILE):
        raise ValueError(
            f"{str(data_dir)!r} already holds a hub: use another --data directory, "
            "or 'shieldwall hub serve' to run this one"
        )
    token = "swa_" + secrets.token_urlsafe(32)
    # A PostgreSQL store is opened first: an unreachable server creates nothing.
    records: Store | None = None if spec == SQLITE else open_postgres(spec, lock_wait=0.0)
    try:
        if records is not None and records.get_meta("treaty") is not None:
            raise ValueError(
                f"{redact(spec)} already holds a hub's records: use another database "
                "(or schema), or 'shieldwall hub serve' with the data directory made for it"
            )
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(data_dir, 0o700)
        if records is None:
            records = SQLiteStore(data_dir / DB_NAME)
        with records.transaction():
            records.set_meta("treaty", treaty.text)
            records.set_meta("admin_token_sha256", token_digest(token))
    finally:
        if records is not None:
            records.close()
    if store is not None and spec != SQLITE:
        path = data_dir / SETTINGS_FILE
        kept = path.read_text() if path.exists() else ""
        _write_private(path, f"store = {json.dumps(spec)}\n{kept}")
    _write_private(data_dir / TOKEN_FILE, token + "\n")
    return token


def _settings(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc}): fix the file or remove it") from None


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
