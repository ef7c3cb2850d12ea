"""Target checks on the signal path, through the council's public calls: refused values
are echoed safely, special-purpose space is refused, members' addresses are protected
only when the treaty says so, and range decisions hold what lies inside them."""

from __future__ import annotations

import pytest

from shieldwall.core.council import Council
from shieldwall.core.model import Signal
from tests.core.helpers import council, report


def _decide(c: Council, target: str, now: float) -> None:
    report(c, "m0", now, target)
    assert report(c, "m1", now + 1, target).decisions, target


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        pytest.param("bad value~", "bad value~", id="printable-kept"),
        pytest.param("bad\x00value\u00e9", "bad?value?", id="unprintable-replaced"),
        pytest.param("x" * 100, "x" * 80, id="cut-at-80"),
        pytest.param(12345, "12345", id="not-a-string"),
    ],
)
def test_an_invalid_target_is_echoed_printable_and_short(raw: object, shown: str) -> None:
    c = council("nato", members=3)
    o = c.step([Signal("m0", raw, "ssh", 1)], 1)  # type: ignore[arg-type]
    assert [(n.member, n.target) for n in o.no_action] == [("m0", shown)]
    assert o.decisions == () and o.disputes == ()


@pytest.mark.parametrize(
    ("target", "space"),
    [
        pytest.param("224.0.0.1", "224.0.0.0/4, special-purpose multicast", id="multicast"),
        pytest.param("192.0.0.0/24", "192.0.0.0/24, special-purpose ietf-protocol", id="range"),
    ],
)
def test_special_purpose_space_is_refused_naming_it(target: str, space: str) -> None:
    c = council("nato", members=3)
    first, second = report(c, "m0", 1, target), report(c, "m1", 2, target)
    assert first.decisions == second.decisions == ()
    (refusal,) = second.no_action
    assert (refusal.member, refusal.target) == ("m1", target)
    assert refusal.reason.startswith(f"{target} lies in {space} space")


@pytest.mark.parametrize(
    ("members_protected", "decided"),
    [
        pytest.param(True, False, id="protected"),
        pytest.param(False, True, id="treaty-protects-no-members"),
    ],
)
def test_members_addresses_are_protected_only_when_the_treaty_says_so(
    members_protected: bool, decided: bool
) -> None:
    c = council("nato", members=3, protected__members=members_protected)
    report(c, "m0", 1, "10.0.2.1")
    o = report(c, "m1", 2, "10.0.2.1")
    assert bool(o.decisions) is decided
    assert bool(o.disputes) is not decided


def test_a_dispute_says_exactly_how_the_range_meets_the_member() -> None:
    c = council("nato", members=3)
    (d,) = report(c, "m0", 1, "10.0.2.0/24").disputes
    assert d.reason == (
        "10.0.2.0/24 overlaps 10.0.2.1, declared by member m2; "
        "clause protected.member: members are never the subject of a decision"
    )


def test_ranges_of_both_families_each_hold_their_addresses() -> None:
    c = council("nato", members=3)
    _decide(c, "2001:db8:5::/48", 0)
    _decide(c, "198.51.100.0/24", 10)
    for address in ("198.51.100.7", "2001:db8:5::7"):
        o = report(c, "m2", 20, address)
        assert o.decisions == () and "is inside" in o.no_action[0].reason, address


def test_revoking_one_range_leaves_the_others_of_its_length_in_force() -> None:
    c = council("nato", members=3)
    _decide(c, "198.51.100.0/24", 0)
    _decide(c, "203.0.113.0/24", 10)
    first = c.active(20)[0]
    c.revoke(first.id, 20, "secretariat", "mistake")
    o = report(c, "m2", 30, "203.0.113.7")
    assert o.decisions == () and "inside 203.0.113.0/24" in o.no_action[0].reason
