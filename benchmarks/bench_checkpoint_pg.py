"""``bench_checkpoint`` on PostgreSQL: start-up from a checkpoint and by a full replay,
building checkpoints, and a retention pass, with the records in a PostgreSQL schema of
their own (dropped afterwards).

Needs a server: ``SHIELDWALL_TEST_PG=postgresql://USER@HOST[:PORT]/DATABASE``; without it
the benchmark prints a note and reports nothing. ``SHIELDWALL_BENCH_SIGNALS`` as there.
"""

from __future__ import annotations

from typing import Any

from benchmarks import bench_checkpoint, pg


def run() -> dict[str, Any]:
    url = pg.server()
    if not url:
        return {}
    with pg.scratch_schema(url, prefix="sw_bench") as schema_url:
        return bench_checkpoint.run(schema_url)
