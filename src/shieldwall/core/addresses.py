"""IPv4/IPv6 addresses and CIDR ranges: parsing, folding, and fast set lookups.

``parse_network`` is the one parser every address from outside passes through, and
:class:`Target` the one value a target travels as once parsed; ``canonical`` guards
every output. They raise ``ValueError`` with a message that names the bad value and
says what to do.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: a detector imports this module without the model
    from shieldwall.core.model import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


_TARGET_CHARS = frozenset("0123456789abcdefABCDEF.:/")
_EXAMPLES = "give one such as 203.0.113.9, 2001:db8::1 or 198.51.100.0/24"
_MAPPED = 0xFFFF  # the top 96 bits of ::ffff:a.b.c.d


@dataclass(frozen=True, slots=True)
class Target:
    """An address or range parsed once: every output is written from this value.

    ``text`` is the canonical spelling (IPv4 for IPv4-mapped and IPv4-compatible IPv6,
    no /32 or /128 on a single host, compressed lower-case IPv6): it is made by
    :mod:`ipaddress` from integers, so it holds only ``[0-9a-f.:/]``.
    """

    network: Network
    text: str
    scope: Scope
    version: int
    first: int
    last: int

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    def __str__(self) -> str:
        return self.text


def as_target(net: Network) -> Target:
    """The :class:`Target` of an already parsed (and folded) network."""
    text, scope = normalise(net)
    version, first, last = bounds(net)
    return Target(net, text, scope, version, first, last)


def parse_network(text: str) -> Network:
    """Parse an address or CIDR range into a network (host bits must be zero).

    Strict: only hex digits, ``.``, ``:`` and ``/`` (no IPv6 zone such as ``%eth0``,
    no spaces inside); IPv4-mapped (``::ffff:192.0.2.1``) and IPv4-compatible
    (``::192.0.2.1``) IPv6 are folded to the IPv4 they spell, ranges too.
    """
    if not isinstance(text, str):
        raise ValueError(f"address {text!r} is not a string: give an IP such as 203.0.113.9")
    raw = text.strip()
    if not raw or len(raw) > 64:
        raise ValueError(f"address {text[:80]!r} is not an IP address or CIDR range: {_EXAMPLES}")
    if not _TARGET_CHARS.issuperset(raw):
        if "%" in raw:
            raise ValueError(
                f"address {text!r} has an IPv6 zone (the part from '%'): zones name an "
                "interface of one host and cannot be shared; give the address without it"
            )
        raise ValueError(
            f"address {text!r} is not an IP address or CIDR range (only hex digits, '.', "
            f"':' and '/' may appear): {_EXAMPLES}"
        )
    try:
        net = ipaddress.ip_network(raw, strict=True)
    except ValueError as exc:
        if "/" in raw:
            try:
                loose = ipaddress.ip_network(raw, strict=False)
            except ValueError:
                pass
            else:
                raise ValueError(
                    f"range {text!r} has host bits set: write it as {_fold(loose).with_prefixlen}"
                ) from None
        raise ValueError(
            f"address {text!r} is not an IP address or CIDR range ({exc}): {_EXAMPLES}"
        ) from None
    return _fold(net)


def _fold(net: Network) -> Network:
    """IPv4-mapped and IPv4-compatible IPv6 networks as the IPv4 network they spell."""
    if net.version != 6 or net.prefixlen < 96:
        return net
    first = int(net.network_address)
    top = first >> 32
    if top == _MAPPED or (top == 0 and first > 1):
        return ipaddress.IPv4Network((first & 0xFFFFFFFF, net.prefixlen - 96))
    return net


def normalise(net: Network) -> tuple[str, Scope]:
    """The canonical text of a network, and whether it is a single host."""
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address), "ip"
    return net.with_prefixlen, "range"


def parse_target(text: str, *, min_prefix_v4: int = 0, min_prefix_v6: int = 0) -> Target:
    """Parse a signal or decision target into a :class:`Target`.

    ``min_prefix_v4``/``min_prefix_v6`` are the broadest ranges allowed (a treaty
    forbidding anything wider than a /16 passes 16). Special-purpose space is the
    treaty's business: see :meth:`shieldwall.core.treaty.Treaty.check_target`.
    """
    net = parse_network(text)
    limit = min_prefix_v4 if net.version == 4 else min_prefix_v6
    if net.prefixlen < limit:
        raise ValueError(
            f"range {text!r} is broader than the treaty allows (/{limit} at most for "
            f"IPv{net.version}): report narrower ranges or single addresses"
        )
    if net.is_unspecified or net.prefixlen == 0:
        raise ValueError(f"address {text!r} is unspecified: report the attacker's own address")
    return as_target(net)


_CANONICAL: dict[str, Target] = {}


def canonical(text: str) -> Target:
    """The :class:`Target` of a text that must already be canonical (an emitter's guard).

    Emitters call this on every target they write: a value that is not exactly the
    canonical spelling of an address or range raises ``ValueError`` instead of reaching
    a feed, a firewall or a consumer's shell. Cached; the cache is bounded.
    """
    hit = _CANONICAL.get(text)
    if hit is not None:
        return hit
    target = as_target(parse_network(text))
    if target.text != text:
        raise ValueError(
            f"target {text[:80]!r} is not in canonical form ({target.text}): refusing to write it"
        )
    if len(_CANONICAL) >= 200_000:
        _CANONICAL.clear()
    _CANONICAL[text] = target
    return target


def ipv4_int(text: str) -> int | None:
    """The integer of a canonical dotted-quad IPv4 address, without building objects.

    None for anything else (ranges, IPv6, leading zeros, junk): use
    :func:`parse_network` for those. A fast path for hot loops.
    """
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 3:
            return None
        if len(part) > 1 and part[0] == "0":
            return None
        octet = int(part)
        if octet > 255:
            return None
        value = value << 8 | octet
    return value


def bounds(net: Network) -> tuple[int, int, int]:
    """(version, first, last) as integers, for interval arithmetic."""
    first = int(net.network_address)
    return net.version, first, first + net.num_addresses - 1


@dataclass(frozen=True, slots=True)
class Match:
    network: str
    label: str


class AddressSet:
    """A set of networks answering "does X overlap anything here?" in O(log n).

    Built once from (network, label) pairs; overlapping input ranges are kept apart
    so that the label of the first match can be reported.
    """

    __slots__ = ("_firsts", "_items", "_maxlen")

    def __init__(self, entries: Iterable[tuple[Network | str, str]] = ()) -> None:
        items: dict[int, list[tuple[int, int, str, str]]] = {4: [], 6: []}
        for net, label in entries:
            n = parse_network(net) if isinstance(net, str) else net
            version, first, last = bounds(n)
            items[version].append((first, last, normalise(n)[0], label))
        self._items = {v: sorted(rows) for v, rows in items.items()}
        self._firsts = {v: [row[0] for row in rows] for v, rows in self._items.items()}
        # Longest span per family lets overlap queries stop scanning early.
        self._maxlen = {
            v: max((row[1] - row[0] for row in rows), default=0) for v, rows in self._items.items()
        }

    def __len__(self) -> int:
        return len(self._items[4]) + len(self._items[6])

    def overlapping(self, net: Network | str) -> Match | None:
        """The first stored network that shares any address with ``net``."""
        n = parse_network(net) if isinstance(net, str) else net
        return self.overlapping_bounds(*bounds(n))

    def overlapping_bounds(self, version: int, first: int, last: int) -> Match | None:
        """As :meth:`overlapping`, for addresses ``first``..``last`` of one IP version."""
        rows = self._items[version]
        if not rows:
            return None
        firsts = self._firsts[version]
        # Candidates start at or before ``last``; those starting before
        # ``first - maxlen`` cannot reach ``first``.
        hi = bisect_right(firsts, last)
        lo = bisect_right(firsts, first - self._maxlen[version] - 1)
        for i in range(hi - 1, lo - 1, -1):
            row = rows[i]
            if row[1] >= first:
                return Match(row[2], row[3])
        return None

    def __contains__(self, net: object) -> bool:
        if not isinstance(net, (str, ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return False
        return self.overlapping(net) is not None


def contains(outer: str, inner: str) -> bool:
    """Whether normalised target ``inner`` lies wholly inside ``outer``."""
    a, b = parse_network(outer), parse_network(inner)
    if a.version != b.version:
        return False
    return b.subnet_of(a)  # type: ignore[arg-type]
