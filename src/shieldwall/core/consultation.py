"""Article 4: reports below quorum open a consultation, one per target and scenario.

A consultation closes as ``corroborated`` when its target is decided, or ``expired``
at ``closes_at``. Under a unanimity treaty a consultation becomes *ready* once every
member in good standing has reported, and its decision waits for deliberation.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

from shieldwall.core.model import Consultation, ConsultationStatus
from shieldwall.core.treaty import Treaty

CLOSED_KEPT = 10_000  # closed consultations kept for views


@dataclass
class Open:
    id: int
    target: str
    scenario: str
    opened_at: float
    closes_at: float
    members: list[str] = field(default_factory=list)
    ready: bool = False

    def snapshot(
        self,
        status: ConsultationStatus = "open",
        clause: str = "art4.consultation",
        decision_id: int | None = None,
    ) -> Consultation:
        return Consultation(
            id=self.id,
            target=self.target,
            scenario=self.scenario,
            opened_at=self.opened_at,
            closes_at=self.closes_at,
            members=tuple(sorted(self.members)),
            status=status,
            clause=clause,
            decision_id=decision_id,
        )


class Book:
    """Open consultations by (target, scenario), with their timeouts."""

    def __init__(self, treaty: Treaty) -> None:
        self.treaty = treaty
        self.next_id = 1
        self.skip: frozenset[int] = frozenset()  # ids never to issue (see Council.reserve)
        self.by_target: dict[str, dict[str, Open]] = {}
        self.by_id: dict[int, Open] = {}
        self.ready: dict[int, Open] = {}
        self.closed: deque[Consultation] = deque(maxlen=CLOSED_KEPT)
        self._timeouts: list[tuple[float, int]] = []

    def join(self, target: str, scenario: str, member: str, now: float) -> Consultation | None:
        """Add ``member``'s report; the new snapshot, or None if nothing changed."""
        scenarios = self.by_target.get(target)
        if scenarios is None:
            scenarios = self.by_target[target] = {}
        c = scenarios.get(scenario)
        if c is None:
            while self.next_id in self.skip:
                self.next_id += 1
            c = Open(self.next_id, target, scenario, now, now + self.treaty.consultation.timeout)
            self.next_id += 1
            scenarios[scenario] = c
            self.by_id[c.id] = c
            heapq.heappush(self._timeouts, (c.closes_at, c.id))
        elif member in c.members:
            return None
        c.members.append(member)
        return c.snapshot()

    def first(self, target: str) -> Open | None:
        scenarios = self.by_target.get(target)
        if not scenarios:
            return None
        return min(scenarios.values(), key=lambda c: c.id)

    def close_target(
        self, target: str, decision_id: int, scenario: str = "", members: tuple[str, ...] = ()
    ) -> list[Consultation]:
        """Close every consultation on ``target`` as corroborated by ``decision_id``;
        ``members`` (the decision's reporters) are added to the one it answers."""
        scenarios = self.by_target.pop(target, None)
        if not scenarios:
            return []
        out = []
        for c in scenarios.values():
            if members and c.scenario == scenario:
                c.members.extend(n for n in members if n not in c.members)
            self.by_id.pop(c.id, None)
            self.ready.pop(c.id, None)
            snap = c.snapshot("corroborated", "art4.corroborated", decision_id)
            self.closed.append(snap)
            out.append(snap)
        return out

    def expire(self, now: float) -> list[Consultation]:
        out = []
        timeouts = self._timeouts
        while timeouts and timeouts[0][0] <= now:
            _, cid = heapq.heappop(timeouts)
            c = self.by_id.pop(cid, None)
            if c is None:
                continue
            self.ready.pop(cid, None)
            scenarios = self.by_target.get(c.target)
            if scenarios is not None:
                scenarios.pop(c.scenario, None)
                if not scenarios:
                    del self.by_target[c.target]
            snap = c.snapshot("expired", "art4.expired")
            self.closed.append(snap)
            out.append(snap)
        return out

    def views(self, open_only: bool) -> list[Consultation]:
        current = [c.snapshot() for c in sorted(self.by_id.values(), key=lambda c: c.id)]
        if open_only:
            return current
        return sorted([*self.closed, *current], key=lambda c: c.id)
