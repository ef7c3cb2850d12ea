"""Checkpoints and pruning: the queries both stores run for them, written once.

A checkpoint row holds the council's state after one recorded input (``seq``), its
canonical bytes compressed (:mod:`shieldwall.core.checkpoint` makes them, the hub
compresses them). Pruning deletes recorded inputs (with their signals) and stream
events up to given numbers, in the caller's transaction, and remembers how far it
went in ``meta`` (``pruned_input``, ``pruned_event``): what is gone is known even
when the tables are empty. The newest input and the newest event are never pruned,
so the next ids always follow on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shieldwall.core.model import Signal
from shieldwall.store.rows import SIGNAL_COLS, marks

PRUNED_INPUT = "pruned_input"  # meta: inputs with seq <= this were archived and pruned
PRUNED_EVENT = "pruned_event"  # meta: events with id <= this were archived and pruned
CHECKPOINTS_KEPT = 3  # newest checkpoints kept; older ones are deleted when one is added

_COLS = "seq, at, written_at, format, built_by, treaty, treaty_label, digest, size"


@dataclass(frozen=True)
class CheckpointRow:
    """A stored checkpoint without its body."""

    seq: int
    at: float
    written_at: float
    format: int
    built_by: str  # the shieldwall version that built it
    treaty: str
    treaty_label: str
    digest: str
    size: int  # bytes of the canonical (uncompressed) body


class RetainedQueries(ABC):
    @abstractmethod
    def _run(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    @abstractmethod
    def _runmany(self, sql: str, params: Sequence[Sequence[Any]]) -> None: ...

    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...

    # -- checkpoints --------------------------------------------------------------------

    def put_checkpoint(self, row: CheckpointRow, blob: bytes, keep: int = CHECKPOINTS_KEPT) -> None:
        """Store a checkpoint (``blob``: its compressed body); keep only the newest ``keep``."""
        if keep < 1:
            raise ValueError(f"keep {keep!r} must be 1 or more checkpoints")
        self._run(
            f"INSERT INTO checkpoints ({_COLS}, body) VALUES ({marks(10)})",
            (
                row.seq,
                row.at,
                row.written_at,
                row.format,
                row.built_by,
                row.treaty,
                row.treaty_label,
                row.digest,
                row.size,
                blob,
            ),
        )
        self._run(
            "DELETE FROM checkpoints WHERE seq NOT IN "
            "(SELECT seq FROM checkpoints ORDER BY seq DESC LIMIT ?)",
            (keep,),
        )

    def checkpoints(self) -> list[CheckpointRow]:
        """Stored checkpoints, newest first."""
        cur = self._run(f"SELECT {_COLS} FROM checkpoints ORDER BY seq DESC")
        return [
            CheckpointRow(
                int(r[0]),
                float(r[1]),
                float(r[2]),
                int(r[3]),
                str(r[4]),
                str(r[5]),
                str(r[6]),
                str(r[7]),
                int(r[8]),
            )
            for r in cur.fetchall()
        ]

    def checkpoint_blob(self, seq: int) -> bytes | None:
        row = self._run("SELECT body FROM checkpoints WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else bytes(row[0])

    # -- what is retained ---------------------------------------------------------------

    def pruned_input(self) -> int:
        """Inputs up to this seq were pruned (0: none ever was)."""
        return int(self.get_meta(PRUNED_INPUT) or 0)

    def pruned_event(self) -> int:
        """Stream events up to this id were pruned (0: none ever was)."""
        return int(self.get_meta(PRUNED_EVENT) or 0)

    def last_input_before(self, at: float) -> int:
        """The highest input seq recorded before time ``at`` (0: none)."""
        row = self._run("SELECT max(seq) FROM inputs WHERE at < ?", (at,)).fetchone()
        return int(row[0] or 0)

    def last_event_before(self, at: float) -> int:
        """The highest stream event id stored before time ``at`` (0: none)."""
        row = self._run("SELECT max(id) FROM events WHERE at < ?", (at,)).fetchone()
        return int(row[0] or 0)

    def signals_between(self, after: int, upto: int) -> list[tuple[int, Signal]]:
        """(input seq, signal) of the inputs ``after < seq <= upto``, in recorded order."""
        cur = self._run(
            f"SELECT input_seq, {SIGNAL_COLS} FROM signals "
            "WHERE input_seq > ? AND input_seq <= ? ORDER BY id",
            (after, upto),
        )
        return [(int(r[0]), Signal(*r[1:])) for r in cur.fetchall()]

    def prune(self, inputs_upto: int, events_upto: int) -> tuple[int, int]:
        """Delete inputs (and their signals) with ``seq <= inputs_upto`` and events with
        ``id <= events_upto``; (inputs, events) deleted. Run it inside a transaction."""
        inputs = events = 0
        if inputs_upto > self.pruned_input():
            self._run("DELETE FROM signals WHERE input_seq <= ?", (inputs_upto,))
            inputs = self._run("DELETE FROM inputs WHERE seq <= ?", (inputs_upto,)).rowcount
            self.set_meta(PRUNED_INPUT, str(inputs_upto))
        if events_upto > self.pruned_event():
            events = self._run("DELETE FROM events WHERE id <= ?", (events_upto,)).rowcount
            self.set_meta(PRUNED_EVENT, str(events_upto))
        return int(inputs), int(events)
