"""Burden sharing: contribution (decisions a member's reports helped cause) against
consumption (decisions it received), and the treaty's free-rider policy."""

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
        self.changed: set[str] = set()  # members whose entry changed since last looked at

    def contribute(self, members: tuple[str, ...], amount: int = 1) -> None:
        c = self.contribution
        for name in members:
            c[name] = max(0, c.get(name, 0) + amount)
        self.changed.update(members)

    def receive(self, member: str, count: int) -> None:
        self.consumption[member] = self.consumption.get(member, 0) + count
        self.changed.add(member)

    def share(self, member: str) -> float | None:
        consumed = self.consumption.get(member, 0)
        if consumed == 0:
            return None
        return self.contribution.get(member, 0) / consumed

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
        )
