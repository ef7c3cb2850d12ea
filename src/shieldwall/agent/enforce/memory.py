"""An in-memory enforcer: holds entries like a firewall would, for tests and exercises.

``holds(address)`` answers whether traffic from an address would be blocked now, with
the same semantics as the real backends (ranges cover their addresses, the allowlist
wins, an entry ends at its expiry).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from shieldwall.agent.enforce.base import Change, Clock, Entry, Ledger
from shieldwall.core.addresses import AddressSet


@dataclass(frozen=True, slots=True)
class Call:
    """One call the agent made, for scripted assertions."""

    method: str
    add: tuple[Entry, ...] = ()
    remove: tuple[Entry, ...] = ()


class MemoryEnforcer:
    name = "memory"

    def __init__(self, *, allow: Sequence[str] = (), clock: Clock = time.time) -> None:
        self._clock = clock
        self._allow = AddressSet((net, "allow") for net in allow)
        self._ledger = Ledger()
        self.calls: list[Call] = []
        self.changes: list[Change] = []
        self.closed = False

    def sync(self, entries: Sequence[Entry]) -> None:
        self.calls.append(Call("sync", tuple(entries)))
        self._ledger.reset(entries, self._clock())

    def apply(self, add: Sequence[Entry], remove: Sequence[Entry]) -> None:
        self.calls.append(Call("apply", tuple(add), tuple(remove)))
        self.changes.extend(self._ledger.batch(add, remove, self._clock()))

    def expire(self) -> int:
        gone = [c for c in self._ledger.expire(self._clock()) if c.after is None]
        self.changes.extend(gone)
        return len(gone)

    def close(self) -> None:
        self.calls.append(Call("close"))
        self.closed = True

    def held(self) -> dict[str, float]:
        """Target -> expiry of everything still in force."""
        now = self._clock()
        return {t: e for t, e in self._ledger.effective().items() if e > now}

    def holds(self, address: str) -> bool:
        """Whether traffic from ``address`` would be blocked now."""
        if address in self._allow:
            return False
        held = self.held()
        return AddressSet((t, "ban") for t in held).overlapping(address) is not None

    def __len__(self) -> int:
        return len(self.held())
