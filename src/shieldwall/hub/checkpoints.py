"""Rebuilding the council from the store: the newest valid checkpoint, then the inputs after it.

A checkpoint is always built by a replay, never copied from a serving council: the
hub's own council also moves with ticks that changed nothing and were not recorded,
so only a replay is a function of the recorded inputs alone. :func:`build` restores
the newest checkpoint and replays the inputs recorded since (on its own connection,
off the event loop); the result is the bytes a full replay from the first input gives,
which is what ``shieldwall hub checkpoint --verify`` checks (:func:`verify`).

A checkpoint that does not load (another format version, damaged bytes, a digest that
does not match, another founding treaty, or older than the inputs still retained) is
skipped with one log line, and the next older one is tried; without any, the council
is replayed from the first input, reading the inputs retention pruned back from the
archive files (``hub/archive.py``); if they are not all there, :class:`NoCheckpoint`
says what to do.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from shieldwall import __version__
from shieldwall.core import checkpoint
from shieldwall.core.checkpoint import Checkpoint, CheckpointError
from shieldwall.core.council import Council
from shieldwall.core.treaty import Treaty
from shieldwall.hub import archive, quarantine
from shieldwall.hub.inputs import apply_input
from shieldwall.hub.recorded import Recorded, recorded
from shieldwall.store.base import Store
from shieldwall.store.retained import CheckpointRow

log = logging.getLogger("shieldwall.hub")

LEVEL = 1  # zlib level for stored bodies: fast; the body is JSON and shrinks well anyway


class NoCheckpoint(ValueError):
    """Inputs were pruned and no checkpoint restores: the council cannot be rebuilt."""


@dataclass
class Rebuilt:
    """A council rebuilt from the store, up to recorded input ``seq``."""

    council: Council
    seq: int
    checkpoint: int | None  # the seq of the checkpoint it started from (None: full replay)
    replayed: int  # inputs applied after the checkpoint
    held: quarantine.Quarantine = field(default_factory=quarantine.Quarantine)


def load(
    store: Store, founding: Treaty, upto: int | None = None
) -> tuple[Council, CheckpointRow] | None:
    """The newest checkpoint (at or before ``upto``) that restores; None if none does."""
    pruned = store.pruned_input()
    for row in store.checkpoints():
        if upto is not None and row.seq > upto:
            continue
        why = ""
        council = None
        if row.seq < pruned:
            why = f"it is older than the retained inputs (pruned up to input {pruned})"
        elif row.format != checkpoint.FORMAT:
            why = f"it has format {row.format}, this version reads {checkpoint.FORMAT}"
        else:
            try:
                blob = store.checkpoint_blob(row.seq) or b""
                council = checkpoint.restore(zlib.decompress(blob), row.digest, row.seq)
            except (CheckpointError, zlib.error) as exc:
                why = str(exc)
        if council is not None and council.history[0][1].digest != founding.digest:
            why, council = "it was built for another founding treaty", None
        if council is None:
            log.warning("checkpoint at input %d skipped: %s", row.seq, why)
            continue
        return council, row
    return None


def rebuild(
    store: Store,
    founding: Treaty,
    upto: int | None = None,
    *,
    checkpoints: bool = True,
    archives: Path | None = None,
) -> Rebuilt:
    """The council after the recorded inputs up to ``upto`` (None: all of them).

    From the newest checkpoint that loads (``checkpoints``), else from the first input:
    the inputs retention pruned are read back from the archive files in ``archives``.
    Stored rows this version refuses are quarantined, as a start-up always did; after
    a checkpoint built by this same version, only the rows issued since it are checked
    (the replay that built it checked the others).
    """
    loaded = load(store, founding, upto) if checkpoints else None
    inputs: Iterable[Recorded]
    if loaded is None:
        pruned = store.pruned_input()
        council, after, start = Council(founding), 0, None
        held = quarantine.scan(store, founding)
        inputs = recorded(store, 0, upto)
        if pruned:
            inputs = chain(_archived(store, archives, pruned), recorded(store, pruned, upto))
            log.warning("no checkpoint loads: replaying inputs 1 to %d from %s", pruned, archives)
    else:
        council, row = loaded
        after = start = row.seq
        # Rows the checkpoint's own replay issued were checked then, by this version.
        st = council.state
        checked = (st.next_id - 1, st.book.next_id - 1) if row.built_by == __version__ else None
        held = quarantine.scan(store, founding, checked)
        held.decisions |= st.skip
        held.consultations |= st.book.skip
        inputs = recorded(store, after, upto)
    council.reserve(held.decisions, held.consultations)
    seq, replayed = after, 0
    for seq, at, kind, payload, signals in inputs:
        try:
            apply_input(council, kind, payload, at, signals)
        except (ValueError, KeyError, TypeError) as exc:  # refused by this version
            quarantine.note_input(held, seq, kind, str(exc) or repr(exc))
        replayed += 1
    if upto is not None and seq < upto:
        seq = upto  # inputs past the last one stored: nothing more to apply
    return Rebuilt(council, seq, start, replayed, held)


def _archived(store: Store, archives: Path | None, pruned: int) -> Iterator[Recorded]:
    """Inputs 1 to ``pruned`` from the archive files; NoCheckpoint if they are not all there."""
    try:
        if archives is None:
            raise ValueError("no archive directory was given")
        return archive.archived(archives, pruned)
    except ValueError as exc:
        raise NoCheckpoint(
            f"the store {str(store.path)!r} no longer holds inputs 1 to {pruned} (pruned by "
            f"retention) and no checkpoint that loads covers them: {exc}; or restore the "
            "store from a backup taken with its checkpoints (see docs/operations.md, "
            "'Restoring')"
        ) from None


@dataclass(frozen=True)
class Built:
    """A checkpoint ready to store: its row and its compressed body."""

    row: CheckpointRow
    blob: bytes
    seconds: float  # time the build took (restore, replay, capture, compress)
    replayed: int


def build(
    store: Store, founding: Treaty, upto: int, written_at: float, archives: Path | None = None
) -> Built:
    """The checkpoint at input ``upto``: from the newest one before it, plus a replay
    (from the archive files in ``archives`` and the store when none loads)."""
    started = time.perf_counter()
    rebuilt = rebuild(store, founding, upto, archives=archives)
    cp = checkpoint.capture(rebuilt.council, upto)
    blob = zlib.compress(cp.body, LEVEL)
    return Built(row(cp, written_at), blob, time.perf_counter() - started, rebuilt.replayed)


def row(cp: Checkpoint, written_at: float) -> CheckpointRow:
    return CheckpointRow(
        cp.seq,
        cp.at,
        written_at,
        cp.format,
        __version__,
        cp.treaty_digest,
        cp.treaty_label,
        cp.digest,
        len(cp.body),
    )


@dataclass(frozen=True)
class Verdict:
    seq: int
    stored: str  # the stored checkpoint's digest
    replayed: str  # the digest of a full replay up to its seq
    loads: bool  # the stored body restores

    @property
    def ok(self) -> bool:
        return self.loads and self.stored == self.replayed


def verify(
    store: Store, founding: Treaty, seq: int | None = None, archives: Path | None = None
) -> Verdict:
    """Compare a stored checkpoint (the newest, or the one at ``seq``) with a full replay.

    A full replay needs every input: those retention pruned are read back from the
    archive files in ``archives``. ValueError when there is no such checkpoint, or when
    inputs before it were pruned and the archive files do not hold them all.
    """
    rows = store.checkpoints()
    if seq is not None:
        rows = [r for r in rows if r.seq == seq]
    if not rows:
        have = ", ".join(str(r.seq) for r in store.checkpoints()) or "none"
        which = f"at input {seq}" if seq is not None else "at all"
        raise ValueError(f"the store holds no checkpoint {which} (it holds: {have})")
    target = rows[0]
    loads = True
    try:
        blob = store.checkpoint_blob(target.seq) or b""
        checkpoint.restore(zlib.decompress(blob), target.digest, target.seq)
    except (CheckpointError, zlib.error) as exc:
        log.warning("checkpoint at input %d does not load: %s", target.seq, exc)
        loads = False
    replay = rebuild(store, founding, target.seq, checkpoints=False, archives=archives)
    mine = checkpoint.capture(replay.council, target.seq)
    return Verdict(target.seq, target.digest, mine.digest, loads)
