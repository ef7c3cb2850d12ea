"""What the interoperability layer needs from the hub, as small protocols.

The CrowdSec bouncer API, the TAXII server and the blocklist feeds read decisions
through :class:`DecisionSource` and hand partner intelligence back through
``submit_external``. The hub implements the protocol over its store; tests and the
benchmark use :class:`MemorySource`, which ships here so every consumer can be
exercised without a hub.

Sequence numbers (``seq``) are one monotonic counter over decisions *and*
revocations: a consumer that remembers the ``seq`` of its last pull asks for
everything after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from shieldwall.core.model import Decision, Revocation, Signal


@dataclass(frozen=True, slots=True)
class Changes:
    """What happened after a consumer's last pull.

    ``new``: decisions issued after ``since_seq`` that are still active at ``now``;
    ``revoked``: revocations recorded after ``since_seq``;
    ``expired``: decisions (not revoked) whose ``expires_at`` lies in ``(since, now]``;
    ``seq``: the high-water mark to remember for the next pull.
    """

    new: tuple[Decision, ...]
    revoked: tuple[Revocation, ...]
    expired: tuple[Decision, ...]
    seq: int


@dataclass(frozen=True, slots=True)
class Member:
    """The public face of an alliance member (or an external partner)."""

    name: str
    joined_at: float
    status: str = "active"
    external: bool = False


@dataclass(frozen=True, slots=True)
class Submission:
    """What became of a batch of external signals.

    ``rejected`` holds (index of the signal in the batch, why) for each signal that
    was refused or, naming something the treaty protects, recorded as a dispute.
    """

    accepted: int
    rejected: tuple[tuple[int, str], ...] = ()


class DecisionSource(Protocol):
    """Read access to decisions and intelligence, plus the partner intake."""

    def active(self, now: float) -> Sequence[Decision]:
        """Every decision active at ``now`` (revoked ones excluded), by id."""
        ...

    def active_on(self, values: Iterable[str], now: float) -> Sequence[Decision]:
        """The decisions :meth:`active` gives whose target is one of ``values``, by id."""
        ...

    def seq(self) -> int:
        """The current high-water mark of the decision/revocation log."""
        ...

    def changes(self, since_seq: int, since: float, now: float) -> Changes:
        """See :class:`Changes`."""
        ...

    def decision(self, decision_id: int) -> Decision | None: ...

    def decisions_since(self, since: float) -> Sequence[Decision]:
        """Every decision issued at or after ``since`` (active, expired or revoked), by id."""
        ...

    def revocations_since(self, since: float) -> Sequence[Revocation]:
        """Every revocation recorded at or after ``since``, in order."""
        ...

    def signals_since(self, since: float) -> Sequence[Signal]:
        """Signals received at or after ``since`` (members' and partners'), in order."""
        ...

    def members(self) -> Sequence[Member]: ...

    def watch(self, callback: Callable[[Sequence[Decision]], None]) -> None:
        """Have ``callback`` called with the decisions of each later change, once made."""
        ...

    def submit_external(self, partner: str, signals: Sequence[Signal], now: float) -> Submission:
        """Hand signals from external partner ``partner`` to the council.

        Each signal's ``member`` is already ``partner``; the hub treats the partner
        as a member of its own with its own reputation.
        """
        ...


class MemorySource:
    """A thread-safe in-memory :class:`DecisionSource` for tests and benchmarks."""

    def __init__(self, members: Sequence[Member] = ()) -> None:
        self._lock = threading.Lock()
        self._decisions: dict[int, Decision] = {}
        self._decision_seq: dict[int, int] = {}
        self._revocations: list[tuple[int, Revocation]] = []
        self._revoked: set[int] = set()
        self._signals: list[Signal] = []
        self._members: dict[str, Member] = {m.name: m for m in members}
        self._seq = 0
        self._watchers: list[Callable[[Sequence[Decision]], None]] = []
        self.submitted: list[tuple[str, tuple[Signal, ...]]] = []

    # -- writing (what the council would do) --------------------------------
    def add(self, decision: Decision) -> Decision:
        with self._lock:
            if decision.id in self._decisions:
                raise ValueError(f"decision id {decision.id} exists already: use a new id")
            self._seq += 1
            self._decisions[decision.id] = decision
            self._decision_seq[decision.id] = self._seq
        for callback in self._watchers:
            callback([decision])
        return decision

    def next_id(self) -> int:
        with self._lock:
            return max(self._decisions, default=0) + 1

    def revoke(self, decision_id: int, at: float, by: str = "secretariat") -> Revocation:
        with self._lock:
            d = self._decisions.get(decision_id)
            if d is None:
                raise ValueError(f"decision {decision_id} does not exist: check the id")
            if decision_id in self._revoked:
                raise ValueError(f"decision {decision_id} is already revoked")
            self._seq += 1
            rev = Revocation(decision_id, d.target, at, by, "revoked", "admin-revoke")
            self._revocations.append((self._seq, rev))
            self._revoked.add(decision_id)
            return rev

    def record(self, signal: Signal) -> None:
        with self._lock:
            self._signals.append(signal)

    def join(self, member: Member) -> None:
        with self._lock:
            self._members[member.name] = member

    # -- DecisionSource -----------------------------------------------------
    def active(self, now: float) -> list[Decision]:
        with self._lock:
            return [
                d
                for d in self._decisions.values()
                if d.issued_at <= now < d.expires_at and d.id not in self._revoked
            ]

    def active_on(self, values: Iterable[str], now: float) -> list[Decision]:
        wanted = set(values)
        return [d for d in self.active(now) if d.target in wanted]

    def seq(self) -> int:
        return self._seq

    def changes(self, since_seq: int, since: float, now: float) -> Changes:
        with self._lock:
            new = tuple(
                d
                for d in self._decisions.values()
                if self._decision_seq[d.id] > since_seq
                and d.issued_at <= now < d.expires_at
                and d.id not in self._revoked
            )
            revoked = tuple(r for s, r in self._revocations if s > since_seq)
            expired = tuple(
                d
                for d in self._decisions.values()
                if since < d.expires_at <= now and d.id not in self._revoked
            )
            return Changes(new, revoked, expired, self._seq)

    def decision(self, decision_id: int) -> Decision | None:
        return self._decisions.get(decision_id)

    def decisions_since(self, since: float) -> list[Decision]:
        with self._lock:
            return [d for d in self._decisions.values() if d.issued_at >= since]

    def revocations_since(self, since: float) -> list[Revocation]:
        with self._lock:
            return [r for _, r in self._revocations if r.at >= since]

    def signals_since(self, since: float) -> list[Signal]:
        with self._lock:
            return [s for s in self._signals if s.at >= since]

    def members(self) -> list[Member]:
        with self._lock:
            return list(self._members.values())

    def watch(self, callback: Callable[[Sequence[Decision]], None]) -> None:
        self._watchers.append(callback)

    def submit_external(self, partner: str, signals: Sequence[Signal], now: float) -> Submission:
        with self._lock:
            if partner not in self._members:
                self._members[partner] = Member(partner, now, "active", external=True)
            batch = tuple(replace(s, member=partner) for s in signals)
            self._signals.extend(batch)
            self.submitted.append((partner, batch))
            return Submission(len(batch))
