"""The hub over real HTTP on PostgreSQL: signal ingest per second, measured exactly as
``bench_hub`` measures it on SQLite (same batches and duration), with a SQLite hub
measured in the same run, side by side.

Two loads: ``bench_hub``'s two senders, each waiting for the answer to its batch
before it sends the next (a commit's latency counts in full), and eight members
sending at once (what a busy alliance sends: the throughput). Each is measured
``SHIELDWALL_BENCH_STORE_ROUNDS`` times (default 2), the stores taking turns, and the
best round is kept, so that both meet the same machine load.

Here the senders, the hub and the database server share one machine's cores, so the
signals per second say as much about the machine as about the hub. The CPU time the
hub process spends per batch of 500 (``*_hub_cpu_ms_per_batch``, from ``/proc``) is
what bounds the hub itself, and the database server's (``pg_server_cpu_ms_per_batch``,
every ``postgres`` process) is what a server on cores of its own would spend.

Needs a server: ``SHIELDWALL_TEST_PG=postgresql://USER@HOST[:PORT]/DATABASE``. The hub
gets a schema of its own there, dropped afterwards. Without the variable the
benchmark prints a note and reports nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks import pg
from benchmarks.bench_hub import BATCH, SENDERS, _enrol, _hub, ingest
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.procs import free_port, start_hub, stop

MANY = 8  # members sending at once in the throughput case


@contextmanager
def _pg_hub(server: str) -> Iterator[tuple[str, str, int]]:
    """A hub on a schema of its own on ``server``: (URL, admin token, pid)."""
    with (
        pg.scratch_schema(server, prefix="sw_bench") as url,
        tempfile.TemporaryDirectory(prefix="sw-bench-store-") as tmp,
    ):
        data = Path(tmp) / "hub"
        token = init_hub(data, template_text("nato"), "nato", store=url)
        port = free_port()
        proc = start_hub(data, port, Path(tmp) / "hub.log")
        try:
            yield f"http://127.0.0.1:{port}", token, proc.pid
        finally:
            stop(proc)


@contextmanager
def _sqlite_hub() -> Iterator[tuple[str, str, int]]:
    with tempfile.TemporaryDirectory(prefix="sw-bench-store-") as tmp:
        hub, token, proc = _hub(Path(tmp))
        try:
            yield hub, token, proc.pid
        finally:
            stop(proc)


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL server process on this machine."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += _cpu(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return total


def _ingest(hub: Any, senders: int) -> tuple[float, float, float]:
    """(signals/s, hub CPU ms per batch, database server CPU ms per batch) of ``senders``
    members sending to ``hub`` (a context: URL, token, pid)."""
    with hub as (url, token, pid):
        keys = _enrol(url, token, [f"sender-{i}" for i in range(senders)], "100.66")
        hub_before, db_before = _cpu(pid), _postgres_cpu()
        figures = ingest(url, keys)
        batches = figures["hub_http_ingest_signals"] / BATCH
        hub_ms = (_cpu(pid) - hub_before) * 1000 / batches
        db_ms = (_postgres_cpu() - db_before) * 1000 / batches
        return float(figures["hub_http_ingest_signals_per_s"]), hub_ms, db_ms


def run() -> dict[str, float]:
    server = pg.server()
    if not server:
        return {}
    rounds = int(os.environ.get("SHIELDWALL_BENCH_STORE_ROUNDS", "2"))
    best: dict[str, tuple[float, float, float]] = {}
    for _ in range(rounds):
        for senders, load in ((SENDERS, ""), (MANY, f"_{MANY}_senders")):
            for store, hub in (("pg", _pg_hub(server)), ("sqlite", _sqlite_hub())):
                measured = _ingest(hub, senders)
                key = f"{store}{load}"
                if measured[0] > best.get(key, (0.0, 0.0, 0.0))[0]:
                    best[key] = measured
    figures: dict[str, float] = {}
    for load in ("", f"_{MANY}_senders"):
        for store in ("pg", "sqlite"):
            rate, hub_ms, db_ms = best[f"{store}{load}"]
            figures[f"{store}_http_ingest{load}_signals_per_s"] = rate
            figures[f"{store}{load}_hub_cpu_ms_per_batch"] = round(hub_ms, 1)
            if store == "pg":
                figures[f"pg{load}_server_cpu_ms_per_batch"] = round(db_ms, 1)
        on_pg, on_sqlite = best[f"pg{load}"], best[f"sqlite{load}"]
        figures[f"pg_over_sqlite{load}"] = round(on_pg[0] / on_sqlite[0], 2)
        figures[f"pg_over_sqlite{load}_hub_cpu"] = round(on_pg[1] / on_sqlite[1], 2)
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<44} {value}")
