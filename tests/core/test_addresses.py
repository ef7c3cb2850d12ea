from __future__ import annotations

import pytest

from shieldwall.core.addresses import AddressSet, contains, ipv4_int, parse_network, parse_target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("203.0.113.9", ("203.0.113.9", "ip"), id="ipv4"),
        pytest.param(" 203.0.113.9 ", ("203.0.113.9", "ip"), id="ipv4-spaces"),
        pytest.param("203.0.113.9/32", ("203.0.113.9", "ip"), id="ipv4-slash32-is-host"),
        pytest.param("2001:DB8:0::1", ("2001:db8::1", "ip"), id="ipv6-normalised"),
        pytest.param("2001:db8::1/128", ("2001:db8::1", "ip"), id="ipv6-slash128-is-host"),
        pytest.param("198.51.100.0/24", ("198.51.100.0/24", "range"), id="ipv4-range"),
        pytest.param("2001:db8:1::/48", ("2001:db8:1::/48", "range"), id="ipv6-range"),
    ],
)
def test_parse_target_normalises(text: str, expected: tuple[str, str]) -> None:
    t = parse_target(text)
    assert (t.text, t.scope) == expected


@pytest.mark.parametrize(
    ("text", "limits", "message"),
    [
        pytest.param("999.1.1.1", {}, "'999.1.1.1' is not an IP address", id="octet-999"),
        pytest.param("10.0.0.1/33", {}, "'10.0.0.1/33' is not an IP address", id="prefix-33"),
        pytest.param(
            "10.0.0.1/24", {}, "has host bits set: write it as 10.0.0.0/24", id="host-bits"
        ),
        pytest.param("", {}, "is not an IP address or CIDR range", id="empty"),
        pytest.param("evil.example", {}, "give one such as 203.0.113.9", id="hostname"),
        pytest.param("0.0.0.0", {}, "is unspecified", id="unspecified-v4"),
        pytest.param("::", {}, "is unspecified", id="unspecified-v6"),
        pytest.param("0.0.0.0/0", {}, "is unspecified", id="everything-v4"),
        pytest.param("::/0", {}, "is unspecified", id="everything-v6"),
        pytest.param(
            "10.0.0.0/8",
            {"min_prefix_v4": 16},
            "broader than the treaty allows (/16",
            id="over-broad-v4",
        ),
        pytest.param(
            "2001:db8::/32",
            {"min_prefix_v6": 48},
            "broader than the treaty allows (/48",
            id="over-broad-v6",
        ),
        pytest.param("1" * 80, {}, "is not an IP address", id="overlong"),
    ],
)
def test_parse_target_rejects(text: str, limits: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_target(text, **limits)
    assert message in str(err.value)


def test_parse_target_accepts_range_at_the_limit() -> None:
    t = parse_target("10.1.0.0/16", min_prefix_v4=16)
    assert (t.text, t.scope) == ("10.1.0.0/16", "range")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("203.0.113.9", 0xCB007109, id="plain"),
        pytest.param("0.0.0.0", 0, id="zero"),
        pytest.param("255.255.255.255", 0xFFFFFFFF, id="max"),
        pytest.param("256.1.1.1", None, id="octet-too-big"),
        pytest.param("01.1.1.1", None, id="leading-zero"),
        pytest.param("1.1.1", None, id="three-parts"),
        pytest.param("1.1.1.1/32", None, id="range"),
        pytest.param("١.1.1.1", None, id="non-ascii-digit"),
        pytest.param("::1", None, id="ipv6"),
    ],
)
def test_ipv4_int_fast_path(text: str, expected: int | None) -> None:
    assert ipv4_int(text) == expected
    if expected is not None:
        assert int(parse_network(text).network_address) == expected


@pytest.mark.parametrize(
    ("query", "label"),
    [
        pytest.param("192.0.2.7", "docs", id="ip-inside"),
        pytest.param("192.0.2.0/25", "docs", id="range-inside"),
        pytest.param("192.0.0.0/16", "docs", id="range-covering"),
        pytest.param("10.9.9.9", "lan", id="second-range"),
        pytest.param("198.51.100.1", None, id="outside"),
        pytest.param("2001:db8::5", "v6", id="ipv6-inside"),
        pytest.param("2001:db9::5", None, id="ipv6-outside"),
    ],
)
def test_address_set_overlapping(query: str, label: str | None) -> None:
    s = AddressSet([("192.0.2.0/24", "docs"), ("10.0.0.0/8", "lan"), ("2001:db8::/32", "v6")])
    match = s.overlapping(query)
    assert (match.label if match else None) == label
    assert (query in s) == (label is not None)


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        pytest.param("198.51.100.0/24", "198.51.100.7", True, id="ip-in-range"),
        pytest.param("198.51.100.0/24", "198.51.101.7", False, id="ip-outside"),
        pytest.param("198.51.100.0/24", "2001:db8::1", False, id="other-family"),
        pytest.param("198.51.100.0/24", "198.51.100.0/24", True, id="same"),
    ],
)
def test_contains(outer: str, inner: str, expected: bool) -> None:
    assert contains(outer, inner) is expected
