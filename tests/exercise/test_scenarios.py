"""What each treaty's machinery does to the figures, on scenarios computed by hand.

Members detect on their second event (maxretry 2), links have no delay, nobody is
offline, and signals reach the council in 5-second slices (decisions at slice ends).
Unless a scenario says otherwise, members do not ban locally and answer
consultations too late to matter.
"""

from __future__ import annotations

import numpy as np
import pytest

from shieldwall.exercise.campaign import CORRELATED, TARGETED
from shieldwall.exercise.timeline import T0
from tests.exercise.helpers import RELAY, played, tiny_campaign, tiny_members, tiny_world

# One attacker reaches members 0, 1 and 2 in turn (detected at 1, 3 and 5). Under un
# (quorum 3) members 0 and 1 open a consultation at the slice ending at 5; member 2's
# report makes the quorum at 10: the first rung, a one-hour throttle, for everyone.
# Then the attacker comes back to member 0 with 40 events, t = 100..139.
THROTTLED = [
    (0, 0, [0.0, 1.0, *[float(t) for t in range(100, 140)]]),
    (0, 1, [2.0, 3.0]),
    (0, 2, [4.0, 5.0]),
]


@pytest.mark.parametrize(
    ("local", "absorbed", "local_bans", "local_only"),
    [
        # The throttle lets every tenth event of the pair through: positions 10, 20, 30
        # and 40 of member 0's events, t = 108, 118, 128, 138. Absorbed 0..5 and those 4.
        pytest.param(False, 10, 0, 0, id="treaty-alone"),
        # Members ban locally for 30 s (at 1, 3 and 5). Member 0's detector sees what the
        # throttle lets through: 108 and 118 fall within findtime, so it fires at 118 and
        # its own ban stops 128 and 138. Absorbed 0..5, 108, 118.
        pytest.param(True, 8, 4, 2, id="detector-sees-through-the-throttle"),
    ],
)
def test_throttle_lets_one_in_ten_through(
    local: bool, absorbed: int, local_bans: int, local_only: int
) -> None:
    members = tiny_members(3, self_defence=local, self_defence_ban_s=30.0)
    world = tiny_world(tiny_campaign(THROTTLED, 3), members)
    run, r = played(world, "un")
    assert [(rec.decision.action, rec.issued) for rec in run.records] == [("throttle", 10.0)]
    assert (r.attacks_absorbed, r.attacks_blocked) == (absorbed, 46 - absorbed)
    assert (r.local_bans, r.blocked_locally_only) == (local_bans, local_only)
    if local:
        assert run.local_time[-1] == 118.0


@pytest.mark.parametrize(
    ("adopts", "absorbed", "p50"),
    [
        pytest.param((True, True, True), 12, 115.0, id="everyone-applies-it"),
        # Member 2 ignores recommendations: its events at 1000 and 1010 get through and
        # the alliance is never protected everywhere.
        pytest.param((True, True, False), 14, None, id="one-member-ignores-it"),
    ],
)
def test_recommendations_bind_only_members_that_take_them_up(
    adopts: tuple[bool, ...], absorbed: int, p50: float | None
) -> None:
    members = tiny_members(3)
    members.adopts_recommended[:] = adopts
    world = tiny_world(tiny_campaign(RELAY, 3), members)
    run, r = played(world, "anzus")
    assert [rec.decision.recommended for rec in run.records] == [True]
    assert (r.attacks_absorbed, r.attacks_blocked) == (absorbed, 16 - absorbed)
    assert r.protection_delay_p50_s == p50


def test_permanent_member_vetoes_a_ban_on_its_own_customers() -> None:
    """The THROTTLED attacker sits behind a NAT address of member 2's customers (40
    benign users). Member 2, a permanent member, vetoes 20 s after the decision of 10:
    the veto lands at the slice ending at 35. The throttle stopped member 0's events at
    12 and 20 (positions 2 and 3); 40 came after the veto. 40 users x 25 s x every
    member = 0.278 user-hours; the reporters lose the contribution they had earned."""
    pairs = [(0, 0, [0.0, 1.0, 12.0, 20.0, 40.0]), (0, 1, [2.0, 3.0]), (0, 2, [4.0, 5.0])]
    members = tiny_members(3)
    members.response_s[2] = 20.0
    world = tiny_world(tiny_campaign(pairs, 3, users={0: 40}, hosts={0: 2}), members)
    run, r = played(world, "un")
    assert [(rec.issued, rec.end) for rec in run.records] == [(10.0, 35.0)]
    assert r.revocations == 1
    assert (r.attacks_absorbed, r.attacks_blocked) == (7, 2)
    assert (r.false_bans, r.false_ban_user_hours) == (1, pytest.approx(40 * 25 / 3600, abs=1e-3))
    assert r.contribution_gini == 0.0  # everyone back at zero


def test_member_under_heavy_attack_invokes_collective_defence() -> None:
    """Twenty attackers hit member 0 alone, ten seconds apart (two events each), so it
    reports at 1, 11, ..., 191. Nobody corroborates; its 20th report within nato's
    15-minute window makes it invoke at the slice ending at 195, and the council decides
    every open consultation it reported at once (clause art5.invocation)."""
    pairs = [(s, 0, [10.0 * s, 10.0 * s + 1]) for s in range(20)]
    world = tiny_world(tiny_campaign(pairs, 3), tiny_members(3))
    run, r = played(world, "nato")
    assert r.decisions == 20 and r.consultations == 20
    assert {rec.decision.clause for rec in run.records} == {"art5.invocation"}
    assert {rec.issued for rec in run.records} == {195.0}
    assert r.attacks_absorbed == 40  # every event came before the decisions


def test_unanimity_decides_when_the_deliberation_ends() -> None:
    """Both members of a 2-member league report in the slice ending at 5: unanimous at
    once, but league deliberates 10 minutes after the consultation opened. No signal
    arrives afterwards; the council is stepped at the slice ending at 610 all the same,
    as the hub's ticker would, and recommends league's first rung, a watch."""
    pairs = [(0, 0, [0.0, 1.0]), (0, 1, [2.0, 3.0])]
    world = tiny_world(tiny_campaign(pairs, 2), tiny_members(2))
    run, _ = played(world, "league")
    assert [
        (rec.decision.action, rec.decision.clause, rec.decision.issued_at - T0)
        for rec in run.records
    ] == [("watch", "unanimity", 610.0)]


def test_delays_shares_and_kinds_by_hand() -> None:
    """Three attackers under nato, every member reporting:

    * 0, the RELAY: every member protected 115 s after its first event;
    * 1 reaches member 1 at 2000 and 2010 (detected, consultation), then member 2 at
      2020 and 2030 (quorum at the slice ending at 2035): protected after 35 s, and
      member 2's event at 2040 is blocked;
    * 2, targeted, hits member 0 alone at 3000 and 3010: a consultation nobody
      answers, never protected everywhere.

    Delays 35, 115, never: p50 115, p95 never, 2 of 3 protected; the multi-network
    attackers alone: p50 35, p95 115. Contributions (reporters of the decisions): member
    0 once, member 1 twice, member 2 once: Gini of (1, 1, 2) = 1/6.
    """
    pairs = [
        *RELAY,
        (1, 1, [2000.0, 2010.0]),
        (1, 2, [2020.0, 2030.0, 2040.0]),
        (2, 0, [3000.0, 3010.0]),
    ]
    campaign = tiny_campaign(pairs, 3, kinds={1: CORRELATED, 2: TARGETED})
    world = tiny_world(campaign, tiny_members(3))
    _, r = played(world, "nato")
    assert r.detected_attackers == 3 and r.decisions == 2
    assert (r.protection_delay_p50_s, r.protection_delay_p95_s) == (115.0, None)
    assert (r.protection_delay_multi_p50_s, r.protection_delay_multi_p95_s) == (35.0, 115.0)
    assert r.protected_share == pytest.approx(2 / 3, abs=1e-4)
    assert r.absorbed_by_kind == {
        "correlated": 12 + 4,
        "low-and-slow": 0,
        "targeted": 2,
        "opportunistic": 0,
    }
    assert (r.attacks_absorbed, r.attacks_blocked) == (18, 5)
    assert r.contribution_gini == pytest.approx(1 / 6, abs=1e-4)
    assert r.blocked_share == pytest.approx(5 / 23, abs=1e-4)
    assert np.isclose(r.free_rider_protection, 0.0)  # no free riders here
