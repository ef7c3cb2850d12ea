"""Sources counted per prefix as well as per address: rotating the host part does not hide.

An IPv6 host usually owns a whole /64 and can use a new address for every attempt, so
no address bucket ever fills. Once :func:`count_prefixes` is applied to a
:class:`~shieldwall.agent.detect.buckets.BucketTable`, each IPv6 source (each IPv4
source too when ``prefix_v4`` is below 32) is counted twice: in its own address bucket,
as before, and in the bucket of the prefix that holds it (``prefix_v6``, /64 by default).
When the prefix bucket overflows and more than one of its addresses took part, the
offence names the prefix; otherwise it is the address's own bucket that speaks, and
the offence names the address.

Memory stays bounded in a storm of random sources: the address and prefix buckets of
one table share its ``max_buckets`` (half each, evicted as every bucket table is), a
prefix remembers at most :data:`SPREAD_KEPT` of its addresses, and at most
``max_buckets`` prefixes are remembered at all. IPv4 sources never reach this module
while ``prefix_v4`` is off: the table routes a source here with one ``in`` test.
"""

from __future__ import annotations

from functools import lru_cache

# The C module itself: the socket module builds its enums on import, a replay needs two
# of its functions.
from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton  # isort: skip

from shieldwall.agent.detect.buckets import BucketTable, Offence, by_line

SPREAD_KEPT = 8  # addresses remembered per prefix: two already tell "several"
OFF_V6, OFF_V4 = 128, 32  # a prefix as long as an address: counted per address only
#: the shortest prefixes a detector may name (a treaty caps ranges further, hub side)
SHORTEST_V6, SHORTEST_V4 = 32, 16
#: a routing mark no source contains (sources are single lines): prefix counting off
_NEVER = b"\n"


def check_length(value: object, name: str, version: int) -> int:
    """A prefix length setting (``name`` as the user wrote it) as an int; ValueError
    naming it and the fix."""
    off, shortest = (OFF_V6, SHORTEST_V6) if version == 6 else (OFF_V4, SHORTEST_V4)
    if isinstance(value, bool) or not isinstance(value, int) or not shortest <= value <= off:
        raise ValueError(
            f"{name} = {value!r} is not a prefix length from {shortest} to {off}: give e.g. "
            f"{64 if version == 6 else 24}, or {off} to count single addresses only"
        )
    return value


def count_prefixes(table: BucketTable, prefix_v6: int = 64, prefix_v4: int = OFF_V4) -> None:
    """Count ``table``'s IPv6 sources per ``/prefix_v6`` as well (IPv4 per ``/prefix_v4``).

    A length of 128 (IPv6) or 32 (IPv4) leaves that family counted per address only.
    """
    check_length(prefix_v6, "prefix_v6", 6)
    check_length(prefix_v4, "prefix_v4", 4)
    if prefix_v6 == OFF_V6 and prefix_v4 == OFF_V4:
        table.prefixed, table.prefix_mark = None, _NEVER
        return
    table.prefixed = PrefixTable(table, prefix_v6, prefix_v4)
    # every source holds b"" (IPv4 counted too); only IPv6 sources hold b":"
    table.prefix_mark = b"" if prefix_v4 < OFF_V4 else b":"


class PrefixTable:
    """The address and prefix buckets of the sources a :class:`BucketTable` routes here."""

    __slots__ = ("addresses", "max_spread", "prefix_v4", "prefix_v6", "prefixes", "spread")

    def __init__(self, table: BucketTable, prefix_v6: int, prefix_v4: int) -> None:
        half = max(16, table.max_buckets // 2)
        self.addresses = BucketTable(table.scenario, table.capacity, table.leak, half)
        self.prefixes = BucketTable(table.scenario, table.capacity, table.leak, half)
        self.prefix_v6 = prefix_v6
        self.prefix_v4 = prefix_v4
        self.max_spread = table.max_buckets
        # prefix key -> {packed address: last seen}, at most SPREAD_KEPT addresses each
        self.spread: dict[bytes, dict[bytes, float]] = {}

    def __len__(self) -> int:
        return len(self.addresses) + len(self.prefixes)

    @property
    def dropped(self) -> int:
        return self.addresses.dropped + self.prefixes.dropped

    def add_all(self, events: list[tuple[bytes, float, int]]) -> list[tuple[int, Offence]]:
        """Count each ``(key, when, line)`` per address and per prefix, one line an event:
        the offences, each with its line, in line order.

        The two bucket tables count apart (one call each); then one pass over the events
        keeps each prefix's addresses as they came and, where its bucket overflowed,
        tells whether the prefix or the address speaks. What a prefix remembers never
        changes how its bucket fills, so counting first and reading it after is the same
        as doing both event by event."""
        own = dict(self.addresses.add_all(events))
        held: list[tuple[bytes, bytes, float, int]] = []
        for key, when, line in events:
            found = _prefix_of(key, self.prefix_v6, self.prefix_v4)
            if found is not None:  # else not an address, or a family counted per address
                held.append((*found, when, line))
        wide = dict(self.prefixes.add_all([(prefix, when, line) for _, prefix, when, line in held]))
        spreads = self.spread
        for address, prefix, when, line in held:
            spread = spreads.get(prefix)
            if spread is None:
                if len(spreads) >= self.max_spread:
                    for old in list(spreads)[: self.max_spread // 2]:
                        del spreads[old]
                spread = spreads[prefix] = {}
            if address in spread or len(spread) < SPREAD_KEPT:
                spread[address] = when
            offence = wide.get(line)
            if offence is None:
                continue
            del spreads[prefix]
            # addresses seen since the prefix bucket last started from empty, or a prefix
            # the alliance has on alert (its reporter named the prefix: so does this member)
            first = offence.first_seen
            if sum(1 for at in spread.values() if at >= first) > 1 or self._alerted(prefix):
                own[line] = offence
            # else one address: its own bucket reports it (if it overflowed), not its prefix
        return sorted(own.items(), key=by_line)

    def _alerted(self, prefix: bytes) -> bool:
        watch = self.prefixes.watch
        return watch is not None and watch(prefix) is not None


@lru_cache(maxsize=4096)
def _prefix_of(key: bytes, prefix_v6: int, prefix_v4: int) -> tuple[bytes, bytes] | None:
    """The address ``key`` names (packed) and the prefix holding it, or None.

    Read with ``inet_pton`` (C speed: a storm of random sources passes here once each);
    IPv4-mapped and IPv4-compatible IPv6 are the IPv4 they spell, as
    :func:`~shieldwall.core.addresses.parse_network` folds them. The prefix is only a
    bucket key: an offence's source is parsed from it again into its canonical text.
    """
    text = key.decode("ascii", "replace").strip("[]")
    try:
        packed = inet_pton(AF_INET6 if ":" in text else AF_INET, text)
    except (OSError, ValueError):
        return None
    if len(packed) == 16 and (
        packed[:12] == _MAPPED or (packed[:12] == _COMPATIBLE and packed[12:] > _ONE)
    ):
        packed = packed[12:]
    size = len(packed)
    length = prefix_v6 if size == 16 else prefix_v4
    host = size * 8 - length
    if host <= 0:
        return None
    first = (int.from_bytes(packed, "big") >> host << host).to_bytes(size, "big")
    spelled = inet_ntop(AF_INET6 if size == 16 else AF_INET, first)
    return packed, f"{spelled}/{length}".encode("ascii")


_MAPPED = bytes(10) + b"\xff\xff"  # ::ffff:a.b.c.d
_COMPATIBLE = bytes(12)  # ::a.b.c.d, but :: and ::1 stay IPv6
_ONE = bytes(3) + b"\x01"
