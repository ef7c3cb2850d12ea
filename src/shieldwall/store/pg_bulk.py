"""Large batches of rows as one PostgreSQL statement each, pipeline-friendly (no COPY).

Text columns go as one parameter per column, the values joined by line breaks and
split again by ``string_to_array`` on the server: one C call on each side, nothing
escaped per value. When a value holds a line break or a NUL, the rows go as one JSON
document instead (``jsonb_array_elements``). Each function returns ``(sql, params)``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shieldwall.core.model import Consultation, Signal
from shieldwall.store.rows import DECISION_COLS, SIGNAL_INSERT_COLS

FROM = 16  # rows from which a batch is written with one statement

# The PostgreSQL types of DECISION_COLS, in order.
_DECISION_TYPES = (
    "bigint", "text", "text", "text", "text", "text", "text",
    "float8", "float8", "bigint", "integer", "text", "text",
)  # fmt: skip

Statement = tuple[str, tuple[Any, ...]]


def text(value: str) -> str:
    """PostgreSQL text cannot hold NUL: U+FFFD instead of failing the commit."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _arrays(count: int) -> str:
    """``count`` text parameters, each split at line breaks into an array."""
    return ", ".join(["string_to_array(%s, E'\\n')"] * count)


def _lines(*columns: list[str]) -> list[str] | None:
    """Each column's values joined by line breaks; None when a value holds one or a NUL."""
    joined = []
    for values in columns:
        line = "\n".join(values)
        if line.count("\n") != len(values) - 1 or "\x00" in line:
            return None
        joined.append(line)
    return joined


def json_rows(rows: Sequence[Sequence[Any]]) -> str:
    """``rows`` as one JSON array of arrays (NUL replaced, as :func:`text` does)."""
    document = json.dumps(rows, separators=(",", ":"), allow_nan=False)
    if "\\u0000" not in document:
        return document
    clean = [[text(v) if isinstance(v, str) else v for v in row] for row in rows]
    return json.dumps(clean, separators=(",", ":"), allow_nan=False)


def signals(input_seq: int, batch: Sequence[Signal], received_at: float) -> Statement:
    """Insert ``batch``; the ids follow its order (a replay reads them back by id)."""
    columns = _lines(
        [s.member for s in batch], [s.target for s in batch], [s.scenario for s in batch]
    )
    if columns is None:
        return (
            f"INSERT INTO signals ({SIGNAL_INSERT_COLS}) SELECT %s, r->>0, r->>1, r->>2, "
            "(r->>3)::float8, (r->>4)::bigint, %s "
            "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS u(r, n) ORDER BY n",
            (
                input_seq,
                received_at,
                json_rows([(s.member, s.target, s.scenario, s.at, s.events) for s in batch]),
            ),
        )
    times = "\n".join(map(repr, [s.at for s in batch]))
    counts = "\n".join(map(str, [s.events for s in batch]))
    return (
        f"INSERT INTO signals ({SIGNAL_INSERT_COLS}) SELECT %s, m, t, s, a::float8, "
        f"e::bigint, %s FROM unnest({_arrays(5)}) WITH ORDINALITY AS u(m, t, s, a, e, n) "
        "ORDER BY n",
        (input_seq, received_at, *columns, times, counts),
    )


def events(base: int, at: float, rows: Sequence[tuple[str, str]]) -> Statement | None:
    """Insert (kind, body) ``rows`` as ids ``base + 1, base + 2, ...``; None when a value
    holds a line break or a NUL (then row by row)."""
    columns = _lines([k for k, _ in rows], [b for _, b in rows])
    if columns is None:
        return None
    return (
        "INSERT INTO events (id, at, kind, body) SELECT %s + n, %s, k, b "
        f"FROM unnest({_arrays(2)}) WITH ORDINALITY AS u(k, b, n)",
        (base, at, *columns),
    )


def decisions(params: Sequence[Sequence[Any]]) -> Statement:
    """Insert rows of DECISION_COLS, skipping an id already stored (COPY could not)."""
    return (
        f"INSERT INTO decisions ({DECISION_COLS}) SELECT "
        + ", ".join(f"(r->>{i})::{kind}" for i, kind in enumerate(_DECISION_TYPES))
        + " FROM jsonb_array_elements(%s::jsonb) AS r ON CONFLICT (id) DO NOTHING",
        (json_rows(params),),
    )


def consultations(rows: Sequence[Consultation], bodies: Sequence[str]) -> Statement:
    """Insert or update consultations with their JSON bodies."""
    return (
        "INSERT INTO consultations (id, target, scenario, status, body) "
        "SELECT (r->>0)::bigint, r->>1, r->>2, r->>3, r->>4 "
        "FROM jsonb_array_elements(%s::jsonb) AS r "
        "ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
        (
            json_rows(
                [
                    (c.id, c.target, c.scenario, c.status, b)
                    for c, b in zip(rows, bodies, strict=True)
                ]
            ),
        ),
    )
