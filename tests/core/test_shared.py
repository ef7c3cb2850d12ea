"""Shared addresses: a quorum on an address with benign evidence is proportionate.

m2 saw benign activity from the attacker's address (a shared NAT address) before m0
and m1 report it at 10 and 20 (nato: quorum 2, first rung a 1 h ban).
"""

from __future__ import annotations

from typing import Any

import pytest

from shieldwall.core.council import Council
from tests.core.helpers import ATTACKER, council, report

HOUR, DAY = 3600.0, 86400.0


def decisions(c: Council, member: str, now: float) -> list[str]:
    return [
        f"#{d.id} {d.clause} {d.action} {d.duration:g}s for {','.join(d.applies_to) or 'all'}"
        for d in report(c, member, now).decisions
    ]


@pytest.mark.parametrize(
    ("changes", "benign", "expected"),
    [
        pytest.param(
            {"shared__enabled": False}, 5, ["#1 art5.quorum ban 3600s for all"], id="disabled"
        ),
        pytest.param({}, None, ["#1 art5.quorum ban 3600s for all"], id="no-evidence"),
        pytest.param(
            {"shared__min_benign": 10}, 5, ["#1 art5.quorum ban 3600s for all"], id="too-little"
        ),
        pytest.param(
            {},
            5,
            ["#1 shared.local ban 3600s for m0", "#2 shared.local ban 3600s for m1"],
            id="local",
        ),
        pytest.param(
            {"shared__response": "throttle"},
            5,
            ["#1 shared.throttle throttle 3600s for all"],
            id="throttle",
        ),
        pytest.param(
            {"shared__response": "shorter", "shared__shorten": 0.25},
            5,
            ["#1 shared.shorter ban 900s for all"],
            id="shorter",
        ),
    ],
)
def test_response_to_a_shared_address(
    changes: dict[str, Any], benign: int | None, expected: list[str]
) -> None:
    c = council("nato", **{"shared__enabled": True, **changes})
    if benign is not None:
        c.benign("m2", ATTACKER, benign, 1.0)
    assert decisions(c, "m0", 10.0) == []
    assert decisions(c, "m1", 20.0) == expected


@pytest.mark.parametrize("response", ["local", "throttle", "shorter"])
def test_a_shared_response_carries_the_reported_scenario(response: str) -> None:
    c = council("nato", shared__enabled=True, shared__response=response)
    c.benign("m2", ATTACKER, 5, 1.0)
    report(c, "m0", 10.0, scenario="ssh-bruteforce")
    out = report(c, "m1", 20.0, scenario="ssh-bruteforce")
    assert out.decisions and {d.scenario for d in out.decisions} == {"ssh-bruteforce"}


def test_evidence_is_forgotten_after_memory() -> None:
    c = council("nato", shared__enabled=True, shared__memory=HOUR)
    c.benign("m2", ATTACKER, 5, 1.0)
    report(c, "m0", 2 * HOUR)
    assert decisions(c, "m1", 2 * HOUR + 10) == ["#1 art5.quorum ban 3600s for all"]


def test_later_reporters_get_local_decisions_of_their_own() -> None:
    c = council("nato", shared__enabled=True)
    c.benign("m2", ATTACKER, 5, 1.0)
    report(c, "m0", 10.0)
    report(c, "m1", 20.0)
    assert decisions(c, "m0", 30.0) == []  # m0 is banning it already
    assert decisions(c, "m2", 40.0) == ["#3 shared.local ban 3600s for m2"]
    assert [d.applies_to for d in c.active(41.0)] == [("m0",), ("m1",), ("m2",)]


@pytest.mark.parametrize(
    ("member", "target", "count", "message"),
    [
        pytest.param("ghost", ATTACKER, 1, "unknown member 'ghost'", id="unknown-member"),
        pytest.param("m0", ATTACKER, -1, "count -1 must be a whole number", id="negative"),
        pytest.param("m0", "not-an-ip", 1, "benign evidence: ", id="bad-address"),
    ],
)
def test_benign_validates(member: str, target: str, count: int, message: str) -> None:
    with pytest.raises(ValueError) as err:
        council("nato").benign(member, target, count, 1.0)
    assert message in str(err.value)
