"""An attacker sweeping across the members, and the timeline of the alliance's answer.

The attacker tries each member in turn. A member whose firewall already holds the
attacker's address drops the attempt (it never reaches the service, so it writes no
log line); otherwise the attempt is a failed SSH login in that member's log. How an
attempt is made is a strategy (``Attempt``): ``file_attempt`` checks the member's
blocklist file and writes the log line itself (no root, no network); the nftables
demo connects over TCP from an attacker namespace (``shieldwall.demo.network``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from shieldwall.client import HubClient
from shieldwall.demo.alliance import Alliance, Member
from shieldwall.demo.lines import benign_login, failed_login

ATTACKER = "203.0.113.66"

Attempt = Callable[[Member, str, int], bool]
"""One attempt by ``ip`` on a member (the n-th of the sweep); True when it was dropped."""


@dataclass
class Tally:
    reached: dict[str, int] = field(default_factory=dict)
    blocked: dict[str, int] = field(default_factory=dict)

    @property
    def total_reached(self) -> int:
        return sum(self.reached.values())

    @property
    def total_blocked(self) -> int:
        return sum(self.blocked.values())


def file_attempt(member: Member, ip: str, n: int) -> bool:
    """The file demo: dropped when the member's blocklist holds ``ip``, else logged."""
    if member.blocks(ip):
        return True
    with open(member.log, "a") as fh:
        fh.write(failed_login(ip, n))
        if n % 4 == 0:
            fh.write(benign_login(n))
    return False


def attempt(member: Member, ip: str, n: int, tally: Tally, how: Attempt = file_attempt) -> bool:
    """One login attempt, counted in ``tally``; True when the member's firewall dropped it."""
    dropped = how(member, ip, n)
    counts = tally.blocked if dropped else tally.reached
    counts[member.name] = counts.get(member.name, 0) + 1
    return dropped


def sweep(
    alliance: Alliance,
    ip: str = ATTACKER,
    per_member: int = 8,
    rate: float = 25.0,
    how: Attempt = file_attempt,
    tally: Tally | None = None,
) -> Tally:
    """``per_member`` attempts on each member in turn, counted in ``tally`` as they happen."""
    tally = Tally() if tally is None else tally
    n = 0
    for member in alliance.members:
        for _ in range(per_member):
            attempt(member, ip, n, tally, how)
            n += 1
            time.sleep(1.0 / rate)
    return tally


@dataclass(frozen=True)
class Timeline:
    first_detection: float | None
    decision: float | None
    enforced: dict[str, float]
    members: int

    @property
    def all_enforced(self) -> float | None:
        if len(self.enforced) < self.members:
            return None
        return max(self.enforced.values())


def timeline(alliance: Alliance, ip: str = ATTACKER) -> Timeline:
    detections = [
        e["t"]
        for m in alliance.members
        for e in list(m.events)
        if e["event"] == "detected" and e.get("target") == ip
    ]
    decisions = [
        e["t"]
        for m in alliance.members
        for e in list(m.events)
        if e["event"] == "reported" and ip in e.get("targets", []) and e.get("decisions")
    ]
    enforced: dict[str, float] = {}
    for m in alliance.members:
        times = [
            e["t"] for e in list(m.events) if e["event"] == "enforced" and e.get("target") == ip
        ]
        if times:
            enforced[m.name] = min(times)
    return Timeline(
        min(detections, default=None), min(decisions, default=None), enforced, len(alliance.members)
    )


def wait_all_enforced(alliance: Alliance, ip: str = ATTACKER, timeout: float = 20.0) -> Timeline:
    """The finished timeline, with the decision's time as the hub recorded it."""
    deadline = time.monotonic() + timeout
    line = timeline(alliance, ip)
    while line.all_enforced is None and time.monotonic() < deadline:
        time.sleep(0.05)
        line = timeline(alliance, ip)
    with HubClient(alliance.url, read_token=alliance.read_token) as viewer:
        issued = [d["issued_at"] for d in viewer.decisions(ip=ip)["decisions"]]
    return replace(line, decision=min(issued)) if issued else line
