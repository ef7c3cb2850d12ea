"""The hub over real HTTP on PostgreSQL: signal ingest per second, measured exactly as
``bench_hub`` measures it on SQLite (same senders, batches and duration), with a
SQLite hub measured in the same run, side by side.

Needs a server: ``SHIELDWALL_TEST_PG=postgresql://USER@HOST[:PORT]/DATABASE``. The hub
gets a schema of its own there, dropped afterwards. Without the variable the
benchmark prints a note and reports nothing.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from benchmarks.bench_hub import SENDERS, _enrol, _hub, ingest
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.procs import free_port, start_hub, stop
from shieldwall.store.urls import with_search_path

PG_ENV = "SHIELDWALL_TEST_PG"


def run() -> dict[str, float]:
    server = os.environ.get(PG_ENV, "")
    if not server:
        print(f"   skipped: {PG_ENV} is not set (point it at a PostgreSQL server)")
        return {}
    import psycopg

    schema = f"sw_bench_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory(prefix="sw-bench-store-") as tmp:
            data = Path(tmp) / "hub"
            url = with_search_path(server, schema)
            token = init_hub(data, template_text("nato"), "nato", store=url)
            port = free_port()
            proc = start_hub(data, port, Path(tmp) / "hub.log")
            hub = f"http://127.0.0.1:{port}"
            try:
                senders = _enrol(hub, token, [f"sender-{i}" for i in range(SENDERS)], "100.66")
                figures = ingest(hub, senders)
            finally:
                stop(proc)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    with tempfile.TemporaryDirectory(prefix="sw-bench-store-") as tmp:
        hub, token, proc = _hub(Path(tmp))
        try:
            senders = _enrol(hub, token, [f"sender-{i}" for i in range(SENDERS)], "100.66")
            sqlite = ingest(hub, senders)
        finally:
            stop(proc)
    return {
        "pg_http_ingest_signals_per_s": figures["hub_http_ingest_signals_per_s"],
        "pg_http_ingest_signals": figures["hub_http_ingest_signals"],
        "sqlite_http_ingest_signals_per_s": sqlite["hub_http_ingest_signals_per_s"],
        "sqlite_http_ingest_signals": sqlite["hub_http_ingest_signals"],
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<44} {value}")
