"""``bench_checkpoint`` on PostgreSQL: start-up from a checkpoint and by a full replay,
building checkpoints, and a retention pass, with the records in a PostgreSQL schema of
their own (dropped afterwards).

Needs a server: ``SHIELDWALL_TEST_PG=postgresql://USER@HOST[:PORT]/DATABASE``; without it
the benchmark prints a note and reports nothing. ``SHIELDWALL_BENCH_SIGNALS`` as there.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from benchmarks import bench_checkpoint
from benchmarks.bench_store import PG_ENV
from shieldwall.store.urls import with_search_path


def run() -> dict[str, Any]:
    server = os.environ.get(PG_ENV, "")
    if not server:
        print(f"   skipped: {PG_ENV} is not set (point it at a PostgreSQL server)")
        return {}
    import psycopg

    schema = f"sw_bench_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        return bench_checkpoint.run(with_search_path(server, schema))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
