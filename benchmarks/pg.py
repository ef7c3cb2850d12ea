"""The PostgreSQL server the PostgreSQL benchmarks run on, and a schema of their own there.

The schema comes from the tests' own ``scratch_schema`` (created before, dropped with its
tables after), so benchmarks and tests share one way of borrowing a server.
"""

from __future__ import annotations

import os

from tests.store.pg import scratch_schema

PG_ENV = "SHIELDWALL_TEST_PG"

__all__ = ["PG_ENV", "scratch_schema", "server"]


def server() -> str:
    """The server's URL; "" (with a note printed) when none is configured."""
    url = os.environ.get(PG_ENV, "")
    if not url:
        print(f"   skipped: {PG_ENV} is not set (point it at a PostgreSQL server)")
    return url
