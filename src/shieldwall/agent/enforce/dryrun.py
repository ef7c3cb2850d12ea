"""Dry-run enforcer: logs what it would enforce and touches nothing.

Useful to watch an alliance's decisions against a member's policy before trusting it
with the firewall. It keeps the same books as a real backend, so the log shows only
real changes (a second decision on an address already held is not a new block).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from shieldwall.agent.enforce.base import Change, Clock, Entry, Ledger

log = logging.getLogger("shieldwall.enforce.dryrun")


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    if at == float("inf"):
        return "no end"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DryRunEnforcer:
    name = "dryrun"

    def __init__(self, *, clock: Clock = time.time, logger: logging.Logger = log) -> None:
        self._clock = clock
        self._log = logger
        self._ledger = Ledger()

    def sync(self, entries: Sequence[Entry]) -> None:
        self._ledger.reset(entries, self._clock())
        self._log.info("dry run: would hold exactly %d entries", len(self._ledger))
        for target, expires in sorted(self._ledger.effective().items()):
            self._log.info("dry run: would block %s until %s", target, _when(expires))

    def apply(self, add: Sequence[Entry], remove: Sequence[Entry]) -> None:
        now = self._clock()
        for change in self._ledger.batch(add, remove, now) + self._ledger.expire(now):
            self._report(change)

    def expire(self) -> int:
        gone = [c for c in self._ledger.expire(self._clock()) if c.after is None]
        for change in gone:
            self._report(change)
        return len(gone)

    def close(self) -> None:
        self._log.info("dry run: closing with %d entries held", len(self._ledger))

    def __len__(self) -> int:
        return len(self._ledger)

    def _report(self, change: Change) -> None:
        if change.after is None:
            self._log.info("dry run: would unblock %s", change.target)
        elif change.before is None:
            self._log.info("dry run: would block %s until %s", change.target, _when(change.after))
        else:
            self._log.info(
                "dry run: would keep blocking %s until %s (was %s)",
                change.target,
                _when(change.after),
                _when(change.before),
            )
