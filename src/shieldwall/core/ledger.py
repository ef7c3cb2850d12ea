"""Burden sharing: contribution (decisions a member's reports helped cause) against what
the member owed, and the treaty's free-rider policy.

What a member owes is its *exposure* once its agent reports it: the attacks it had to
report (decided attackers its own detectors caught before the decision). A member
nobody attacked owes nothing and is never a free rider; one that was attacked and
reported nothing, or left the consultations on its attackers unanswered, is. Until a
member's exposure is reported, the ledger falls back on its *consumption* (decisions
it received), the only measure the hub has then.
"""

from __future__ import annotations

from shieldwall.core.model import LedgerEntry, Standing
from shieldwall.core.treaty import Treaty

_POLICY_STANDING: dict[str, Standing] = {
    "none": "ok",
    "warn": "warned",
    "delay": "delayed",
    "suspend": "suspended",
}


class Ledger:
    def __init__(self, treaty: Treaty) -> None:
        self.treaty = treaty
        self.contribution: dict[str, int] = {}
        self.consumption: dict[str, int] = {}
        self.exposure: dict[str, int] = {}  # members whose agents report what they saw
        self.changed: set[str] = set()  # members whose entry changed since last looked at

    def contribute(self, members: tuple[str, ...], amount: int = 1) -> None:
        c = self.contribution
        for name in members:
            c[name] = max(0, c.get(name, 0) + amount)
        self.changed.update(members)

    def receive(self, member: str, count: int) -> None:
        self.consumption[member] = self.consumption.get(member, 0) + count
        self.changed.add(member)

    def expose(self, member: str, count: int) -> None:
        """``member`` had ``count`` more attacks to report (0: it reports, saw none)."""
        self.exposure[member] = self.exposure.get(member, 0) + count
        self.changed.add(member)

    def owed(self, member: str) -> int:
        """What the member's contribution is measured against (see module doc)."""
        if member in self.exposure:
            return self.exposure[member]
        return self.consumption.get(member, 0)

    def share(self, member: str) -> float | None:
        owed = self.owed(member)
        if owed == 0:
            return None
        return self.contribution.get(member, 0) / owed

    def free_rider(self, member: str, grace_from: float | None, now: float) -> bool:
        """Whether ``member`` contributes less than the treaty minimum after its grace."""
        rules = self.treaty.burden
        if rules.policy == "none" or grace_from is None or now < grace_from + rules.grace:
            return False
        share = self.share(member)
        return share is not None and share < rules.minimum_share

    def verdict(self, member: str, grace_from: float | None, now: float) -> Standing:
        if self.free_rider(member, grace_from, now):
            return _POLICY_STANDING[self.treaty.burden.policy]
        return "ok"

    def entry(self, member: str, standing: Standing) -> LedgerEntry:
        return LedgerEntry(
            member=member,
            contribution=self.contribution.get(member, 0),
            consumption=self.consumption.get(member, 0),
            share=self.share(member),
            standing=standing,
            exposure=self.exposure.get(member),
        )
