"""The engine drives the real council; small scenarios checked by hand.

Scenario "relay": one attacker hits member 0 ten times (t=0..90, every 10 s), then
member 1 (t=100..130) and member 2 (t=1000, 1010). Detectors fire on the second
event; links have no delay; signals reach the council in 5-second slices.

* unilateral: each member bans for itself when its detector fires at t=10, 110 and
  1010; the decisions take effect at the slice ends 15, 115 and 1015. Absorbed:
  0, 10 | 100, 110 | 1000, 1010 = 6; blocked 20..90 (8) + 120, 130 = 10.
* nato (quorum 2): member 0's report opens a consultation (nobody else saw the
  attacker yet); member 1's report at 110 makes the quorum, decided at 115 for all.
  Absorbed: all ten at member 0 + 100, 110 = 12; blocked: 120, 130, 1000, 1010 = 4;
  member 2 never even detects. Every member protected 115 s after the first event.
"""

from __future__ import annotations

import numpy as np
import pytest

from shieldwall.core.treaty import load_template
from shieldwall.exercise.engine import run_treaty
from shieldwall.exercise.evaluate import evaluate
from shieldwall.exercise.members import RogueReports
from shieldwall.exercise.sweep import load
from tests.exercise.helpers import RELAY, tiny_campaign, tiny_members, tiny_world


@pytest.mark.parametrize(
    ("treaty", "absorbed", "blocked", "p50", "decisions", "consultations"),
    [
        pytest.param("unilateral", 6, 10, None, 3, 0, id="unilateral-each-for-itself"),
        pytest.param("nato", 12, 4, 115.0, 1, 1, id="nato-quorum-two"),
    ],
)
def test_relay_scenario(
    treaty: str,
    absorbed: int,
    blocked: int,
    p50: float | None,
    decisions: int,
    consultations: int,
) -> None:
    world = tiny_world(tiny_campaign(RELAY, 3), tiny_members(3))
    r = evaluate(run_treaty(world, load_template(treaty)), world)
    assert (r.attacks_absorbed, r.attacks_blocked) == (absorbed, blocked)
    assert r.protection_delay_p50_s == p50
    assert (r.decisions, r.consultations) == (decisions, consultations)
    assert r.false_bans == 0


def test_quorum_one_lets_a_single_rogue_ban_an_innocent() -> None:
    """A rogue reports an innocent address (7 benign users) at t=50: decided at 55 for
    an hour under quorum 1 (7 user-hours); under quorum 2 it only opens a consultation."""
    c = tiny_campaign(RELAY, 3, innocents=[7])
    m = tiny_members(3, rogue=(2,))
    world = tiny_world(c, m)
    world.rogue = RogueReports(np.array([50.0]), np.array([2]), np.array([0]))
    q1 = evaluate(run_treaty(world, load("nato", {"quorum": 1})), world)
    q2 = evaluate(run_treaty(world, load("nato", {"quorum": 2})), world)
    assert (q1.rogue_false_bans, q1.rogue_user_hours) == (1, 7.0)
    assert (q2.rogue_false_bans, q2.rogue_user_hours) == (0, 0.0)


def test_appeal_revokes_a_false_ban_and_costs_the_rogue() -> None:
    """Appealed after 600 s, the one-hour ban lasts 600-605 s (slice boundary)."""
    c = tiny_campaign(RELAY, 3, innocents=[6])
    world = tiny_world(c, tiny_members(3, rogue=(2,)), appeal_after_s=600.0)
    world.rogue = RogueReports(np.array([50.0]), np.array([2]), np.array([0]))
    run = run_treaty(world, load("nato", {"quorum": 1}))
    r = evaluate(run, world)
    assert r.revocations == 1
    assert r.false_ban_hours == pytest.approx(605.0 / 3600.0, abs=1e-3)
    rogue = run.council.member("m0002")
    assert rogue is not None and rogue.reputation < 0.5


def test_colluding_rogues_beat_quorum_two() -> None:
    c = tiny_campaign(RELAY, 4, innocents=[3])
    world = tiny_world(c, tiny_members(4, rogue=(2, 3), collude=True))
    world.rogue = RogueReports(np.array([50.0, 51.0]), np.array([2, 3]), np.array([0, 0]))
    r = evaluate(run_treaty(world, load("nato", {"quorum": 2})), world)
    assert r.rogue_false_bans == 1


def test_nat_address_ban_is_a_false_ban() -> None:
    """The relay attacker sits behind a CGNAT address shared with 40 benign users."""
    world = tiny_world(tiny_campaign(RELAY, 3, users={0: 40}), tiny_members(3))
    r = evaluate(run_treaty(world, load_template("nato")), world)
    assert (r.false_bans, r.rogue_false_bans) == (1, 0)
    assert r.false_ban_user_hours == pytest.approx(40.0)  # one hour, every member


def test_free_rider_is_protected_without_reporting() -> None:
    """Member 2 never reports; the nato decision still protects it (2 of 2 blocked)."""
    world = tiny_world(tiny_campaign(RELAY, 3), tiny_members(3, free=(2,)))
    r = evaluate(run_treaty(world, load_template("nato")), world)
    assert r.free_rider_protection == 1.0
    assert r.contributor_protection == pytest.approx(2 / 14, abs=1e-4)
    assert r.free_rider_gain == pytest.approx(7.0, abs=1e-3)  # 1 / (2/14)


def test_corroboration_from_logs_reaches_quorum() -> None:
    """Member 1 saw one event (below its threshold) before the consultation opened;
    asked to corroborate, it answers after its response delay and makes the quorum."""
    pairs = [(0, 0, [0.0, 1.0, 2.0, 3.0]), (0, 1, [0.5])]
    m = tiny_members(2)
    m.response_s[:] = 30.0
    world = tiny_world(tiny_campaign(pairs, 2), m)
    run = run_treaty(world, load_template("nato"))
    r = evaluate(run, world)
    assert r.decisions == 1
    d = run.records[0].decision
    assert d.members == ("m0000", "m0001") and d.clause == "art5.quorum"
    assert d.issued_at - 1_700_000_000.0 == pytest.approx(40.0)  # opened 5, answered 35


def test_same_seed_same_results() -> None:
    from shieldwall.exercise.campaign import CampaignParams
    from shieldwall.exercise.sweep import compare
    from shieldwall.exercise.world import Config

    cfg = Config(members=30, seed=3, campaign=CampaignParams(events=8000, sources=200))
    a = compare(cfg, ["nato", "un"])[1]
    b = compare(cfg, ["nato", "un"])[1]
    assert {k: v.as_json(series=True) for k, v in a.items()} == {
        k: v.as_json(series=True) for k, v in b.items()
    }


def test_outage_delays_protection_of_every_member() -> None:
    """Member 2 is offline 0-500 s: the nato decision of t=115 reaches it at 500. Every
    member is protected 500 s after the first event; every online member after 115 s."""
    m = tiny_members(3)
    m.outage_start[2], m.outage_end[2] = 0.0, 500.0
    world = tiny_world(tiny_campaign(RELAY, 3), m)
    r = evaluate(run_treaty(world, load_template("nato")), world)
    assert r.protection_delay_multi_p50_s == 500.0
    assert r.protection_delay_multi_online_p50_s == 115.0
    assert r.attacks_blocked == 4  # member 2's events at 1000 and 1010 are still blocked
