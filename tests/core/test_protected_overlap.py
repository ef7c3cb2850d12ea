"""Protected assets against reported ranges, through the council's public calls only.

A reported range is refused when ANY address in it is protected, wherever that address
lies in the range (first, middle or last), for members' declared addresses and the
treaty's own protected ranges alike; a range next to a protected one is not refused.
"""

from __future__ import annotations

import pytest

from shieldwall.core.council import Council
from shieldwall.core.treaty import ProtectedRange
from tests.core.helpers import council, report, treaty


def _alliance(network: str) -> Council:
    """m0, m1, m2 under a treaty that also protects ``network`` (label "partner")."""
    ranges = (*treaty("nato").protected.ranges, ProtectedRange(network, "partner"))
    return council(treaty("nato", protected__ranges=ranges), members=3)


def _with_member(c: Council, address: str) -> Council:
    c.apply("edge", [address], 0)
    c.approve("edge", 0)
    return c


def _both_report(c: Council, target: str) -> tuple[list[str], list[tuple[str, str]]]:
    first, second = report(c, "m0", 1, target), report(c, "m1", 2, target)
    decisions = [d.target for o in (first, second) for d in o.decisions]
    disputes = [(x.target, x.protected) for o in (first, second) for x in o.disputes]
    return decisions, disputes


@pytest.mark.parametrize(
    ("declared", "target"),
    [
        pytest.param("10.0.9.0", "10.0.9.0/24", id="v4-first-address"),
        pytest.param("10.0.9.1", "10.0.9.0/24", id="v4-second-address"),
        pytest.param("10.0.9.130", "10.0.9.0/24", id="v4-middle-address"),
        pytest.param("10.0.9.255", "10.0.9.0/24", id="v4-last-address"),
        pytest.param("10.0.9.192/26", "10.0.9.0/24", id="v4-declared-range-at-the-top"),
        pytest.param("10.0.9.0/24", "10.0.9.128/25", id="v4-declared-range-covers-report"),
        pytest.param("2001:db8:5::ff", "2001:db8:5::/48", id="v6-inside"),
        pytest.param("2001:db8:5:ffff:ffff:ffff:ffff:ffff", "2001:db8:5::/48", id="v6-last"),
    ],
)
def test_range_touching_a_member_address_anywhere_is_a_dispute(declared: str, target: str) -> None:
    c = _with_member(council("nato", members=3), declared)
    decisions, disputes = _both_report(c, target)
    assert decisions == []
    assert disputes == [(target, declared), (target, declared)]
    assert c.active(3) == []


def test_two_members_reporting_a_range_with_a_members_address_ban_nothing() -> None:
    """The review's case: m0 and m1 report 10.0.2.0/24, where m2 sits at 10.0.2.1."""
    c = council("nato", members=3)
    first = report(c, "m0", 1, "10.0.2.0/24")
    second = report(c, "m1", 2, "10.0.2.0/24")
    assert first.decisions == second.decisions == ()
    assert [(x.target, x.protected) for x in second.disputes] == [("10.0.2.0/24", "10.0.2.1")]
    assert "declared by member m2" in second.disputes[0].reason
    assert c.active(3) == [] and c.lookup("10.0.2.1", 3) == []


@pytest.mark.parametrize(
    ("network", "target"),
    [
        pytest.param("198.51.100.64/26", "198.51.100.0/24", id="v4-treaty-range-in-the-middle"),
        pytest.param("198.51.100.255", "198.51.100.0/24", id="v4-treaty-address-last"),
        pytest.param("2001:db8:7:8000::/49", "2001:db8:7::/48", id="v6-treaty-range-upper-half"),
    ],
)
def test_range_touching_a_treaty_protected_range_anywhere_is_a_dispute(
    network: str, target: str
) -> None:
    c = _alliance(network)
    decisions, disputes = _both_report(c, target)
    assert decisions == []
    assert disputes == [(target, network), (target, network)]


@pytest.mark.parametrize(
    ("declared", "target"),
    [
        pytest.param("10.0.10.0", "10.0.9.0/24", id="v4-just-after"),
        pytest.param("10.0.8.255", "10.0.9.0/24", id="v4-just-before"),
        pytest.param("2001:db8:6::", "2001:db8:5::/48", id="v6-just-after"),
    ],
)
def test_range_next_to_a_member_address_is_decided(declared: str, target: str) -> None:
    c = _with_member(council("nato", members=3), declared)
    decisions, disputes = _both_report(c, target)
    assert decisions == [target]
    assert disputes == []
