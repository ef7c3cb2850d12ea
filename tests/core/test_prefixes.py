"""IPv6 attackers cannot hide in their own prefix: reports count per prefix, decisions widen."""

from __future__ import annotations

import pytest

from shieldwall.core.model import Signal
from shieldwall.core.treaty import load_treaty, template_text
from tests.core.helpers import council, report


def _decided(c, steps):
    out = []
    for member, now, target in steps:
        o = c.step([Signal(member, target, "ssh", now)], now)
        out.extend((d.target, d.clause) for d in o.decisions)
    return out


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [("m0", 1, "2001:db8:5:6::1"), ("m1", 2, "2001:db8:5:6::2")],
            [("2001:db8:5:6::/64", "targets.prefix")],
            id="two-addresses-one-64",
        ),
        pytest.param(
            [("m0", 1, "2001:db8:5:6::/64"), ("m1", 2, "2001:db8:5:6::7")],
            [("2001:db8:5:6::/64", "targets.prefix")],
            id="the-64-then-one-address-of-it",
        ),
        pytest.param(
            [("m0", 1, "2001:db8:5:6::7"), ("m1", 2, "2001:db8:5:6::/64")],
            [("2001:db8:5:6::/64", "art5.quorum")],
            id="one-address-then-the-64",
        ),
        pytest.param(
            [("m0", 1, "2001:db8:5:6::1"), ("m1", 2, "2001:db8:5:6::1")],
            [("2001:db8:5:6::1", "art5.quorum")],
            id="one-address-stays-an-address",
        ),
        pytest.param(
            [("m0", 1, "2001:db8:5:6::1"), ("m1", 2, "2001:db8:5:7::1")],
            [],
            id="two-64s-no-quorum",
        ),
        pytest.param(
            [("m0", 1, "2001:db8:5:6::1"), ("m0", 2, "2001:db8:5:6::2")],
            [],
            id="one-member-rotating-no-quorum",
        ),
        pytest.param(
            [("m0", 1, "203.0.113.1"), ("m1", 2, "203.0.113.2")],
            [],
            id="ipv4-off-by-default",
        ),
    ],
)
def test_reports_count_per_prefix(steps, expected) -> None:
    assert _decided(council("nato", members=3), steps) == expected


def test_a_decided_prefix_holds_its_addresses() -> None:
    c = council("nato", members=3)
    _decided(c, [("m0", 1, "2001:db8:5:6::1"), ("m1", 2, "2001:db8:5:6::2")])
    o = report(c, "m2", 3, "2001:db8:5:6::99")
    assert not o.decisions
    assert "inside 2001:db8:5:6::/64" in o.no_action[0].reason


def _treaty(**targets: object):
    """The nato template with ``[targets]`` keys set, loaded (and so validated)."""
    text = template_text("nato")
    head, rest = text.split("[targets]\n", 1)
    body, tail = rest.split("\n\n", 1)
    keys = dict(line.split(" = ", 1) for line in body.splitlines())
    keys.update({k: str(v) for k, v in targets.items()})
    lines = "\n".join(f"{k} = {v}" for k, v in keys.items())
    return load_treaty(f"{head}[targets]\n{lines}\n\n{tail}")


def _rotate(c, prefixes: list[str], start: float = 1.0) -> list[tuple[str, str]]:
    """Members m0 and m1 each report a different address of every prefix."""
    steps = []
    now = start
    for p in prefixes:
        for i, m in enumerate(("m0", "m1")):
            now += 1
            steps.append((m, now, f"{p}::{i + 1}"))
    return _decided(c, steps)


def test_many_64s_widen_to_the_56_then_the_48() -> None:
    c = council(_treaty(widen_after=3), members=3)
    subnets = [f"2001:db8:7:{i:x}00" for i in range(3)]  # three /56s of one /48
    decided = []
    for sub in subnets:
        decided += _rotate(c, [f"{sub[:-2]}{j:02x}" for j in range(3)], start=len(decided) * 10)
    widened = [t for t, clause in decided if clause == "targets.widen"]
    assert widened == [
        "2001:db8:7::/56",
        "2001:db8:7:100::/56",
        "2001:db8:7:200::/56",
        "2001:db8:7::/48",
    ]


def test_widening_stops_at_a_protected_prefix() -> None:
    partner = '  { network = "2001:db8:7:0:ffff::/80", label = "partner" },\n'
    text = template_text("nato").replace("ranges = [\n", "ranges = [\n" + partner, 1)
    assert "partner" in text
    c = council(load_treaty(text), members=3)
    decided = _rotate(c, [f"2001:db8:7:{j:x}" for j in (1, 2, 3)])
    assert [t for t, _ in decided] == [
        "2001:db8:7:1::/64",
        "2001:db8:7:2::/64",
        "2001:db8:7:3::/64",
    ]
    # The /56 would cover 2001:db8:7::/64, which holds the protected /80: no wider decision.
    assert not any(clause == "targets.widen" for _, clause in decided)


def test_widening_never_goes_beyond_max_range() -> None:
    with pytest.raises(ValueError, match=r"broader than targets\.max_range_v6 = 56"):
        _treaty(max_range_v6=56, widen_v6=[56, 48])


def test_ipv4_prefix_counting_when_the_treaty_asks() -> None:
    c = council(_treaty(prefix_v4=24), members=3)
    assert _decided(c, [("m0", 1, "198.51.100.7"), ("m1", 2, "198.51.100.8")]) == [
        ("198.51.100.0/24", "targets.prefix")
    ]


def test_a_prefix_over_a_member_is_counted_per_address() -> None:
    c = council("nato", members=0)
    c.apply("m0", ["2001:db8:9:1::10"], 0)
    c.approve("m0", 0)
    c.apply("m1", ["192.0.2.1"], 0)
    c.approve("m1", 0)
    steps = [("m0", 1, "2001:db8:9:1::1"), ("m1", 2, "2001:db8:9:1::2")]
    assert _decided(c, steps) == []  # the /64 holds m0: each address counts alone


def test_a_vetoed_prefix_holds_every_address_inside_it() -> None:
    """A veto on a /64 decision keeps the whole /64 from being decided again, whatever
    address of it is reported next (not only the prefix's own text)."""
    c = council("un", members=4, veto__permanent=("m0",), reputation_threshold=0.3)
    steps = [
        ("m1", 1, "2001:db8:5:6::1"),
        ("m2", 2, "2001:db8:5:6::2"),
        ("m3", 3, "2001:db8:5:6::3"),
    ]
    decided = [d for m, now, t in steps for d in c.step([Signal(m, t, "ssh", now)], now).decisions]
    assert [(d.target, d.clause) for d in decided] == [("2001:db8:5:6::/64", "targets.prefix")]
    assert c.veto("m0", decided[0].id, 4).revocations
    later = [
        ("m1", 5, "2001:db8:5:6::7"),
        ("m2", 6, "2001:db8:5:6::8"),
        ("m3", 7, "2001:db8:5:6::9"),
    ]
    outcomes = [c.step([Signal(m, t, "ssh", now)], now) for m, now, t in later]
    assert not any(o.decisions for o in outcomes)
    reasons = [n.reason for o in outcomes for n in o.no_action]
    assert reasons and all("2001:db8:5:6::/64 was vetoed" in r for r in reasons), reasons


def test_prefix_bookkeeping_is_forgotten_with_its_reports_and_decisions() -> None:
    """Counted prefixes forget addresses older than the window, and wider prefixes
    forget decisions once those are retired: memory follows what still matters."""
    c = council(_treaty(widen_after=3), members=3)
    _decided(c, [("m0", 1, "2001:db8:5:6::1"), ("m1", 2, "2001:db8:5:6::2")])
    report(c, "m0", 3, "2001:db8:5:7::1")  # one address counted toward another /64
    st = c.state
    assert "2001:db8:5:7::/64" in st.spread
    assert st.children and all(st.children.values())
    c.tick(3 + st.treaty.window + 1)  # past the window: the lone report is forgotten
    assert "2001:db8:5:7::/64" not in st.spread
    c.tick(10 * 86400.0)  # the /64 decision expired and was retired long ago
    assert st.children == {}
