"""Shared addresses in the exercise: evidence from the member hosting the NAT users.

One attacker behind a NAT address with 30 benign users, customers of member 3, hits
member 0 (0, 10) and member 1 (20, 30); detectors fire on the second event. Member 3
reports the users' logins as benign evidence, so nato's quorum at 35 bans the address
only at members 0 and 1 (clause shared.local), for an hour: 2 bans x 30 users x 1/4
of the members = 15 user-hours. Without [shared] the ban is alliance-wide: 30.
"""

from __future__ import annotations

import pytest

from tests.exercise.helpers import played, tiny_campaign, tiny_members, tiny_world

PAIRS = [(0, 0, [0.0, 10.0]), (0, 1, [20.0, 30.0])]


@pytest.mark.parametrize(
    ("changes", "clauses", "user_hours"),
    [
        pytest.param({}, ["shared.local", "shared.local"], 15.0, id="local-bans"),
        pytest.param({"shared__enabled": False}, ["art5.quorum"], 30.0, id="alliance-wide"),
        pytest.param({"shared__response": "shorter"}, ["shared.shorter"], 7.5, id="shorter"),
    ],
)
def test_nat_address_with_benign_evidence(
    changes: dict[str, object], clauses: list[str], user_hours: float
) -> None:
    world = tiny_world(tiny_campaign(PAIRS, 4, users={0: 30}, hosts={0: 3}), tiny_members(4))
    run, r = played(world, "nato", **changes)
    assert [rec.decision.clause for rec in run.records] == clauses
    assert [rec.issued for rec in run.records] == [35.0] * len(clauses)
    assert r.false_ban_user_hours == pytest.approx(user_hours)
    assert r.attacks_absorbed == 4
