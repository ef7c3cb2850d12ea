"""The hub over real HTTP on PostgreSQL: signal ingest per second, measured exactly as
``bench_hub`` measures it on SQLite (same batches and duration), with a SQLite hub
measured in the same run, side by side.

Two loads: ``bench_hub``'s two senders, each waiting for the answer to its batch
before it sends the next (a commit's latency counts in full), and eight members
sending at once (what a busy alliance sends: the throughput). Each is measured
``SHIELDWALL_BENCH_STORE_ROUNDS`` times (default 2), the stores taking turns, and the
best round is kept, so that both meet the same machine load.

Needs a server: ``SHIELDWALL_TEST_PG=postgresql://USER@HOST[:PORT]/DATABASE``. The hub
gets a schema of its own there, dropped afterwards. Without the variable the
benchmark prints a note and reports nothing.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.bench_hub import SENDERS, _enrol, _hub, ingest
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.procs import free_port, start_hub, stop
from shieldwall.store.urls import with_search_path

PG_ENV = "SHIELDWALL_TEST_PG"
MANY = 8  # members sending at once in the throughput case


@contextmanager
def _pg_hub(server: str) -> Iterator[tuple[str, str]]:
    """A hub on a schema of its own on ``server``: (URL, admin token)."""
    import psycopg

    schema = f"sw_bench_{secrets.token_hex(6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory(prefix="sw-bench-store-") as tmp:
            data = Path(tmp) / "hub"
            token = init_hub(
                data, template_text("nato"), "nato", store=with_search_path(server, schema)
            )
            port = free_port()
            proc = start_hub(data, port, Path(tmp) / "hub.log")
            try:
                yield f"http://127.0.0.1:{port}", token
            finally:
                stop(proc)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def _sqlite_hub() -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="sw-bench-store-") as tmp:
        hub, token, proc = _hub(Path(tmp))
        try:
            yield hub, token
        finally:
            stop(proc)


def _ingest(hub: Any, senders: int) -> float:
    """Signals/s of ``senders`` members sending to ``hub`` (a context: URL, token)."""
    with hub as (url, token):
        keys = _enrol(url, token, [f"sender-{i}" for i in range(senders)], "100.66")
        return float(ingest(url, keys)["hub_http_ingest_signals_per_s"])


def run() -> dict[str, float]:
    server = os.environ.get(PG_ENV, "")
    if not server:
        print(f"   skipped: {PG_ENV} is not set (point it at a PostgreSQL server)")
        return {}
    rounds = int(os.environ.get("SHIELDWALL_BENCH_STORE_ROUNDS", "2"))
    best: dict[str, float] = {}
    for _ in range(rounds):
        for senders, load in ((SENDERS, ""), (MANY, f"_{MANY}_senders")):
            for store, hub in (("pg", _pg_hub(server)), ("sqlite", _sqlite_hub())):
                key = f"{store}_http_ingest{load}_signals_per_s"
                best[key] = max(best.get(key, 0.0), _ingest(hub, senders))
    figures = dict(sorted(best.items()))
    for load in ("", f"_{MANY}_senders"):
        pg, sqlite = (
            figures[f"pg_http_ingest{load}_signals_per_s"],
            figures[f"sqlite_http_ingest{load}_signals_per_s"],
        )
        figures[f"pg_over_sqlite{load}"] = round(pg / sqlite, 2)
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<44} {value}")
