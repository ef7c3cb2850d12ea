"""Target checks on the signal path: validity, treaty width, protected assets.

Each distinct target string is parsed once; the verdict is cached (the cache is
dropped whenever members' declared addresses change, and when it grows too large).
Members' declared addresses are read lazily: a change only marks them stale, and the
protected set is rebuilt once, at the next check, however many members applied since.
:class:`RangeIndex` answers "is this address inside an active range decision?" with
one dict lookup per prefix length in use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from shieldwall.core.addresses import AddressSet, Match, ipv4_int
from shieldwall.core.model import Decision, Scope
from shieldwall.core.treaty import Treaty

OK, PROTECTED, INVALID = 0, 1, 2
CACHE_LIMIT = 500_000


class Checked(NamedTuple):
    kind: int
    target: str
    scope: Scope = "ip"
    version: int = 4
    first: int = 0
    prefixlen: int = 32
    protected: str = ""
    reason: str = ""


class Gate:
    def __init__(self, treaty: Treaty) -> None:
        self.treaty = treaty
        self._treaty_set = AddressSet((r.network, r.label) for r in treaty.protected.ranges)
        self._member_set = AddressSet()
        self._cache: dict[str, Checked] = {}
        self._declared: Callable[[], Iterable[tuple[str, str]]] | None = None

    def set_members(self, declared: Iterable[tuple[str, str]]) -> None:
        """(network, member name) pairs that are protected from now on."""
        self._declared = None
        if self.treaty.protected.members:
            self._member_set = AddressSet(declared)
        self._cache.clear()

    def members_changed(self, declared: Callable[[], Iterable[tuple[str, str]]]) -> None:
        """Members' declared addresses changed: ``declared()`` is read at the next check."""
        self._declared = declared
        self._cache.clear()

    def check(self, raw: str) -> Checked:
        if self._declared is not None:
            self.set_members(self._declared())
        hit = self._cache.get(raw)
        if hit is None:
            hit = self._check(raw)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[raw] = hit
        return hit

    def _check(self, raw: str) -> Checked:
        value = ipv4_int(raw) if isinstance(raw, str) else None
        if value is not None:  # fast path: a plain dotted quad is canonical already
            return self._verdict(raw, "ip", 4, value, value, 32)
        try:
            t = self.treaty.check_target(raw)
        except ValueError as exc:
            return Checked(INVALID, _shown(raw), reason=str(exc))
        return self._verdict(t.text, t.scope, t.version, t.first, t.last, t.prefixlen)

    def _verdict(
        self, target: str, scope: Scope, version: int, first: int, last: int, prefixlen: int
    ) -> Checked:
        match: Match | None = self._treaty_set.overlapping_bounds(version, first, last)
        if match is not None:
            return Checked(
                PROTECTED,
                target,
                scope,
                version,
                first,
                prefixlen,
                match.network,
                f"{_relation(target, match.network)}, protected by the treaty "
                f"({match.label}); clause protected: never the subject of a decision",
            )
        match = self._member_set.overlapping_bounds(version, first, last)
        if match is not None:
            return Checked(
                PROTECTED,
                target,
                scope,
                version,
                first,
                prefixlen,
                match.network,
                f"{_relation(target, match.network)}, declared by member {match.label}; "
                "clause protected.member: members are never the subject of a decision",
            )
        refusal = self.treaty.special_refusal(version, first, last)
        if refusal:
            return Checked(
                INVALID, target, scope, version, first, prefixlen, "", f"{target} {refusal}"
            )
        return Checked(OK, target, scope, version, first, prefixlen)


def _relation(target: str, protected: str) -> str:
    if target == protected:
        return f"{target} is protected"
    if "/" not in target:
        return f"{target} lies in {protected}"
    return f"{target} overlaps {protected}"


def _shown(raw: object) -> str:
    """A refused value as it may be echoed: printable ASCII only, at most 80 characters."""
    text = raw if isinstance(raw, str) else repr(raw)
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text[:80])


class RangeIndex:
    """Active range decisions keyed by (version, prefix length) then network integer."""

    def __init__(self) -> None:
        self._by_len: dict[tuple[int, int], dict[int, Decision]] = {}

    def __bool__(self) -> bool:
        return bool(self._by_len)

    def add(self, c: Checked, d: Decision) -> None:
        self._by_len.setdefault((c.version, c.prefixlen), {})[c.first] = d

    def remove(self, c: Checked, d: Decision) -> None:
        key = (c.version, c.prefixlen)
        table = self._by_len.get(key)
        if table is not None and table.get(c.first) is d:
            del table[c.first]
            if not table:
                del self._by_len[key]

    def covering(self, c: Checked) -> Decision | None:
        """An active range decision strictly wider than ``c`` that contains it."""
        bits = 32 if c.version == 4 else 128
        for (version, plen), table in self._by_len.items():
            if version != c.version or plen >= c.prefixlen:
                continue
            d = table.get(c.first & ~((1 << (bits - plen)) - 1))
            if d is not None:
                return d
        return None
