"""Bringing the council back to the store's records after a failed commit.

A mixin of :class:`shieldwall.hub.secretariat.Secretariat`. A commit that fails after
the council applied its input (a lost connection, a full disk, a lost lease) leaves the
council ahead of the store, and the council is rebuilt from the store: its newest
checkpoint, then the inputs recorded after it. A short replay (at most :data:`INLINE`
signals, a fraction of a second) is done at once. A longer one, up to a checkpoint
interval of inputs, would hold the event loop for seconds: a leader would miss its lease renewals and members'
streams would stall. Then a process of its own builds a checkpoint at the store's last
input, as the upkeep does (``hub/upkeep.py``), and the hub stores it and loads it, a
fraction of a second on the loop. Until the council is the store's again, changes are
answered 503 (resend later); reads and streams go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shieldwall.core.treaty import Treaty
from shieldwall.hub.bookkeeping import Stats, StoreFailure
from shieldwall.store.base import Store

log = logging.getLogger("shieldwall.hub")

INLINE = 20_000  # signals after the newest checkpoint replayed on the loop at once
RETRY = (0.5, 10.0)  # first and longest wait between two attempts to recover apart


class Recovery:
    """The council rebuilt from the store after a failed commit, without a long stall."""

    # Provided by the secretariat.
    store: Store
    founding: Treaty
    archives: Path | None
    standby: bool
    stats: Stats
    clock: Callable[[], float]
    _stale: bool  # the council is not the store's: rebuild before the next change
    _recovery: asyncio.Task[None] | None

    if TYPE_CHECKING:  # the secretariat's own

        def _rebuild(self) -> None: ...

    def _recover(self) -> None:
        """After a failed commit: rebuild now when the replay is short, else apart."""
        self._stale = True
        if self._recovery is not None and not self._recovery.done():
            return
        loop = None
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
        if loop is not None and self._behind() > INLINE:
            self._recovery = loop.create_task(self._recover_apart())
            return
        with contextlib.suppress(Exception):  # a store that cannot be read: next change
            self._rebuild()

    def _behind(self) -> int:
        """Signals recorded after the newest checkpoint (0 when the store cannot say)."""
        try:
            newest = self.store.checkpoints()
            return self.store.signals_after(newest[0].seq if newest else 0, INLINE + 1)
        except Exception:
            return 0

    async def _recover_apart(self) -> None:
        from shieldwall.hub import upkeep  # upkeep imports the secretariat

        wait = RETRY[0]
        while self._stale and not self.standby:
            try:
                upto = self.store.last_input_seq()
                built = await asyncio.to_thread(
                    upkeep.build_apart, self.store, self.founding, upto, self.clock(), self.archives
                )
                if not self._stale or self.standby:
                    return  # rebuilt meanwhile, or a standby now: its leadership resyncs
                upkeep.store_built(self.store, built)
                self._rebuild()  # from the checkpoint just stored: nothing to replay
                log.warning("council rebuilt from a checkpoint at input %d built apart", upto)
            except Exception as exc:
                log.warning("rebuilding the council after a failed commit: %s (retrying)", exc)
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY[1])

    def _catch_up(self) -> None:
        """Finish a rebuild that an unreadable store interrupted; StoreFailure until done."""
        if not self._stale:
            return
        self._recover()
        if self._recovery is not None and not self._recovery.done():
            raise StoreFailure(
                "the hub is rebuilding its council after a failed commit: resend in a few seconds"
            )
        if self._stale:
            raise StoreFailure(
                "the hub cannot read its store to recover from an earlier failure: "
                "check the store (disk, database server) and resend later"
            )
