"""The one path of every change: record the input, apply it, commit, publish.

A mixin of :class:`shieldwall.hub.secretariat.Secretariat`. Every change is one store
transaction: the input is recorded, the council computes the outcome, everything it
produced is recorded; only after the commit are the new events published and the
caller answered.

Two ways through it. Changes that need their answer at once (joins, votes, ticks, a
replica's inputs: :meth:`Committing._record`) write the input first and let the
council see it only after the store has taken it, so the store refusing the input (a
value out of its range, a full disk on the first write) costs that input and leaves
the council as it was. Signal batches, the bulk of the traffic, may instead be
**committed apart** (:meth:`Committing._begin` with ``apart``) when the store works apart
from the hub (PostgreSQL, :meth:`~shieldwall.store.base.Store.commit_later`): the
council applies the batch at once and the whole transaction runs on the store's
commit thread while the hub reads, checks and applies the next requests. Values the
store could refuse are refused at the API's edge, so such a transaction fails only
when the store does (a lost connection, a full disk, a lost lease).

Transactions committed apart run one after another in the order the council applied
them; each :class:`Pending` holds what is needed to finish its input once the commit
is through: publish the events, answer the caller. When one fails, every one queued
after it was computed on top of it: those fail too without writing anything (the
queue is *broken* until the hub has settled them), the council is rebuilt from the
store once, and each of their callers is answered 503 (resend: the ``seq`` makes it
idempotent). Until then the council is a few batches ahead of the store; what is
published (the stream, the interop indexes) never is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shieldwall import wire
from shieldwall.core.model import Consultation, Outcome, Signal
from shieldwall.hub import oplog
from shieldwall.hub.bookkeeping import Identity, ReadOnly, StoreFailure
from shieldwall.hub.stream import Event
from shieldwall.hub.undo import Undo
from shieldwall.store.base import Store

log = logging.getLogger("shieldwall.hub")

Committed = tuple[list[Event], list[int]]  # the events as stored, the new dispute ids
EventRow = tuple[str, str, tuple[str, ...]]  # kind, JSON body, audience

_UNDONE = "the hub could not record this request and has undone it: resend it later"


@dataclass(eq=False)
class Pending:
    """An input the council has applied and the store is committing."""

    kind: str
    payload: dict[str, Any]
    outcome: Outcome
    undo: Undo
    replica: bool  # applied for a primary (a replica's own copy of its inputs)
    # The member's sequence number it takes, and the one it replaced (a failure restores).
    member_seq: tuple[str, int] | None = None
    previous_seq: int = 0
    future: Future[Committed] = field(default_factory=Future)
    settled: bool = False  # published, or undone after a failed commit
    dispute_ids: list[int] = field(default_factory=list)
    error: Exception | None = None  # what the caller is answered when the commit failed

    async def committed(self) -> None:
        """Wait for the commit without holding up the event loop.

        Shielded: a caller that goes away (a client that hung up) must not cancel a
        commit that has started, nor one queued for the commit thread.
        """
        if not self.future.done():
            waited = asyncio.wrap_future(self.future)
            # Its error is the caller's answer (settled apart): never "not retrieved".
            waited.add_done_callback(lambda f: f.cancelled() or f.exception())
            with contextlib.suppress(Exception):
                await asyncio.shield(waited)


class Committing:
    """Recording, applying and committing inputs, in order."""

    # Provided by the secretariat.
    store: Store
    identities: dict[str, Identity]
    replica_of: str | None
    standby: bool
    _replicating: bool
    _stale: bool
    _pendings: deque[Pending]
    _broken: bool  # a transaction committed apart failed: the ones after it must not write

    if TYPE_CHECKING:  # the secretariat's own

        def _apply(
            self, kind: str, p: dict[str, Any], now: float, signals: Sequence[Signal]
        ) -> Outcome: ...

        def _recover(self) -> None: ...

        def _catch_up(self) -> None: ...

        def _events(self, outcome: Outcome, consultations: list[str]) -> list[EventRow]: ...

        def _store_outcome(self, outcome: Outcome, consultations: list[str]) -> list[int]: ...

        def _publish(self, now: float, events: list[EventRow]) -> list[Event]: ...

        def _announce(self, events: list[Event]) -> None: ...

        def _count(self, outcome: Outcome) -> None: ...

    def _record(
        self,
        kind: str,
        payload: dict[str, Any],
        now: float,
        signals: Sequence[Signal] = (),
        before: Callable[[], None] | None = None,
        member_seq: tuple[str, int] | None = None,
    ) -> tuple[Outcome, list[int]]:
        """Record one input and wait for its commit; (outcome, new dispute ids)."""
        return self._settled(self._begin(kind, payload, now, signals, before, member_seq))

    def _begin(
        self,
        kind: str,
        payload: dict[str, Any],
        now: float,
        signals: Sequence[Signal] = (),
        before: Callable[[], None] | None = None,
        member_seq: tuple[str, int] | None = None,
        applied: Outcome | None = None,
        apart: bool = False,
    ) -> Pending:
        """Record one input and apply it (``applied``: the council already has); the
        transaction's rest goes to the store's commit thread. ``apart``: all of it does,
        when the store commits apart (see the module's text)."""
        if self.replica_of is not None and not self._replicating:
            raise ReadOnly(
                f"this hub is a replica of {self.replica_of!r}: send changes to the primary"
            )
        if self.standby:
            raise ReadOnly("this hub node is a standby: send changes to the leader")
        store = self.store
        apart = apart and store.commits_apart
        self.settle(wait=not apart)
        self._catch_up()
        undo, txn = Undo(), contextlib.ExitStack()
        undo.changed = applied is not None  # a tick has moved the council already

        def head() -> int:
            input_seq = store.add_input(now, kind, payload)
            if before is not None:
                before()
            if member_seq is not None:
                store.set_last_seq(*member_seq)
            return input_seq

        input_seq = 0  # apart: written by the tail
        try:
            if not apart:
                txn.enter_context(store.transaction())
                # The input itself first: whatever the store refuses about it is
                # refused before the council has seen it.
                input_seq = head()
            if applied is None:
                outcome = undo.council(lambda: self._apply(kind, payload, now, signals))
            else:
                outcome = applied
            opened = texts(outcome.consultations)
            events = self._events(outcome, opened)
        except Exception as exc:
            txn.__exit__(type(exc), exc, exc.__traceback__)  # rolls back
            error = self._failure(exc, undo)
            if error is exc:
                raise
            raise error from exc
        except BaseException as exc:
            txn.__exit__(type(exc), exc, exc.__traceback__)
            raise
        pending = Pending(kind, payload, outcome, undo, self._replicating, member_seq)
        if member_seq is not None:  # taken now: a resend meanwhile is a replay
            identity = self.identities[member_seq[0]]
            pending.previous_seq, identity.last_seq = identity.last_seq, member_seq[1]

        def tail() -> Committed:
            if apart and self._broken:
                raise StoreFailure("an earlier transaction failed: this one was not written")
            try:
                with txn:  # commits
                    seq = input_seq
                    if apart:
                        txn.enter_context(store.transaction())
                        seq = head()
                    if signals:  # after the council: written beside the hub's work
                        store.add_signals(seq, signals, now)
                    dispute_ids = self._store_outcome(outcome, opened)
                    committed = self._publish(now, events)
            except BaseException:
                if apart:
                    self._broken = True
                raise
            return committed, dispute_ids

        pending.future = store.commit_later(tail)
        self._pendings.append(pending)
        if not pending.future.done():
            with contextlib.suppress(RuntimeError):  # no loop: the caller settles it
                # Published as soon as it is through, whoever waits for it (or nobody).
                loop = asyncio.get_running_loop()
                pending.future.add_done_callback(
                    lambda _: loop.call_soon_threadsafe(self.settle, False)
                )
        return pending

    def settle(self, wait: bool = True) -> None:
        """Publish the committed inputs in order; ``wait``: for every one being committed,
        else only those already through. A failed one undoes it and all after it."""
        pendings = self._pendings
        while pendings:
            pending = pendings[0]
            if not wait and not pending.future.done():
                return
            pendings.popleft()
            pending.settled = True
            try:
                committed, pending.dispute_ids = pending.future.result()
            except Exception as exc:
                self._undo_from(pending, exc)
                return
            self._announce(committed)
            self._count(pending.outcome)
            oplog.committed(pending.kind, pending.payload, pending.outcome, replica=pending.replica)

    def _undo_from(self, failed: Pending, exc: Exception) -> None:
        """``failed``'s commit raised ``exc``: fail it and every input queued after it."""
        after = list(self._pendings)
        self._pendings.clear()
        for pending in after:  # they fail at once (the queue is broken) or have failed
            with contextlib.suppress(Exception):
                pending.future.result()
            pending.settled = True
        for pending in reversed((failed, *after)):  # the numbers they took are free again
            if pending.member_seq is not None:
                identity = self.identities.get(pending.member_seq[0])
                if identity is not None:
                    identity.last_seq = pending.previous_seq
        failed.error = self._failure(exc, failed.undo)
        self._broken = False  # nothing is queued any more; the council is rebuilt
        for pending in after:
            pending.error = StoreFailure(_UNDONE)
        for pending in (failed, *after):
            if pending.error is not None and pending.error is not exc:
                pending.error.__cause__ = exc

    def _settled(self, pending: Pending) -> tuple[Outcome, list[int]]:
        """``pending``'s outcome and dispute ids once committed; its error if it failed."""
        if not pending.settled:
            # Through: so is every one before it, and none after it is waited for.
            self.settle(wait=not pending.future.done())
        if pending.error is not None:
            raise pending.error
        return pending.outcome, pending.dispute_ids

    def _failure(self, exc: Exception, undo: Undo) -> Exception:
        """What to raise for ``exc`` from an input's transaction; the council rebuilt first
        when it had changed.

        A store error becomes :class:`StoreFailure` (a 503: resend later); an error of
        the council's own is raised as it is. The council is brought back to the store
        (``hub/recovery.py``); until it is, the next changes are answered 503.
        """
        if undo.changed:
            log.error("store commit failed after the council changed: rebuilding it", exc_info=exc)
            self._recover()
        if exc is undo.error:
            return exc
        if not undo.changed:
            log.warning("store refused an input (%s: %s); nothing changed", type(exc).__name__, exc)
        return StoreFailure(_UNDONE)


def texts(consultations: Sequence[Consultation]) -> list[str]:
    """Each consultation's JSON, written once: the same text is stored and streamed."""
    return [wire.dumps(wire.consultation(c)) for c in consultations]
