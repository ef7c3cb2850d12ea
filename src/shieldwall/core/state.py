"""The council's mutable state and the primitives every rule uses.

:class:`CouncilState` owns the roster, ledger, ladder, consultations and decisions,
and knows how to advance time, issue a decision and withdraw one. The rules that
turn signals into decisions are in :mod:`shieldwall.core.signals`; the public API
is :class:`shieldwall.core.council.Council`.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict, deque

from shieldwall.core.consultation import Book, Open
from shieldwall.core.correlation import Correlation
from shieldwall.core.ladder import Ladder
from shieldwall.core.ledger import Ledger
from shieldwall.core.members import Roster
from shieldwall.core.model import (
    Alert,
    Consultation,
    Decision,
    Dispute,
    NoAction,
    Outcome,
    Revocation,
    Standing,
)
from shieldwall.core.targets import OK, Checked, Gate, RangeIndex
from shieldwall.core.treaty import Treaty

RETAIN = 86400.0  # expired decisions stay visible through decision(id) this long
BURDEN_EVERY = 1.0  # seconds of council time between free-rider evaluations


class Collector:
    """What one call produced, in order; frozen into an :class:`Outcome` at the end."""

    __slots__ = (
        "alerts",
        "consultations",
        "decisions",
        "disputes",
        "no_action",
        "notices",
        "revocations",
    )

    def __init__(self) -> None:
        self.decisions: list[Decision] = []
        self.revocations: list[Revocation] = []
        self.consultations: list[Consultation] = []
        self.disputes: list[Dispute] = []
        self.no_action: list[NoAction] = []
        self.notices: list[str] = []
        self.alerts: list[Alert] = []

    def refuse(self, member: str, target: str, reason: str) -> None:
        self.no_action.append(NoAction(member, target, reason))

    def outcome(self) -> Outcome:
        return Outcome(
            tuple(self.decisions),
            tuple(self.revocations),
            tuple(self.consultations),
            tuple(self.disputes),
            tuple(self.no_action),
            tuple(self.notices),
            tuple(self.alerts),
        )


def offence_key(target: str, own: str) -> str:
    """Recidivism is remembered per target, and per target and member for self-defence."""
    return f"{target} {own}" if own else target


class CouncilState:
    def __init__(self, treaty: Treaty) -> None:
        self.treaty = treaty
        self.now = -math.inf
        self.roster = Roster(treaty)
        self.gate = Gate(treaty)
        self.ladder = Ladder(treaty)
        self.ledger = Ledger(treaty)
        self.book = Book(treaty)
        self.next_id = 1
        self.skip: frozenset[int] = frozenset()  # ids never to issue (see Council.reserve)
        self.decisions: dict[int, Decision] = {}
        self.revocations: dict[int, Revocation] = {}
        self.by_target: dict[str, Decision] = {}  # active collective decisions
        self.own: dict[tuple[str, str], Decision] = {}  # active self-defence decisions
        self.alerts: dict[str, Alert] = {}  # alerts in force by target (core/alerts.py)
        self.benign: OrderedDict[str, tuple[int, float]] = OrderedDict()  # core/shared.py
        self.correlation = Correlation(treaty.correlation.window)
        self.alert_expiry: list[tuple[float, int, str]] = []
        self.next_alert_id = 1
        self.ranges = RangeIndex()
        self.recent: dict[str, dict[str, float]] = {}  # target -> member -> last report
        self.spread: dict[str, dict[str, float]] = {}  # counted prefix -> address -> last seen
        self.children: dict[str, set[int]] = {}  # wider prefix -> decisions on prefixes inside
        self.vetoed: dict[str, float] = {}
        self.flagged: dict[str, Standing] = {}  # free riders already told their standing
        self._expiry: list[tuple[float, int]] = []
        self._retired: deque[tuple[float, int]] = deque()
        self._burden_at = -math.inf
        self._sweep_at = -math.inf
        self.recommend = treaty.collective == "recommend" or treaty.unanimity
        self.quorum_clause = "art5.quorum" if treaty.collective == "automatic" else "recommendation"

    def adopt(self, treaty: Treaty, now: float) -> None:
        """Follow an amended ``treaty`` from ``now`` on; what was decided stays."""
        self.treaty = treaty
        for part in (self.roster, self.ladder, self.ledger, self.book):
            part.treaty = treaty
        self.gate = Gate(treaty)  # protected ranges; members' addresses are re-read
        self.recommend = treaty.collective == "recommend" or treaty.unanimity
        self.quorum_clause = "art5.quorum" if treaty.collective == "automatic" else "recommendation"
        self.roster.refresh(now)
        self.correlation.window = treaty.correlation.window

    # time --------------------------------------------------------------------

    def advance(self, now: float, out: Collector) -> float:
        """Move time forward to ``now`` (never back); the effective time."""
        if self.now > now:
            now = self.now
        self.now = now
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, did = heapq.heappop(expiry)
            d = self.decisions.get(did)
            if d is not None:
                self.deactivate(d)
                self._retired.append((d.expires_at, did))
        alert_expiry = self.alert_expiry
        while alert_expiry and alert_expiry[0][0] <= now:
            _, aid, target = heapq.heappop(alert_expiry)
            a = self.alerts.get(target)
            if a is not None and a.id == aid:
                del self.alerts[target]
        retired = self._retired
        while retired and retired[0][0] + RETAIN <= now:
            _, did = retired.popleft()
            self.decisions.pop(did, None)
            self.revocations.pop(did, None)
        book = self.book
        if book.ready:
            due = self.treaty.deliberation
            for c in sorted(book.ready.values(), key=lambda c: c.id):
                if c.opened_at + due <= now:
                    self.unanimous(c, now, out)
        if book.by_id:
            out.consultations.extend(book.expire(now))
        self.roster.advance(now)
        if now >= self._sweep_at:
            self._sweep_at = now + self.treaty.window
            self.sweep(now)
        if now - self._burden_at >= BURDEN_EVERY and self.treaty.burden.policy != "none":
            self._burden_at = now
            self.burden(now, out)
        return now

    def sweep(self, now: float) -> None:
        """Forget reports older than the window (once per window: amortised O(1))."""
        cutoff = now - self.treaty.window
        recent = self.recent
        for target in list(recent):
            reporters = recent[target]
            for name in [n for n, at in reporters.items() if at < cutoff]:
                del reporters[name]
            if not reporters:
                del recent[target]
        for key in list(self.spread):
            seen = self.spread[key]
            for addr in [a for a, at in seen.items() if at < cutoff]:
                del seen[addr]
            if not seen:
                del self.spread[key]
        for parent in list(self.children):
            ids = self.children[parent]
            ids.intersection_update(self.decisions)
            if not ids:
                del self.children[parent]

    # decisions ---------------------------------------------------------------

    def held(self, c: Checked, now: float) -> str:
        """Why a collective decision on ``c`` cannot be taken now ('' if it can)."""
        d = self.by_target.get(c.target)
        if d is not None and d.expires_at > now:
            return f"{c.target} is already decided: decision #{d.id} until {d.expires_at:g}"
        if self.ranges:
            d = self.ranges.covering(c)
            if d is not None and d.expires_at > now:
                return f"{c.target} is inside {d.target}, decided by #{d.id} until {d.expires_at:g}"
        until = self.vetoed.get(c.target)
        if until is not None:
            if until > now:
                return f"{c.target} was vetoed: it cannot be decided again before {until:g}"
            del self.vetoed[c.target]
        return ""

    def decide(
        self,
        c: Checked,
        scenario: str,
        members: tuple[str, ...],
        clause: str,
        now: float,
        out: Collector,
        *,
        corroborated: bool = False,
        own: str = "",
        throttle: bool = False,
        scale: float = 1.0,
    ) -> Decision:
        """Issue a decision on ``c`` at the ladder rung its offence count calls for
        (``throttle``: a ban becomes a throttle; ``scale``: of the rung's duration)."""
        target = c.target
        offence, action, duration = self.ladder.record(offence_key(target, own), now)
        if throttle and action == "ban":
            action = "throttle"
        duration *= scale
        while self.next_id in self.skip:
            self.next_id += 1
        d = Decision(
            id=self.next_id,
            target=target,
            scope=c.scope,
            action=action,
            scenario=scenario,
            clause=clause,
            members=members,
            issued_at=now,
            expires_at=now + duration,
            offence=offence,
            recommended=self.recommend and not own,
            treaty=self.treaty.label,
            applies_to=(own,) if own else (),
        )
        self.next_id += 1
        self.decisions[d.id] = d
        heapq.heappush(self._expiry, (d.expires_at, d.id))
        if own:
            self.own[(target, own)] = d
        else:
            self.by_target[target] = d
            if c.scope == "range":
                self.ranges.add(c, d)
            self.recent.pop(target, None)
            if target in self.book.by_target:
                out.consultations.extend(self.book.close_target(target, d.id, scenario, members))
        self.ledger.contribute(members)
        if corroborated:
            self.roster.reward(members, now)
        out.decisions.append(d)
        return d

    def unanimous(self, c: Open, now: float, out: Collector) -> None:
        """Issue the decision of a unanimous consultation whose deliberation is over."""
        self.book.ready.pop(c.id, None)
        checked = self.gate.check(c.target)
        if checked.kind != OK or self.held(checked, now):
            return
        cutoff = now - self.treaty.window
        members = self.roster.members
        fresh = tuple(
            sorted(
                n
                for n, at in self.recent.get(c.target, {}).items()
                if at >= cutoff and members[n].status == "active"
            )
        )
        self.decide(checked, c.scenario, fresh, "unanimity", now, out, corroborated=True)

    def deactivate(self, d: Decision) -> None:
        if d.applies_to:
            key = (d.target, d.applies_to[0])
            if self.own.get(key) is d:
                del self.own[key]
        elif self.by_target.get(d.target) is d:
            del self.by_target[d.target]
            if d.scope == "range":
                self.ranges.remove(self.gate.check(d.target), d)

    def withdraw(
        self,
        d: Decision,
        now: float,
        by: str,
        reason: str,
        clause: str,
        out: Collector,
        *,
        penalise: bool,
    ) -> None:
        """Revoke ``d``: its offence is forgotten; reporters pay when ``penalise``."""
        r = Revocation(d.id, d.target, now, by, reason, clause)
        self.revocations[d.id] = r
        self.deactivate(d)
        self.ladder.withdraw(
            offence_key(d.target, d.applies_to[0] if d.applies_to else ""), d.issued_at
        )
        self.recent.pop(d.target, None)
        if penalise:
            self.ledger.contribute(d.members, -1)
            out.notices.extend(self.roster.penalise(d.members, now))
        out.revocations.append(r)

    # burden sharing ----------------------------------------------------------

    def burden(self, now: float, out: Collector) -> None:
        """Apply the free-rider policy to members whose verdict changed.

        A verdict can only change when the member's ledger entry or status changed or
        its grace ended, so only those members are looked at, in roster order.
        """
        roster = self.roster
        roster.grace_over(now)
        names = roster.changed | self.ledger.changed
        roster.changed = set()
        self.ledger.changed = set()
        members = roster.members
        todo = sorted((members[n] for n in names if n in members), key=lambda m: m.order)
        for m in todo:
            name = m.name
            if m.status != "active":
                continue
            verdict = self.ledger.verdict(name, m.grace_from, now)
            if verdict == self.flagged.get(name, "ok"):
                continue
            if verdict == "ok":
                del self.flagged[name]
                out.notices.append(f"member {name} contributes enough again: standing ok")
                continue
            share = self.ledger.share(name) or 0.0
            why = (
                f"member {name} is a free rider (contribution share {share:.3f} below "
                f"{self.treaty.burden.minimum_share:g})"
            )
            if verdict == "suspended":
                self.roster.set_status(m, "suspended", now)
                self.flagged.pop(name, None)
                out.notices.append(f"{why}: suspended")
            else:
                self.flagged[name] = verdict
                out.notices.append(f"{why}: standing {verdict}")
