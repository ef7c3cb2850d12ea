"""Start-up of a hub with many recorded signals: from its checkpoint and from a full
replay, side by side; what writing a checkpoint costs the event loop; the store's size
before and after a retention pass.

The records are written straight into a SQLite store (HTTP would take hours for ten
million signals) with the hub's own insert path, in bulk transactions: every signal
batch is a recorded input with its signals, applied by the real council, and what the
council produced (decisions, consultations, stream events) is stored as the hub stores
it. 500 members report over 30 days; most reports hit a pool of 50,000 busy attackers
(quorums, decisions), the rest a long tail of 2 million addresses. The treaty keeps
7 days of records, so the retention pass prunes about three quarters of them.

``SHIELDWALL_BENCH_SIGNALS`` sets how many signals (default 1,000,000; the issue's
figure is 10,000,000). ``bench_checkpoint_pg`` runs the same on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from shieldwall.core.model import Signal
from shieldwall.core.treaty import template_text
from shieldwall.hub import checkpoints, upkeep
from shieldwall.hub.archive import DIRECTORY
from shieldwall.hub.commits import texts
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.setup import init_hub
from shieldwall.signing import SigningKey
from shieldwall.store.base import Store
from shieldwall.store.postgres import PostgresStore
from shieldwall.store.sqlite import SQLiteStore

COUNT_ENV = "SHIELDWALL_BENCH_SIGNALS"
MEMBERS = 500
HOT = 50_000  # busy attackers: most reports, quorums and decisions
TAIL = 2_000_000  # the long tail of addresses seen once or twice
DAYS = 30.0
RETENTION = "7d"
PER_TRANSACTION = 2000  # inputs per bulk transaction
AFTER = 10_000  # inputs after the checkpoint in the "behind" start: the default interval
START = 1_750_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def _target(rnd: random.Random) -> str:
    if rnd.random() < 0.7:
        n = int(rnd.paretovariate(1.2)) % HOT
        return f"45.{n // 65536}.{n // 256 % 256}.{n % 256}"
    n = rnd.randrange(TAIL)
    return f"{185 + n // 65536 // 256}.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def _open(data: Path, url: str | None) -> Store:
    """The hub's store: SQLite in ``data``, or PostgreSQL at ``url`` (writing as leader)."""
    if url is None:
        return SQLiteStore(data / "hub.sqlite3")
    store = PostgresStore(url)
    store.fence(0)
    return store


def generate(data: Path, total: int, url: str | None = None) -> tuple[Secretariat, Clock, int]:
    """A hub in ``data`` with ``total`` recorded signals; (secretariat, clock, inputs)."""
    text = template_text("nato") + f'\n[records]\nretention = "{RETENTION}"\n'
    init_hub(data, text, "bench", store=url)
    clock = Clock()
    sec = Secretariat(_open(data, url), clock)
    names = [f"m{i:03d}" for i in range(MEMBERS)]
    for i, name in enumerate(names):
        sec.join(name, SigningKey.generate().public_key, [f"10.{i // 256}.{i % 256}.1"])
        sec.approve(name, "secretariat")
    rnd = random.Random(13)
    store = sec.store
    seqs = dict.fromkeys(names, 0)
    written = inputs = 0
    step = DAYS * 86400.0 / max(1, total / 20)
    while written < total:
        with store.transaction():
            for _ in range(PER_TRANSACTION):
                if written >= total:
                    break
                clock.now += rnd.expovariate(1.0 / step)
                now = clock.now
                member = names[int(rnd.paretovariate(1.5)) % MEMBERS]
                size = min(total - written, rnd.randint(1, 40))
                batch = [
                    Signal(
                        member, _target(rnd), rnd.choice(("ssh", "http")), now, rnd.randint(3, 30)
                    )
                    for _ in range(size)
                ]
                seqs[member] += 1
                payload = {"member": member, "seq": seqs[member]}
                seq = store.add_input(now, "signals", payload)
                store.add_signals(seq, batch, now)
                store.set_last_seq(member, seqs[member])
                # The hub's own path for what the council produced (secretariat._record).
                outcome = sec._apply("signals", payload, now, batch)
                opened = texts(outcome.consultations)
                events = sec._events(outcome, opened)
                sec._store_outcome(outcome, opened)
                sec._publish(now, events)
                written += size
                inputs += 1
    return sec, clock, inputs


def _size(store: Store) -> tuple[int, int]:
    """(bytes on disk, bytes in use): SQLite's pages not on the free list; PostgreSQL's
    tables and indexes as they stand (space freed by deletes is reused, not returned)."""
    if isinstance(store, PostgresStore):
        row = store._run(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ).fetchone()
        return int(row[0]), int(row[0])
    assert isinstance(store, SQLiteStore)
    db = store._db
    page = db.execute("PRAGMA page_size").fetchone()[0]
    used = (
        db.execute("PRAGMA page_count").fetchone()[0]
        - db.execute("PRAGMA freelist_count").fetchone()[0]
    )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store.path.stat().st_size, used * page


def _compact(store: Store) -> None:
    """Give the space retention freed back to the file system."""
    if isinstance(store, PostgresStore):
        store._run("VACUUM FULL")
    elif isinstance(store, SQLiteStore):
        store._run("VACUUM")


def _start(data: Path, clock: Clock, url: str | None = None) -> tuple[float, Secretariat]:
    started = time.perf_counter()
    sec = Secretariat(_open(data, url), clock)
    return time.perf_counter() - started, sec


async def _lag_during(work: Any) -> tuple[float, float]:
    """Run ``work`` in a thread; (its seconds, the event loop's worst lateness in ms)."""
    worst = 0.0
    done = False

    async def probe() -> None:
        nonlocal worst
        loop = asyncio.get_running_loop()
        while not done:
            at = loop.time()
            await asyncio.sleep(0.005)
            worst = max(worst, loop.time() - at - 0.005)

    task = asyncio.create_task(probe())
    started = time.perf_counter()
    await asyncio.to_thread(work)
    seconds = time.perf_counter() - started
    done = True
    await task
    return seconds, worst * 1000


def run(url: str | None = None) -> dict[str, Any]:
    """The figures on SQLite, or on the PostgreSQL schema ``url`` points to."""
    total = int(os.environ.get(COUNT_ENV, "1000000"))
    figures: dict[str, Any] = {"signals": total}
    with tempfile.TemporaryDirectory(prefix="sw-bench-checkpoint-") as tmp:
        data = Path(tmp) / "hub"
        started = time.perf_counter()
        sec, clock, inputs = generate(data, total, url)
        figures["inputs"] = inputs
        figures["generate_s"] = round(time.perf_counter() - started, 1)
        figures["decisions"] = sec.store.count("decisions")
        figures["events"] = sec.store.count("events")
        store = sec.store
        last = store.last_input_seq()
        sec.store.close()

        replay_s, full = _start(data, clock, url)
        figures["start_full_replay_s"] = round(replay_s, 2)
        figures["replay_signals_per_s"] = round(total / replay_s)
        gc.freeze()  # as 'hub serve' does once its council is built

        # The leader's checkpoint AFTER inputs before the end: built off the loop.
        store = full.store
        behind = min(AFTER, last // 4)
        early = last - behind
        built: list[checkpoints.Built] = []

        def build_early() -> None:
            built.append(upkeep.build_apart(store, full.founding, early, clock()))

        build_s, lag_ms = asyncio.run(_lag_during(build_early))
        t = time.perf_counter()
        upkeep.store_built(store, built[0])
        figures["checkpoint_build_first_s"] = round(build_s, 2)
        figures["checkpoint_loop_lag_max_ms"] = round(lag_ms, 1)
        figures["checkpoint_store_on_loop_ms"] = round((time.perf_counter() - t) * 1000, 1)
        figures["checkpoint_bytes"] = built[0].row.size
        figures["checkpoint_stored_bytes"] = len(built[0].blob)

        # The next checkpoint starts from that one: only the inputs since are replayed.
        def build_next() -> None:
            built.append(upkeep.build_apart(store, full.founding, last, clock()))

        nxt, next_lag_ms = asyncio.run(_lag_during(build_next))
        upkeep.store_built(store, built[1])
        figures["checkpoint_build_next_s"] = round(nxt, 2)
        figures["checkpoint_build_next_inputs"] = built[1].replayed
        figures["checkpoint_build_next_loop_lag_max_ms"] = round(next_lag_ms, 1)
        full.store.close()

        # Start from the newest checkpoint (nothing after it), and from one AFTER behind.
        at_end_s, hub = _start(data, clock, url)
        figures["start_from_checkpoint_s"] = round(at_end_s, 2)
        with hub.store.transaction():
            hub.store._run("DELETE FROM checkpoints WHERE seq = ?", (last,))
        hub.store.close()
        behind_s, hub = _start(data, clock, url)
        figures["start_from_checkpoint_behind_s"] = round(behind_s, 2)
        figures["start_from_checkpoint_behind_inputs"] = behind
        hub.store.put_checkpoint(built[1].row, built[1].blob)

        size, used = _size(hub.store)
        figures["store_bytes_before_retention"] = size
        t = time.perf_counter()
        done = upkeep.retain(hub.store, hub.treaty, data / DIRECTORY, clock())
        figures["retention_s"] = round(time.perf_counter() - t, 2)
        figures["retention_passes"] = len(done)
        figures["retention_pruned_inputs"] = sum(p.pruned_inputs for p in done)
        figures["retention_pruned_events"] = sum(p.pruned_events for p in done)
        # Each delete transaction holds the store (the loop, on SQLite).
        figures["retention_prune_transaction_max_s"] = round(max(p.longest for p in done), 3)
        figures["archive_bytes"] = sum(p.path.stat().st_size for p in done if p.path)
        size, used = _size(hub.store)
        figures["store_bytes_after_retention"] = size
        figures["store_bytes_in_use_after_retention"] = used
        _compact(hub.store)
        figures["store_bytes_after_vacuum"], _ = _size(hub.store)
        hub.store.close()
        again_s, hub = _start(data, clock, url)
        figures["start_after_retention_s"] = round(again_s, 2)
        hub.store.close()
    return figures
