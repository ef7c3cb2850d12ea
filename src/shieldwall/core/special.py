"""Special-purpose address space: what may never, or by default may not, be a target.

The tables follow IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890
and its updates), grouped into named categories a treaty can talk about
(``[targets] special``). Three kinds:

- ``NEVER``: no treaty may make these targets (this host, loopback, broadcast,
  IPv6 spellings of IPv4 that were not folded). A decision on them would cut a member
  off from itself or break every consumer's parser.
- ``DEFAULT_ALLOWED``: ordinary targets unless the treaty says otherwise
  (documentation ranges, private and shared address space, benchmarking).
- everything else (link-local, multicast, reserved, translation, IETF protocol
  assignments): refused unless the treaty lists the category.

No I/O; the tables are built once at import.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# category -> networks. Order inside a family matters only for which name a refusal
# cites when several overlap; NEVER categories are looked at first.
_TABLE: dict[str, tuple[str, ...]] = {
    "this-network": ("0.0.0.0/8",),
    "unspecified": ("::/128",),
    "loopback": ("127.0.0.0/8", "::1/128"),
    "broadcast": ("255.255.255.255/32",),
    "ipv4-embedded": ("::/96", "::ffff:0:0/96"),
    "link-local": ("169.254.0.0/16", "fe80::/10"),
    "multicast": ("224.0.0.0/4", "ff00::/8"),
    "reserved": ("240.0.0.0/4", "100::/64", "fec0::/10", "192.88.99.0/24"),
    "ietf-protocol": ("192.0.0.0/24", "2001::/23"),
    "translation": ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16"),
    "documentation": (
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "2001:db8::/32",
        "3fff::/20",
    ),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"),
    "shared": ("100.64.0.0/10",),
    "benchmarking": ("198.18.0.0/15", "2001:2::/48"),
}

CATEGORIES: tuple[str, ...] = tuple(_TABLE)
NEVER: frozenset[str] = frozenset(
    {"this-network", "unspecified", "loopback", "broadcast", "ipv4-embedded"}
)
DEFAULT_ALLOWED: tuple[str, ...] = ("documentation", "private", "shared", "benchmarking")
CHOOSABLE: tuple[str, ...] = tuple(c for c in CATEGORIES if c not in NEVER)


@dataclass(frozen=True, slots=True)
class Span:
    version: int
    first: int
    last: int
    network: str
    category: str


def _spans() -> dict[int, tuple[Span, ...]]:
    out = []
    for category, nets in _TABLE.items():
        for text in nets:
            net = ipaddress.ip_network(text)
            first = int(net.network_address)
            out.append(Span(net.version, first, first + net.num_addresses - 1, text, category))
    # NEVER first, then the rest, so a refusal names the strongest reason.
    out.sort(key=lambda s: s.category not in NEVER)
    return {v: tuple(s for s in out if s.version == v) for v in (4, 6)}


SPANS = _spans()


def overlapping(version: int, first: int, last: int, allowed: frozenset[str]) -> Span | None:
    """The special-purpose span that makes ``first..last`` unfit as a target, or None.

    Any overlap with ``NEVER`` space refuses. Otherwise addresses wholly inside an
    allowed span are fine (benchmarking's ``2001:2::/48`` lies inside the IETF's
    ``2001::/23``), and any overlap with a span not allowed refuses the whole range.
    """
    spans = SPANS[version]
    for span in spans:
        if span.category in allowed and span.first <= first and last <= span.last:
            return _never(spans, first, last)
    for span in spans:
        if span.last >= first and span.first <= last and span.category not in allowed:
            return span
    return None


def _never(spans: tuple[Span, ...], first: int, last: int) -> Span | None:
    for span in spans:
        if span.category in NEVER and span.last >= first and span.first <= last:
            return span
    return None


def check_allowed(names: object) -> tuple[str, ...]:
    """Validate a treaty's ``special`` list; ``ValueError`` says the fix."""
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValueError(f'must be a list of category names, e.g. ["{DEFAULT_ALLOWED[0]}"]')
    for name in names:
        if name in NEVER:
            raise ValueError(
                f"lists {name!r}, which can never be a target (it would cut members off "
                "from themselves or break every consumer): remove it"
            )
        if name not in CHOOSABLE:
            raise ValueError(f"lists {name!r}: choose from {', '.join(CHOOSABLE)}")
    if len(set(names)) != len(names):
        raise ValueError("lists a category twice: name each once")
    return tuple(names)
