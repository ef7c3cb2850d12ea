"""The council applies the treaty: signals in, decisions, consultations and disputes out.

No I/O, no clock: every call takes ``now`` (Unix seconds). Replaying the same calls
with the same ``now`` values gives the same ids and records, which is how the hub
rebuilds its state after a restart. Time never runs backwards inside the council: a
``now`` earlier than one already seen is treated as the latest seen.

Every method validates its arguments before changing anything, so a call that raises
``ValueError`` leaves the state exactly as it was. Refusals the treaty causes (a
non-permanent member's veto, an invocation without a heavy attack) come back as a
:class:`NoAction` in the outcome instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from shieldwall.core import alerts, shared, signals
from shieldwall.core.addresses import bounds, parse_network, parse_target
from shieldwall.core.model import (
    Alert,
    Consultation,
    Decision,
    LedgerEntry,
    MemberState,
    Outcome,
    Revocation,
    Signal,
    Standing,
)
from shieldwall.core.state import Collector, CouncilState
from shieldwall.core.targets import INVALID
from shieldwall.core.treaty import Treaty


def _time(now: float) -> float:
    if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
        raise ValueError(f"time {now!r} is not a finite number: pass Unix seconds")
    return float(now)


class Council:
    """The alliance's decision core for one treaty; owns a mutable CouncilState."""

    def __init__(self, treaty: Treaty) -> None:
        self.treaty = treaty
        self.state = CouncilState(treaty)
        self.state.roster.on_status_change = self._protect
        # Every treaty in force so far, with the time it took effect (founding: None).
        self.history: list[tuple[float | None, Treaty]] = [(None, treaty)]

    def reserve(self, decisions: Iterable[int], consultations: Iterable[int]) -> None:
        """Ids an earlier run issued for records this version refuses: never issue them.

        A hub replaying a store written by an older version leaves such a record out
        (its target is no longer valid) but keeps every later id where it was, so
        stored rows, stream events and members' copies keep meaning what they meant.
        """
        d, c = frozenset(decisions), frozenset(consultations)
        for ids in (d, c):
            if any(isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in ids):
                raise ValueError("reserved ids must be positive integers")
        self.state.skip = d
        self.state.book.skip = c

    # time --------------------------------------------------------------------

    def tick(self, now: float) -> Outcome:
        """Advance time only: decisions expire, consultations close on timeout."""
        out = Collector()
        self.state.advance(_time(now), out)
        return out.outcome()

    # the treaty --------------------------------------------------------------

    def amend(self, treaty: Treaty, now: float) -> Outcome:
        """The alliance amends its treaty; inputs from ``now`` on follow ``treaty``.

        Decisions already issued stay as they were (they cite the version that made
        them); quorum, protected assets, the ladder and the rest apply to what comes
        next. The new treaty must keep the alliance's name and raise its version.
        """
        old = self.treaty
        now = _time(now)
        if not isinstance(treaty, Treaty):
            raise ValueError(f"amendment {treaty!r} is not a treaty: load it with load_treaty")
        if treaty.name != old.name:
            raise ValueError(
                f"amendment names treaty {treaty.name!r} but the alliance's is {old.name!r}: "
                f"keep name = {old.name!r} in [treaty]"
            )
        if treaty.version <= old.version:
            raise ValueError(
                f"amendment has version {treaty.version}, not above the version in force "
                f"({old.label}): set version = {old.version + 1} in [treaty]"
            )
        permanent = sorted(m.name for m in self.state.roster.members.values() if m.permanent)
        if permanent and not treaty.veto.enabled:
            raise ValueError(
                f"amendment removes the veto that permanent member(s) {', '.join(permanent)} "
                "hold: keep [veto] enabled = true"
            )
        out = Collector()
        now = self.state.advance(now, out)
        self.treaty = treaty
        self.state.adopt(treaty, now)
        self._protect()
        self.history.append((now, treaty))
        out.notices.append(f"treaty amended from {old.label} to {treaty.label}")
        return out.outcome()

    # membership --------------------------------------------------------------

    def apply(
        self, name: str, addresses: Sequence[str], now: float, *, permanent: bool = False
    ) -> Outcome:
        """An applicant asks to join; its addresses are protected once it is admitted."""
        st = self.state
        now = _time(now)
        if isinstance(addresses, str):
            raise ValueError(f"addresses {addresses!r} must be a list of addresses, not a string")
        limits = self.treaty.targets
        for text in addresses:
            try:
                parse_target(
                    text, min_prefix_v4=limits.max_range_v4, min_prefix_v6=limits.max_range_v6
                )
            except ValueError as exc:
                raise ValueError(f"member {name!r}: {exc}") from None
        member = st.roster.prepare(name, tuple(addresses), now, permanent)
        out = Collector()
        member.applied_at = st.advance(now, out)
        st.roster.add(member)
        self._protect()
        how = self.treaty.accession
        if how == "admin" or not st.roster.active:
            out.notices.append(f"member {name} applied: awaiting approval by the secretariat")
        else:
            out.notices.append(f"member {name} applied: awaiting a {how} vote of active members")
        return out.outcome()

    def _protect(self) -> None:
        """Members' declared addresses changed; the gate rebuilds them once, when next used."""
        self.state.gate.members_changed(self._declared)

    def _declared(self) -> list[tuple[str, str]]:
        # Only admitted members: an applicant must not win protection for addresses
        # it merely claims (an attacker could apply to shield its own range).
        return [
            (address, m.name)
            for m in self.state.roster.members.values()
            if m.status in ("active", "suspended")
            for address in m.addresses
        ]

    def approve(self, name: str, now: float, by: str = "secretariat") -> Outcome:
        """Admit an applicant (admin accession, or the founding members of any treaty)."""
        st = self.state
        m = st.roster.get(name)
        out = Collector()
        now = st.advance(_time(now), out)
        if m.status != "pending":
            out.refuse(name, "", f"member {name} is {m.status}: only applicants can be approved")
        elif self.treaty.accession != "admin" and st.roster.active:
            out.refuse(
                name,
                "",
                f"treaty {self.treaty.label} admits members by {self.treaty.accession} vote: "
                "ask active members to vote",
            )
        else:
            st.roster.admit(m, now)
            out.notices.append(f"member {name} admitted by {by}")
        return out.outcome()

    def reject(self, name: str, now: float, by: str = "secretariat") -> Outcome:
        """Refuse an applicant (under any accession rule: the secretariat keeps the
        queue clear of applications nobody should vote on)."""
        st = self.state
        m = st.roster.get(name)
        out = Collector()
        now = st.advance(_time(now), out)
        if m.status != "pending":
            out.refuse(name, "", f"member {name} is {m.status}: only applicants can be rejected")
        else:
            st.roster.set_status(m, "rejected", now)
            self._protect()
            out.notices.append(f"member {name} rejected by {by}")
        return out.outcome()

    def vote(self, applicant: str, voter: str, approve: bool, now: float) -> Outcome:
        """An active member's vote on an applicant (majority or unanimity accession)."""
        st = self.state
        a = st.roster.get(applicant)
        v = st.roster.get(voter)
        out = Collector()
        now = st.advance(_time(now), out)
        refusal = ""
        if self.treaty.accession == "admin":
            refusal = f"treaty {self.treaty.label} admits members by the secretariat, not by vote"
        elif a.status != "pending":
            refusal = f"member {applicant} is {a.status}: only applicants are voted on"
        elif v.status != "active":
            refusal = f"voter {voter} is {v.status}: only active members vote"
        if refusal:
            out.refuse(voter, "", refusal)
            return out.outcome()
        st.roster.record_vote(a, voter, bool(approve))
        result = st.roster.tally(a)
        if result == "active":
            st.roster.admit(a, now)
            out.notices.append(f"member {applicant} admitted by {self.treaty.accession} vote")
        elif result == "rejected":
            st.roster.set_status(a, "rejected", now)
            self._protect()
            out.notices.append(f"member {applicant} rejected by vote")
        else:
            yes = a.ayes
            out.notices.append(
                f"vote on {applicant} recorded: {yes} for, {len(a.votes) - yes} against"
            )
        return out.outcome()

    def suspend(self, name: str, now: float, reason: str) -> Outcome:
        st = self.state
        m = st.roster.get(name)
        out = Collector()
        now = st.advance(_time(now), out)
        if m.status != "active":
            out.refuse(name, "", f"member {name} is {m.status}: only active members are suspended")
        else:
            st.roster.set_status(m, "suspended", now)
            out.notices.append(f"member {name} suspended: {reason}")
        return out.outcome()

    def reinstate(self, name: str, now: float) -> Outcome:
        """Lift a suspension; reputation is raised to the floor, grace starts again."""
        st = self.state
        m = st.roster.get(name)
        out = Collector()
        now = st.advance(_time(now), out)
        if m.status != "suspended":
            out.refuse(
                name, "", f"member {name} is {m.status}: only suspended members are reinstated"
            )
        else:
            m.reputation = max(m.reputation, self.treaty.reputation.floor)
            st.flagged.pop(name, None)
            st.roster.set_status(m, "active", now)
            out.notices.append(f"member {name} reinstated")
        return out.outcome()

    def member(self, name: str) -> MemberState | None:
        m = self.state.roster.members.get(name)
        return None if m is None else self.state.roster.state(m, self.state.now)

    def members(self) -> list[MemberState]:
        roster = self.state.roster
        return [roster.state(m, self.state.now) for m in roster.members.values()]

    # signals -----------------------------------------------------------------

    def step(self, signals_in: Sequence[Signal], now: float) -> Outcome:
        """Advance time to ``now``, then apply the signals in order."""
        st = self.state
        now = _time(now)
        known = st.roster.members
        for s in signals_in:
            if s.member not in known:
                st.roster.get(s.member)  # raises, naming the member
        out = Collector()
        now = st.advance(now, out)
        process = signals.process
        for s in signals_in:
            process(st, s, now, out)
        return out.outcome()

    def invoke(self, member: str, now: float) -> Outcome:
        """A member under heavy attack invokes collective defence (may be refused)."""
        st = self.state
        m = st.roster.get(member)
        out = Collector()
        now = st.advance(_time(now), out)
        refusal = st.roster.invocation_refusal(m, now)
        if refusal:
            out.refuse(member, "", refusal)
        else:
            signals.invoke(st, m, now, out, automatic=False)
        return out.outcome()

    # revocation --------------------------------------------------------------

    def revoke(
        self, decision_id: int, now: float, by: str, reason: str, *, appeal: bool = False
    ) -> Outcome:
        """Withdraw a decision; on appeal its reporters lose reputation (clause appeal)."""
        st = self.state
        d = self._get(decision_id)
        out = Collector()
        now = st.advance(_time(now), out)
        refusal = self._unrevocable(d, now)
        if not refusal and appeal and not self.treaty.appeals.enabled:
            refusal = f"treaty {self.treaty.label} does not allow appeals: ask the secretariat"
        if refusal:
            out.refuse(by, d.target, refusal)
        else:
            clause = "appeal" if appeal else "admin-revoke"
            st.withdraw(d, now, by, reason, clause, out, penalise=appeal)
        return out.outcome()

    def veto(self, member: str, decision_id: int, now: float) -> Outcome:
        """A permanent member vetoes a collective decision (clause veto)."""
        st = self.state
        m = st.roster.get(member)
        d = self._get(decision_id)
        out = Collector()
        now = st.advance(_time(now), out)
        rules = self.treaty.veto
        refusal = ""
        if not rules.enabled:
            refusal = f"treaty {self.treaty.label} grants no veto"
        elif not m.permanent:
            holders = [n for n, x in st.roster.members.items() if x.permanent]
            refusal = (
                f"member {member} is not a permanent member: only "
                f"{', '.join(holders) or 'permanent members'} may veto"
            )
        elif m.status != "active":
            refusal = f"member {member} is {m.status}: only active members may veto"
        elif d.applies_to:
            refusal = f"decision #{d.id} is self-defence by {d.applies_to[0]}: nothing to veto"
        else:
            refusal = self._unrevocable(d, now)
        if refusal:
            out.refuse(member, d.target, refusal)
            return out.outcome()
        reason = f"vetoed by permanent member {member}"
        st.withdraw(d, now, member, reason, "veto", out, penalise=True)
        st.vetoed[d.target] = now + rules.period
        return out.outcome()

    def _get(self, decision_id: int) -> Decision:
        d = None
        if isinstance(decision_id, int) and not isinstance(decision_id, bool):
            d = self.state.decisions.get(decision_id)
        if d is None:
            raise ValueError(
                f"unknown decision {decision_id!r}: list decisions to find its id "
                f"(issued so far: 1 to {self.state.next_id - 1})"
            )
        return d

    def _unrevocable(self, d: Decision, now: float) -> str:
        if d.id in self.state.revocations:
            return f"decision #{d.id} was already revoked"
        if not d.active(now):
            return f"decision #{d.id} expired at {d.expires_at:g}: nothing to revoke"
        return ""

    # views -------------------------------------------------------------------

    def active(self, now: float) -> list[Decision]:
        st = self.state
        live = [d for d in st.by_target.values() if d.active(now)]
        live += [d for d in st.own.values() if d.active(now)]
        return sorted(live, key=lambda d: d.id)

    def alerts(self, now: float) -> list[Alert]:
        """The alerts in force (raised readiness, core/alerts.py): never decisions, never
        in :meth:`active`."""
        return alerts.in_force(self.state, now)

    def active_on(self, targets: Iterable[str], now: float) -> list[Decision]:
        """The active decisions whose target is one of ``targets`` exactly, by id.

        What :meth:`active` filtered to ``targets`` gives, without going through every
        decision in force: a bouncer's delta asks about a handful of values.
        """
        st = self.state
        wanted = set(targets)
        live = [d for t in wanted if (d := st.by_target.get(t)) is not None and d.active(now)]
        members = st.roster.members
        if len(wanted) * len(members) < len(st.own):
            own = (st.own.get((t, m)) for t in wanted for m in members)
            live += [d for d in own if d is not None and d.active(now)]
        else:
            live += [d for d in st.own.values() if d.target in wanted and d.active(now)]
        return sorted(live, key=lambda d: d.id)

    def decision(self, decision_id: int) -> Decision | None:
        return self.state.decisions.get(decision_id)

    def revocation(self, decision_id: int) -> Revocation | None:
        return self.state.revocations.get(decision_id)

    def lookup(self, target: str, now: float) -> list[Decision]:
        """Active decisions overlapping an address or range (covering it or inside it)."""
        version, first, last = bounds(parse_network(target))
        check = self.state.gate.check
        found = []
        for d in self.active(now):
            c = check(d.target)
            hi = c.first + (1 << ((32 if c.version == 4 else 128) - c.prefixlen)) - 1
            if c.version == version and c.first <= last and first <= hi:
                found.append(d)
        return found

    def consultations(self, now: float, open_only: bool = True) -> list[Consultation]:
        views = self.state.book.views(open_only)
        return [c for c in views if c.closes_at > now] if open_only else views

    # burden sharing ----------------------------------------------------------

    def received(self, member: str, count: int) -> None:
        """``member`` received ``count`` decisions (ledger consumption)."""
        self.state.roster.get(member)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count {count!r} must be a whole number of decisions, 0 or more")
        self.state.ledger.receive(member, count)

    def benign(self, member: str, target: str, count: int, now: float) -> None:
        """``member`` saw ``count`` benign events (successful logins, 2xx answers) from
        ``target`` (core/shared.py). Counts only; a target that is not a valid address
        raises ``ValueError`` naming it."""
        self.state.roster.get(member)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count {count!r} must be a whole number of benign events, 0 or more")
        c = self.state.gate.check(target)
        if c.kind == INVALID:
            raise ValueError(f"benign evidence: {c.reason}")
        shared.note(self.state, c.target, count, _time(now))

    def exposed(self, member: str, count: int) -> None:
        """``member`` had ``count`` more attacks to report (ledger exposure).

        Reported by the member's side: decided attackers its own detectors caught before
        the decision. Once reported (0 included), the member's contribution is measured
        against it instead of the decisions it received, so a member nobody attacked is
        never a free rider.
        """
        self.state.roster.get(member)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count {count!r} must be a whole number of attacks, 0 or more")
        self.state.ledger.expose(member, count)

    def standing(self, member: str, now: float) -> Standing:
        m = self.state.roster.get(member)
        if m.status == "suspended":
            return "suspended"
        if m.status != "active":
            return "ok"
        return self.state.ledger.verdict(member, m.grace_from, now)

    def ledger(self, now: float) -> list[LedgerEntry]:
        st = self.state
        return [
            st.ledger.entry(name, self.standing(name, now))
            for name, m in st.roster.members.items()
            if m.joined_at is not None
        ]
