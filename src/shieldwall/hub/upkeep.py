"""The hub's upkeep: periodic checkpoints of the council, then a retention pass.

Only the hub that records runs it: the single hub on SQLite, or the leader on
PostgreSQL (a standby or a bus replica records nothing). A checkpoint is due after
``checkpoint_inputs`` recorded inputs, or after ``checkpoint_seconds`` if anything was
recorded since the last one. It is built in a process of its own, on a connection of
its own, by replaying the inputs since the previous checkpoint (``hub/checkpoints.py``);
the loop only stores the finished bytes, in one transaction (on PostgreSQL under the
fence, so a leader that lost its lease stores nothing).

Each checkpoint is followed by a retention pass: recorded inputs and stream events
older than the treaty's ``[records] retention`` are exported to an archive file
(``hub/archive.py``) on the same kind of connection, and then deleted from the store in
short transactions (``STEP_INPUTS`` inputs and ``STEP_EVENTS`` events each, the hub
serving in between), at most ``PASS_INPUTS`` inputs and ``PASS_EVENTS`` events a pass
(a longer backlog is worked off one pass per poll). Inputs are pruned only up to the
older of the two newest checkpoints,
so a damaged newest checkpoint still leaves one to start from; the newest input and
event are never pruned.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from shieldwall.core.treaty import Treaty, load_treaty
from shieldwall.hub import archive, checkpoints
from shieldwall.hub.archive import Span
from shieldwall.hub.secretariat import Secretariat
from shieldwall.store.base import Store

log = logging.getLogger("shieldwall.hub")

POLL = 5.0  # seconds between looks at whether a checkpoint is due
# The most one retention pass exports to one archive file and prunes; a longer backlog
# (the first pass on an old store) is worked off one pass per poll. Its rows are deleted
# in steps of STEP_INPUTS inputs and STEP_EVENTS events, each its own transaction: one
# transaction a pass held the store (and on SQLite the event loop) for up to 1.8 s at
# ten million signals, a step 0.30 s at most (benchmarks/bench_checkpoint.py).
PASS_INPUTS = 10_000
PASS_EVENTS = 100_000
STEP_INPUTS = 500  # inputs (each with its signals) deleted in one transaction
STEP_EVENTS = 10_000


def due(store: Store, inputs: int, seconds: float, now: float) -> int | None:
    """The input seq a checkpoint is due at, or None if none is due yet."""
    recorded = store.last_input_seq()
    rows = store.checkpoints()
    last, written = (rows[0].seq, rows[0].written_at) if rows else (0, -float("inf"))
    if recorded <= last:
        return None
    if recorded - last >= inputs or now - written >= seconds:
        return recorded
    return None


def build(
    store: Store, founding: Treaty, upto: int, now: float, archives: Path | None = None
) -> checkpoints.Built:
    """Build the checkpoint at ``upto`` on a reader connection of ``store`` (any thread)."""
    reader = store.reader()
    try:
        return checkpoints.build(reader, founding, upto, now, archives)
    finally:
        reader.close()


def build_apart(
    store: Store, founding: Treaty, upto: int, now: float, archives: Path | None = None
) -> checkpoints.Built:
    """:func:`build` in a process of its own, waited for from any thread.

    A build replays thousands of inputs: in a thread of the serving process its CPU and
    its garbage contend with the event loop for the interpreter lock (the loop stalled
    up to half a second at ten million signals). Apart, the loop only waits on a pipe.
    """
    context = multiprocessing.get_context("spawn")  # never fork a process with threads
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        job = pool.submit(
            _build_in_child,
            store.reader_factory(),
            founding.text,
            upto,
            now,
            os.getpid(),
            archives,
        )
        return job.result()


def _build_in_child(
    opener: Callable[[], Store],
    treaty: str,
    upto: int,
    now: float,
    hub: int,
    archives: Path | None = None,
) -> checkpoints.Built:
    # A hub stopped (or killed) during a build leaves nobody to read the result: the
    # child would block on its pipe for ever, holding the memory of a whole council.
    threading.Thread(target=_exit_without, args=(hub,), daemon=True).start()
    store = opener()
    try:
        founding = load_treaty(treaty, "the founding treaty")
        return checkpoints.build(store, founding, upto, now, archives)
    finally:
        store.close()


def _exit_without(hub: int, every: float = 0.5) -> None:
    """End this process once ``hub``, its parent, is gone."""
    while os.getppid() == hub:
        time.sleep(every)
    os._exit(1)


def store_built(store: Store, built: checkpoints.Built) -> None:
    with store.transaction():
        store.put_checkpoint(built.row, built.blob)


@dataclass(frozen=True)
class Pass:
    """What one retention pass did."""

    path: Path | None
    inputs: Span
    events: Span
    pruned_inputs: int
    pruned_events: int
    seconds: float  # pruning only (its transactions), after the export
    more: bool = False  # the pass stopped at its limit: more is due
    longest: float = 0.0  # the longest of its delete transactions (they hold the store)


def spans(
    store: Store,
    treaty: Treaty,
    now: float,
    most_inputs: int = PASS_INPUTS,
    most_events: int = PASS_EVENTS,
) -> tuple[Span, Span, bool]:
    """The inputs and events a retention pass at ``now`` archives and prunes (at most
    ``most_inputs`` and ``most_events``), and whether more will be due after them."""
    keep = treaty.records.retention
    pruned_input, pruned_event = store.pruned_input(), store.pruned_event()
    rows = store.checkpoints()
    if keep <= 0:
        return Span(pruned_input, pruned_input), Span(pruned_event, pruned_event), False
    cutoff = now - keep
    covered = rows[1].seq if len(rows) >= 2 else 0
    upto_input = min(covered, store.last_input_before(cutoff), store.last_input_seq() - 1)
    upto_event = min(store.last_event_before(cutoff), store.last_event_id() - 1)
    more = upto_input > pruned_input + most_inputs or upto_event > pruned_event + most_events
    return (
        Span(pruned_input, min(upto_input, pruned_input + most_inputs)),
        Span(pruned_event, min(upto_event, pruned_event + most_events)),
        more,
    )


def export(store: Store, directory: Path, inputs: Span, events: Span, now: float) -> Path:
    """Export on a reader connection of ``store`` (any thread)."""
    reader = store.reader()
    try:
        return archive.export(reader, directory, inputs, events, now)
    finally:
        reader.close()


def prune_steps(store: Store, inputs: Span, events: Span) -> Iterator[tuple[int, int, float]]:
    """Delete the exported rows a bounded step at a time, each step its own transaction:
    (inputs, events) deleted and seconds taken, per step.

    A long delete would hold the store (and on SQLite the event loop) for seconds; the
    hub serves between steps. A crash between two leaves the pruned marks where the
    last step put them: the next pass exports the rest again (readers of the archive
    files skip what an earlier file held).
    """
    inputs_at, events_at = inputs.after, events.after
    while inputs_at < inputs.upto or events_at < events.upto:
        inputs_at = min(inputs.upto, inputs_at + STEP_INPUTS)
        events_at = min(events.upto, events_at + STEP_EVENTS)
        started = time.perf_counter()
        with store.transaction():
            counts = store.prune(inputs_at, events_at)
        yield (*counts, time.perf_counter() - started)


def prune(store: Store, inputs: Span, events: Span, path: Path | None, more: bool) -> Pass:
    """Delete the exported rows, step by step (:func:`prune_steps`)."""
    steps = list(prune_steps(store, inputs, events))
    return _pass(path, inputs, events, more, steps)


def _pass(
    path: Path | None,
    inputs: Span,
    events: Span,
    more: bool,
    steps: list[tuple[int, int, float]],
) -> Pass:
    return Pass(
        path,
        inputs,
        events,
        sum(s[0] for s in steps),
        sum(s[1] for s in steps),
        sum(s[2] for s in steps),
        more,
        max((s[2] for s in steps), default=0.0),
    )


def retain(
    store: Store,
    treaty: Treaty,
    directory: Path,
    now: float,
    most_inputs: int = PASS_INPUTS,
    most_events: int = PASS_EVENTS,
) -> list[Pass]:
    """Retention passes in this thread (the CLI, benchmarks) until none is due."""
    done: list[Pass] = []
    while True:
        inputs, events, more = spans(store, treaty, now, most_inputs, most_events)
        if not inputs and not events:
            return done
        path = archive.export(store, directory, inputs, events, now)
        done.append(prune(store, inputs, events, path, more))
        if not more:
            return done


class Upkeep:
    """The hub task: checkpoints when due, each followed by a retention pass."""

    def __init__(
        self,
        sec: Secretariat,
        data_dir: Path,
        clock: Callable[[], float] = time.time,
        poll: float | None = None,
        limits: tuple[int, int] = (PASS_INPUTS, PASS_EVENTS),
    ) -> None:
        self.sec = sec
        self.directory = Path(data_dir) / archive.DIRECTORY
        self.clock = clock
        # Every POLL seconds, or more often when checkpoints are due more often.
        self.poll = poll or min(POLL, max(0.1, sec.settings.checkpoint_seconds / 2))
        self.last: checkpoints.Built | None = None
        self.last_pass: Pass | None = None
        self.backlog = False  # the last retention pass stopped at its limit
        self.limits = limits  # the most inputs and events one retention pass prunes

    def records(self) -> bool:
        """Whether this hub records (and so keeps checkpoints and retention)."""
        return not self.sec.standby and self.sec.replica_of is None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.step()
            except Exception as exc:  # a task of the hub must never die silently
                log.warning("checkpoint or retention pass failed: %s (retrying)", exc)

    async def step(self) -> checkpoints.Built | None:
        """A checkpoint and a retention pass if one is due; the checkpoint written."""
        if not self.records():
            return None
        sec, now = self.sec, self.clock()
        s = sec.settings
        upto = due(sec.store, s.checkpoint_inputs, s.checkpoint_seconds, now)
        if upto is None:
            if self.backlog:
                await self.retain(now)
            return None
        built = await asyncio.to_thread(
            build_apart, sec.store, sec.founding, upto, now, sec.archives
        )
        if not self.records():  # lost the lease meanwhile: the new leader checkpoints
            return None
        store_built(sec.store, built)
        self.last = built
        log.info(
            "checkpoint at input %d written (%d bytes, %d inputs replayed in %.2fs)",
            upto,
            len(built.blob),
            built.replayed,
            built.seconds,
        )
        await self.retain(now)
        return built

    async def retain(self, now: float) -> Pass | None:
        store = self.sec.store
        inputs, events, more = spans(store, self.sec.treaty, now, *self.limits)
        self.backlog = False
        if not inputs and not events:
            return None
        path = await asyncio.to_thread(export, store, self.directory, inputs, events, now)
        if not self.records():
            return None
        steps = []
        for step in prune_steps(store, inputs, events):
            steps.append(step)
            await asyncio.sleep(0)  # members' requests are served between two steps
            if not self.records():  # lost the lease: the new leader prunes the rest
                break
        done = _pass(path, inputs, events, more, steps)
        self.last_pass, self.backlog = done, more
        log.info(
            "retention: %d inputs and %d events older than %gs archived to %s and pruned",
            done.pruned_inputs,
            done.pruned_events,
            self.sec.treaty.records.retention,
            path,
        )
        return done
