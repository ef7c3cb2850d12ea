"""A scratch PostgreSQL schema per test: created before, dropped (with its tables) after."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from shieldwall.store.urls import with_search_path


@contextmanager
def scratch_schema(server_url: str, prefix: str = "sw_test") -> Iterator[str]:
    """A URL whose sessions use a new, empty schema; the schema is dropped afterwards."""
    schema = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(server_url, schema)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
