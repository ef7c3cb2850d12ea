"""Membership: accession, status, reputation, probation and invocation rights.

The :class:`Roster` keeps one mutable record per member and the set of members whose
reports count toward quorum (``trusted``), recomputed only when something it depends
on changes, so the signal path is a set lookup. Accession votes are tallied
incrementally, and the names of members whose standing may have changed (status,
end of grace) are collected in ``changed`` for the burden-sharing check.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shieldwall.core.addresses import parse_network
from shieldwall.core.model import MemberState, MemberStatus
from shieldwall.core.settings import NAME
from shieldwall.core.treaty import Treaty


@dataclass
class Member:
    name: str
    addresses: tuple[str, ...]
    applied_at: float
    reputation: float
    permanent: bool
    status: MemberStatus = "pending"
    joined_at: float | None = None
    probation_until: float = 0.0
    corroborated: int = 0
    votes: dict[str, bool] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=deque)
    invocations: list[float] = field(default_factory=list)
    invoked_until: float = -math.inf
    grace_from: float = 0.0
    order: int = 0  # position on the roster (application order)
    tally_at: int = -1  # roster version the vote counts below were made for
    yes: int = 0
    no: int = 0
    ayes: int = 0  # every recorded vote in favour, electorate or not (for notices)

    def on_probation(self, rules_signals: int, now: float) -> bool:
        return self.corroborated < rules_signals and now < self.probation_until


class Roster:
    """Every applicant and member, by name, in the order they applied."""

    def __init__(self, treaty: Treaty) -> None:
        self.treaty = treaty
        self.members: dict[str, Member] = {}
        self.trusted: frozenset[str] = frozenset()
        self.good: frozenset[str] = frozenset()  # active, not suspended (for unanimity)
        self.active: set[str] = set()  # the electorate
        self.version = 0  # bumped whenever the electorate changes
        self.changed: set[str] = set()  # members whose burden verdict may have changed
        self._grace_ends: list[tuple[float, int, str]] = []
        self._next_change = math.inf
        self._added = 0
        self.founded_at: float | None = None
        # Called after any status change (the council re-reads protected addresses).
        self.on_status_change: Callable[[], None] | None = None

    # lookups -----------------------------------------------------------------

    def get(self, name: str) -> Member:
        member = self.members.get(name)
        if member is None:
            raise ValueError(
                f"unknown member {name!r}: it must apply first (known: "
                f"{', '.join(sorted(self.members)[:10]) or 'none'})"
            )
        return member

    def state(self, m: Member, now: float) -> MemberState:
        rules = self.treaty.reputation
        return MemberState(
            name=m.name,
            addresses=m.addresses,
            status=m.status,
            reputation=round(m.reputation, 6),
            joined_at=m.joined_at,
            permanent=m.permanent,
            probation=m.status == "active" and m.on_probation(rules.probation_signals, now),
            applied_at=m.applied_at,
            corroborated=m.corroborated,
            invoked_until=m.invoked_until if m.invoked_until > now else None,
        )

    def active_names(self) -> list[str]:
        return [n for n, m in self.members.items() if m.status == "active"]

    def _status(self, m: Member, status: MemberStatus) -> None:
        """Every status change goes through here (electorate and burden bookkeeping)."""
        was = m.status == "active"
        m.status = status
        if (status == "active") != was:
            if was:
                self.active.discard(m.name)
            else:
                self.active.add(m.name)
            self.version += 1
        self.changed.add(m.name)
        if self.on_status_change is not None:
            self.on_status_change()

    def _grace(self, m: Member, now: float) -> None:
        m.grace_from = now
        self.changed.add(m.name)
        end = now + self.treaty.burden.grace
        if math.isfinite(end):
            heapq.heappush(self._grace_ends, (end, m.order, m.name))

    def grace_over(self, now: float) -> None:
        """Move members whose burden grace ended by ``now`` into ``changed``."""
        ends = self._grace_ends
        while ends and ends[0][0] <= now:
            self.changed.add(heapq.heappop(ends)[2])

    # accession ---------------------------------------------------------------

    def prepare(self, name: str, addresses: tuple[str, ...], now: float, permanent: bool) -> Member:
        """A validated applicant record, not yet on the roster."""
        if not isinstance(name, str) or not NAME.match(name):
            raise ValueError(
                f"member name {name!r} is not valid: use 1-64 letters, digits, '.', '_' "
                "or '-', starting with a letter or digit"
            )
        old = self.members.get(name)
        if old is not None and old.status != "rejected":
            raise ValueError(f"member {name!r} already exists ({old.status}): choose another name")
        veto = self.treaty.veto
        if permanent and not veto.enabled:
            raise ValueError(
                f"member {name!r} cannot be permanent: treaty {self.treaty.label} has no "
                "veto (set [veto] enabled = true)"
            )
        normalised = []
        for text in addresses:
            net = parse_network(text)
            normalised.append(str(net.network_address) if net.num_addresses == 1 else str(net))
        member = Member(
            name=name,
            addresses=tuple(dict.fromkeys(normalised)),
            applied_at=now,
            reputation=self.treaty.reputation.initial,
            permanent=permanent or name in veto.permanent,
        )
        return member

    def add(self, member: Member) -> None:
        old = self.members.pop(member.name, None)  # a rejected applicant may apply again
        if old is not None and old.status == "active":  # pragma: no cover - prepare refuses
            self._status(old, "rejected")
        self._added += 1
        member.order = self._added
        self.members[member.name] = member

    def admit(self, m: Member, now: float) -> None:
        rules = self.treaty.reputation
        self._status(m, "active")
        m.joined_at = now
        self._grace(m, now)
        if self.founded_at is None:
            self.founded_at = now
        founder = now <= self.founded_at + rules.founding
        m.probation_until = now if founder else now + rules.probation_period
        m.votes.clear()
        m.tally_at = -1
        m.ayes = 0
        if now >= self._next_change:
            self.refresh(now)
            return
        # Only the newcomer changed: add it instead of rescanning the roster.
        self.good = self.good | {m.name}
        if m.on_probation(rules.probation_signals, now):
            self._next_change = min(self._next_change, m.probation_until)
        elif m.reputation >= self.treaty.reputation_threshold:
            self.trusted = self.trusted | {m.name}

    def record_vote(self, m: Member, voter: str, approve: bool) -> None:
        """``voter``'s vote on applicant ``m`` (a new vote replaces an earlier one)."""
        before = m.votes.get(voter)
        m.votes[voter] = approve
        m.ayes += approve - (before or 0)
        if m.tally_at != self.version or voter not in self.active:
            return
        if before is not None:
            m.yes -= before
            m.no -= not before
        m.yes += approve
        m.no += not approve

    def tally(self, m: Member) -> MemberStatus | None:
        """'active' or 'rejected' once the votes settle the application, else None."""
        electorate = self.active
        if m.tally_at != self.version:  # the electorate changed: count again
            m.yes = sum(1 for v, ok in m.votes.items() if ok and v in electorate)
            m.no = sum(1 for v, ok in m.votes.items() if not ok and v in electorate)
            m.tally_at = self.version
        yes, no = m.yes, m.no
        if self.treaty.accession == "unanimity":
            if no:
                return "rejected"
            return "active" if yes == len(electorate) else None
        if yes * 2 > len(electorate):
            return "active"
        if no * 2 >= len(electorate):
            return "rejected"
        return None

    # status and reputation ---------------------------------------------------

    def set_status(self, m: Member, status: MemberStatus, now: float) -> None:
        self._status(m, status)
        if status == "active":
            self._grace(m, now)
        self.refresh(now)

    def reward(self, names: tuple[str, ...], now: float) -> None:
        rules = self.treaty.reputation
        for name in names:
            m = self.members[name]
            m.reputation = min(rules.maximum, m.reputation + rules.gain)
            m.corroborated += 1
        trusted = self.trusted
        if any(name not in trusted for name in names):  # only then can trust change
            self.refresh(now)

    def penalise(self, names: tuple[str, ...], now: float) -> list[str]:
        """Lower each reporter's reputation; notices for those suspended at the floor."""
        rules = self.treaty.reputation
        notices = []
        for name in names:
            m = self.members.get(name)
            if m is None:
                continue
            m.reputation = max(0.0, m.reputation - rules.loss)
            if rules.suspend_below_floor and m.reputation < rules.floor and m.status == "active":
                self._status(m, "suspended")
                notices.append(
                    f"member {name} suspended: reputation {m.reputation:.2f} fell below the "
                    f"treaty floor {rules.floor:g}"
                )
        self.refresh(now)
        return notices

    def refresh(self, now: float) -> None:
        """Recompute who counts toward quorum, and when that changes by itself."""
        threshold = self.treaty.reputation_threshold
        n_signals = self.treaty.reputation.probation_signals
        trusted, good = [], []
        next_change = math.inf
        for name, m in self.members.items():
            if m.status != "active":
                continue
            good.append(name)
            if m.on_probation(n_signals, now):
                next_change = min(next_change, m.probation_until)
            elif m.reputation >= threshold:
                trusted.append(name)
        self.trusted = frozenset(trusted)
        self.good = frozenset(good)
        self._next_change = next_change

    def advance(self, now: float) -> None:
        if now >= self._next_change:
            self.refresh(now)

    # invocation --------------------------------------------------------------

    def note_signal(self, m: Member, now: float) -> int:
        """Remember one report from ``m``; how many it sent within the window."""
        recent = m.recent
        recent.append(now)
        cutoff = now - self.treaty.window
        while recent[0] < cutoff:
            recent.popleft()
        return len(recent)

    def invocation_refusal(self, m: Member, now: float) -> str:
        """Why ``m`` may not invoke now ('' if it may)."""
        t = self.treaty
        rules = t.invocation
        if not rules.enabled:
            return f"treaty {t.label} does not provide for invocation"
        if m.status != "active":
            return f"member {m.name} is {m.status}: only active members may invoke"
        if m.name not in self.trusted:
            return (
                f"member {m.name} is not trusted yet (probation or reputation "
                f"{m.reputation:.2f} below {t.reputation_threshold:g})"
            )
        if m.invoked_until > now:
            return (
                f"member {m.name} has already invoked collective defence until {m.invoked_until:g}"
            )
        cutoff = now - t.window
        sent = sum(1 for at in m.recent if at >= cutoff)
        if sent < rules.min_signals:
            return (
                f"member {m.name} reported {sent} signals in the last {t.window:g}s; "
                f"invocation needs {rules.min_signals}"
            )
        used = [at for at in m.invocations if at > now - rules.period]
        if len(used) >= rules.max_per_period:
            return (
                f"member {m.name} already invoked {len(used)} time(s) in the last "
                f"{rules.period:g}s (the treaty allows {rules.max_per_period})"
            )
        return ""

    def invoke(self, m: Member, now: float) -> None:
        rules = self.treaty.invocation
        m.invocations = [at for at in m.invocations if at > now - rules.period]
        m.invocations.append(now)
        m.invoked_until = now + rules.duration
