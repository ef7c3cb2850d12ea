"""Local policy: the member's sovereignty over what it enforces.

The alliance decides; each member chooses what it applies. The policy is read from the
``[policy]`` section of the agent's configuration, validated with errors that name the
key and the value, reported to the hub (``describe()``), and applied to every decision
before any enforcer sees it (``filter()``).

Whatever the alliance decides, this member never blocks its own addresses, its
allowlist or the hub: a decision that so much as overlaps one of them is refused, with
the reason. Pure: no I/O, ``now`` is an argument.

Example::

    [policy]
    scenarios = ["*"]                 # or a list such as ["ssh-bruteforce", "http-scan"]
    actions = ["throttle", "ban"]     # watch decisions are observation only by default
    apply_recommended = false         # consult-only treaties: decisions are advice
    max_ban = "7d"                    # seconds or 30m / 12h / 7d / 2w; "none" = no limit
    allowlist = ["192.0.2.0/24"]
    opt_out_scenarios = ["http-404"]
    opt_out_clauses = ["art4.corroborated"]
    widest_prefix_v4 = 8              # refuse ranges broader than a /8 (IPv4) ...
    widest_prefix_v6 = 32             # ... or a /32 (IPv6)
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
import socket
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shieldwall.agent.enforce.base import Entry
from shieldwall.core.addresses import bounds, normalise, parse_network
from shieldwall.core.model import ACTIONS, Action, Decision, Scope

DEFAULTS: dict[str, Any] = {
    "scenarios": ["*"],
    "actions": ["throttle", "ban"],
    "apply_recommended": False,
    "max_ban": "none",
    "allowlist": [],
    "opt_out_scenarios": [],
    "opt_out_clauses": [],
    "widest_prefix_v4": 8,
    "widest_prefix_v6": 32,
    "self_defence": True,
    "self_defence_ban": "1h",
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_TARGET = re.compile(r"^[0-9A-Fa-f:./]{2,64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-/]{0,127}$")


class Guard:
    """Protected networks: which one, if any, shares an address with an interval."""

    def __init__(self, labelled: Iterable[tuple[str, str]]) -> None:
        rows: dict[int, list[tuple[int, int, str, str]]] = {4: [], 6: []}
        for text, label in labelled:
            version, first, last = bounds(parse_network(text))
            rows[version].append((first, last, text, label))
        self._rows = {v: sorted(r) for v, r in rows.items()}
        self._firsts = {v: [r[0] for r in rows] for v, rows in self._rows.items()}
        self._widest = {
            v: max((r[1] - r[0] for r in rows), default=0) for v, rows in self._rows.items()
        }

    def overlapping(self, version: int, first: int, last: int) -> tuple[str, str] | None:
        rows = self._rows[version]
        if not rows:
            return None
        firsts = self._firsts[version]
        hi = bisect_right(firsts, last)
        lo = bisect_left(firsts, first - self._widest[version])
        for row in rows[lo:hi]:
            if row[1] >= first:
                return row[2], row[3]
        return None


def _relation(target: str, protected: str) -> str:
    """How ``target`` touches a protected network, in words that fit both."""
    if target == protected or f"{target}/{32 if ':' not in target else 128}" == protected:
        return f"{target} is protected"
    if "/" not in target:
        return f"{target} lies in {protected}"
    return f"{target} overlaps {protected}"


def _parse(target: object) -> tuple[str, Scope, int, int, int] | str:
    """(normalised target, scope, version, first, last), or why it is not a target."""
    if not isinstance(target, str) or not _TARGET.match(target):
        return f"target {str(target)[:64]!r} is not an IP address or CIDR range"
    if "/" not in target:
        if ":" not in target:
            try:  # strict dotted quad, several times faster than ipaddress
                packed = socket.inet_pton(socket.AF_INET, target)
            except OSError:
                return f"address {target!r} is not an IPv4 address"
            value = int.from_bytes(packed, "big")
            return socket.inet_ntop(socket.AF_INET, packed), "ip", 4, value, value
        try:
            addr = ipaddress.ip_address(target)
        except ValueError as exc:
            return str(exc)
        value = int(addr)
        return str(addr), "ip", addr.version, value, value
    try:
        net = parse_network(target)
    except ValueError as exc:
        return str(exc)
    text, scope = normalise(net)
    version, first, last = bounds(net)
    return text, scope, version, first, last


@dataclass(frozen=True, slots=True)
class Refusal:
    """A decision this member does not enforce, and why (``rule`` is the policy key)."""

    decision_id: int
    target: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Policy:
    member: str
    scenarios: frozenset[str] | None = None  # None: every scenario
    actions: frozenset[Action] = frozenset({"throttle", "ban"})
    apply_recommended: bool = False
    max_ban: float | None = None
    allowlist: tuple[str, ...] = ()
    own_addresses: tuple[str, ...] = ()
    hubs: tuple[str, ...] = ()
    ignoreip: tuple[str, ...] = ()  # fail2ban jails' ignoreip: never blocked either
    opt_out_scenarios: frozenset[str] = frozenset()
    opt_out_clauses: frozenset[str] = frozenset()
    widest_prefix_v4: int = 8
    widest_prefix_v6: int = 32
    self_defence: bool = True
    self_defence_ban: float = 3600.0
    _protected: Guard = field(default_factory=lambda: Guard(()), repr=False, compare=False)

    def __post_init__(self) -> None:
        labels = [(a, "this member's own address") for a in self.own_addresses]
        labels += [(a, "the allowlist") for a in self.allowlist]
        labels += [(a, "the hub's address") for a in self.hubs]
        labels += [(a, "a fail2ban jail's ignoreip") for a in self.ignoreip]
        object.__setattr__(self, "_protected", Guard(labels))

    @property
    def protected(self) -> tuple[str, ...]:
        """Networks never blocked: own addresses, allowlist, hubs, ignoreip (for the enforcer)."""
        return tuple(
            dict.fromkeys((*self.own_addresses, *self.allowlist, *self.hubs, *self.ignoreip))
        )

    def protecting(self, target: str) -> tuple[str, str] | None:
        """The protected network ``target`` overlaps and why it is protected, or None."""
        parsed = _parse(target)
        if isinstance(parsed, str):
            return None
        return self._protected.overlapping(*parsed[2:])

    def describe(self) -> dict[str, Any]:
        """The policy as reported to the hub (JSON-able)."""
        return {
            "member": self.member,
            "scenarios": ["*"] if self.scenarios is None else sorted(self.scenarios),
            "actions": [a for a in ACTIONS if a in self.actions],
            "apply_recommended": self.apply_recommended,
            "max_ban": self.max_ban,
            "allowlist": list(self.allowlist),
            "own_addresses": list(self.own_addresses),
            "hubs": list(self.hubs),
            "ignoreip": list(self.ignoreip),
            "opt_out_scenarios": sorted(self.opt_out_scenarios),
            "opt_out_clauses": sorted(self.opt_out_clauses),
            "widest_prefix_v4": self.widest_prefix_v4,
            "widest_prefix_v6": self.widest_prefix_v6,
            "self_defence": self.self_defence,
            "self_defence_ban": self.self_defence_ban,
        }

    def decide(self, decision: Decision, now: float) -> Entry | Refusal:
        """The entry to enforce for ``decision``, or why it is refused."""

        def refuse(rule: str, reason: str) -> Refusal:
            return Refusal(decision.id, str(decision.target)[:64], rule, reason)

        parsed = _parse(decision.target)
        if isinstance(parsed, str):
            return refuse("target", parsed)
        target, scope, version, first, last = parsed
        if first == 0 and (scope == "ip" or last == (1 << (32 if version == 4 else 128)) - 1):
            return refuse("target", f"{target} is the unspecified address or everything")
        if not isinstance(decision.id, int) or decision.id <= 0:
            return refuse("id", f"decision id {decision.id!r} is not a positive number")
        if not isinstance(decision.action, str) or not isinstance(decision.scenario, str):
            return refuse("action", f"action {str(decision.action)[:32]!r} is not a decision type")
        if decision.applies_to and self.member not in decision.applies_to:
            bound = ", ".join(decision.applies_to)
            return refuse("applies_to", f"decision binds only {bound}, not {self.member}")
        if not decision.expires_at > now:
            return refuse("expired", f"decision ended at {decision.expires_at:.0f}")
        if decision.clause in self.opt_out_clauses:
            return refuse("opt_out_clauses", f"this member opts out of clause {decision.clause!r}")
        if decision.scenario in self.opt_out_scenarios:
            return refuse(
                "opt_out_scenarios", f"this member opts out of scenario {decision.scenario!r}"
            )
        if self.scenarios is not None and decision.scenario not in self.scenarios:
            return refuse("scenarios", f"scenario {decision.scenario!r} is not enforced here")
        if decision.action not in self.actions:
            return refuse("actions", f"action {decision.action!r} is not enforced here")
        if decision.recommended and not self.apply_recommended:
            return refuse(
                "apply_recommended", "decision is a recommendation and this member applies none"
            )
        hit = self._protected.overlapping(version, first, last)
        if hit is not None:
            return refuse("protected", f"{_relation(target, hit[0])} ({hit[1]})")
        if scope == "range":
            widest = self.widest_prefix_v4 if version == 4 else self.widest_prefix_v6
            bits = 32 if version == 4 else 128
            if (last - first + 1) > 1 << (bits - widest):
                return refuse(
                    f"widest_prefix_v{version}",
                    f"{target} is broader than the /{widest} this member accepts",
                )
        expires = float(decision.expires_at)
        if self.max_ban is not None:
            # A ban lasts at most max_ban from when it was issued, and an issue time that
            # is unreadable or still to come counts as now: no date can stretch it.
            issued = decision.issued_at
            start = issued if math.isfinite(issued) and issued <= now else now
            expires = min(expires, start + self.max_ban)
            if not expires > now:
                return refuse(
                    "max_ban", f"ban already lasted the local maximum of {self.max_ban:g} s"
                )
        return Entry(target, scope, expires, decision.id)

    def defend(
        self, target: str, now: float, local_id: int, ban: float | None = None
    ) -> Entry | Refusal:
        """This member's own, immediate ban of a source its detectors caught.

        Local self-defence (like fail2ban) does not wait for the alliance; it binds
        only this member and still never touches what the policy protects.
        ``local_id`` is negative so it never collides with an alliance decision.
        ``ban`` is its length in seconds (a fail2ban jail's bantime; ``math.inf`` for
        ever), ``self_defence_ban`` when None.
        """
        if not self.self_defence:
            return Refusal(local_id, target[:64], "self_defence", "local self-defence is off")
        parsed = _parse(target)
        if isinstance(parsed, str):
            return Refusal(local_id, target[:64], "target", parsed)
        normal, scope, version, first, last = parsed
        hit = self._protected.overlapping(version, first, last)
        if hit is not None:
            why = f"{_relation(normal, hit[0])} ({hit[1]})"
            return Refusal(local_id, normal, "protected", why)
        length = self.self_defence_ban if ban is None or not ban > 0 else ban
        return Entry(normal, scope, now + length, local_id)

    def filter(
        self, decisions: Iterable[Decision], now: float
    ) -> tuple[list[Entry], list[Refusal]]:
        """Split decisions into entries to enforce and refusals with reasons."""
        accepted: list[Entry] = []
        refused: list[Refusal] = []
        for decision in decisions:
            verdict = self.decide(decision, now)
            if isinstance(verdict, Entry):
                accepted.append(verdict)
            else:
                refused.append(verdict)
        return accepted, refused


def load_policy(
    section: Mapping[str, Any] | None,
    *,
    member: str,
    own_addresses: Sequence[str] = (),
    hubs: Sequence[str] = (),
    ignoreip: Sequence[str] = (),
) -> Policy:
    """Validate a ``[policy]`` section; ValueError naming the key, the value and the fix.

    ``own_addresses`` and ``hubs`` come from the agent's configuration (the hub's URL
    resolved to addresses), ``ignoreip`` from its fail2ban jails; they are protected
    like the allowlist.
    """
    if section is not None and not isinstance(section, Mapping):
        raise ValueError(
            f"[policy] must be a table of settings, not {type(section).__name__}: "
            "write [policy] followed by key = value lines"
        )
    data = dict(section or {})
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, list(DEFAULTS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(DEFAULTS)}"
        raise ValueError(f"[policy] unknown key {key!r}: {hint}")
    values = {**DEFAULTS, **data}
    scenarios = _names(values["scenarios"], "scenarios")
    actions = _names(values["actions"], "actions")
    for action in actions:
        if action not in ACTIONS:
            raise ValueError(
                f"[policy] actions: {action!r} is not a decision type: use {list(ACTIONS)}"
            )
    for key in ("widest_prefix_v4", "widest_prefix_v6"):
        top = 32 if key.endswith("v4") else 128
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ValueError(
                f"[policy] {key} = {value!r} is invalid: give a prefix length 0..{top}"
            )
    if not isinstance(values["apply_recommended"], bool):
        raise ValueError(
            f"[policy] apply_recommended = {values['apply_recommended']!r} is invalid: "
            "write true or false"
        )
    if not isinstance(values["self_defence"], bool):
        raise ValueError(
            f"[policy] self_defence = {values['self_defence']!r} is invalid: write true or false"
        )
    self_defence_ban = parse_duration(values["self_defence_ban"], "self_defence_ban")
    if self_defence_ban is None or self_defence_ban <= 0:
        raise ValueError(
            f"[policy] self_defence_ban = {values['self_defence_ban']!r} is invalid: "
            'give a duration such as "1h"'
        )
    if not isinstance(member, str) or not member:
        raise ValueError(f"member name {member!r} is invalid: give this member's name")
    return Policy(
        member=member,
        scenarios=None if "*" in scenarios else frozenset(scenarios),
        actions=frozenset(actions),  # type: ignore[arg-type]
        apply_recommended=values["apply_recommended"],
        max_ban=parse_duration(values["max_ban"], "max_ban"),
        allowlist=_networks(values["allowlist"], "[policy] allowlist"),
        own_addresses=_networks(own_addresses, "own address"),
        hubs=_networks(hubs, "hub address"),
        ignoreip=_networks(ignoreip, "fail2ban ignoreip"),
        opt_out_scenarios=frozenset(_names(values["opt_out_scenarios"], "opt_out_scenarios")),
        opt_out_clauses=frozenset(_names(values["opt_out_clauses"], "opt_out_clauses")),
        widest_prefix_v4=values["widest_prefix_v4"],
        widest_prefix_v6=values["widest_prefix_v6"],
        self_defence=values["self_defence"],
        self_defence_ban=self_defence_ban,
    )


def parse_duration(value: object, key: str) -> float | None:
    """Seconds from 3600, "90m", "12h", "7d", "2w"; None for "none"."""
    if isinstance(value, str) and value.strip().lower() in ("none", "unlimited"):
        return None
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(
            f"[policy] {key} = {value!r} is invalid: give a positive duration such as "
            '3600, "12h" or "7d", or "none" for no limit'
        )
    return seconds


def _names(value: object, key: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f'[policy] {key} = {value!r} is invalid: give a list of names, e.g. ["a"]')
    out = []
    for item in value:
        if not isinstance(item, str) or not (item == "*" or _NAME.match(item)):
            raise ValueError(
                f"[policy] {key}: {item!r} is not a valid name: use letters, digits, . _ - : /"
            )
        out.append(item)
    return out


def _networks(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} {value!r} is invalid: give a list of addresses or CIDR ranges")
    out = []
    for item in value:
        try:
            net = parse_network(item)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
        out.append(normalise(net)[0])
    return tuple(dict.fromkeys(out))
