"""Every store test runs against both stores: SQLite in a temporary directory and
PostgreSQL (``SHIELDWALL_TEST_PG``) in a schema of its own, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shieldwall.store.postgres import PostgresStore
from shieldwall.store.sqlite import SQLiteStore
from tests.conftest import require_env

from .pg import scratch_schema

AnyStore = SQLiteStore | PostgresStore


@dataclass
class Stores:
    """Opens the test's store (again): each call a new handle on the same records."""

    kind: str
    where: str  # the SQLite file or the PostgreSQL URL (with search_path)
    opened: list[AnyStore] = field(default_factory=list)

    def open(self, **options: float) -> AnyStore:
        store: AnyStore
        if self.kind == "sqlite":
            store = SQLiteStore(Path(self.where))
        else:
            store = PostgresStore(self.where, lock_wait=options.get("lock_wait", 0.0))
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "sqlite":
        made = Stores("sqlite", str(tmp_path / "hub.sqlite3"))
        yield made
        made.close_all()
        return
    server = require_env("SHIELDWALL_TEST_PG")
    with scratch_schema(server) as url:
        made = Stores("postgres", url)
        try:
            yield made
        finally:
            made.close_all()


@pytest.fixture
def store(stores: Stores) -> AnyStore:
    return stores.open()


@pytest.fixture
def pg_server() -> str:
    return require_env("SHIELDWALL_TEST_PG")
