"""A decision's life through the council's public calls: issued (with the clause the
treaty in force gives it), rewarded or not, revoked (every record and index it touched
is undone), expired; and the treaty amended underneath."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from shieldwall.core.council import Council
from shieldwall.core.model import Revocation, Signal
from tests.core.helpers import ATTACKER, council, report, state, treaty

A = ATTACKER
HOUR = 3600.0


def before(t: float) -> float:
    """The last instant before ``t``."""
    return math.nextafter(t, -math.inf)


def _decide(c: Council, now: float, target: str = A, by: tuple[str, str] = ("m0", "m1")) -> int:
    report(c, by[0], now, target)
    o = report(c, by[1], now + 1, target)
    assert o.decisions, o
    return o.decisions[0].id


# the treaty in force names the clause -----------------------------------------------


@pytest.mark.parametrize(
    ("collective", "clause", "recommended"),
    [
        pytest.param("automatic", "art5.quorum", False, id="automatic"),
        pytest.param("recommend", "recommendation", True, id="recommend"),
    ],
)
def test_an_amendment_changes_the_clause_of_later_decisions_only(
    collective: str, clause: str, recommended: bool
) -> None:
    start = "anzus" if collective == "automatic" else "nato"
    c = council(start, members=3)
    before = c.decision(_decide(c, 0, "198.51.100.1"))
    assert before is not None
    old = c.treaty
    amended = replace(old, version=old.version + 1, collective=collective)
    assert "treaty amended" in c.amend(amended, 10).notices[0]
    after = c.decision(_decide(c, 20, "198.51.100.2"))
    assert after is not None
    assert (after.clause, after.recommended) == (clause, recommended)
    assert (before.clause, before.recommended) != (clause, recommended), "issued stays"


# reputation: only corroborated decisions reward -----------------------------------------


def test_quorum_and_unanimity_reward_their_reporters_invocation_does_not() -> None:
    c = council("nato", members=3)
    start = state(c, "m0").reputation
    _decide(c, 0)
    gain = c.treaty.reputation.gain
    assert state(c, "m0").reputation == pytest.approx(start + gain)

    league = council("league", members=3)
    start = state(league, "m0").reputation
    for i, name in enumerate(("m0", "m1", "m2")):
        report(league, name, i)
    assert league.tick(600).decisions
    assert state(league, "m0").reputation == pytest.approx(start + league.treaty.reputation.gain)

    c = council("nato", members=3)
    for i in range(20):
        report(c, "m0", i * 0.5, f"198.51.100.{i + 1}")
    c.invoke("m0", 11)
    before = state(c, "m0").reputation
    assert report(c, "m0", 12).decisions[0].clause == "art5.invocation"
    assert state(c, "m0").reputation == before, "an uncorroborated decision earns nothing"


def test_self_defence_earns_no_reputation() -> None:
    c = council("unilateral", members=2)
    before = state(c, "m0").reputation
    assert report(c, "m0", 1).decisions
    assert state(c, "m0").reputation == before


# unanimity's decision -----------------------------------------------------------------


def test_unanimity_is_decided_once_and_not_again_after_it_expires() -> None:
    c = council("league", members=3)
    for i, name in enumerate(("m0", "m1", "m2")):
        report(c, name, i)
    (d,) = c.tick(600).decisions
    assert c.tick(d.expires_at + 1).decisions == ()
    assert c.active(d.expires_at + 1) == []


def test_unanimity_lists_only_members_still_active_when_it_decides() -> None:
    c = council("league", members=3)
    for i, name in enumerate(("m0", "m1", "m2")):
        report(c, name, i)
    c.suspend("m2", 100, "test")
    (d,) = c.tick(600).decisions
    assert d.members == ("m0", "m1")


def test_unanimity_counts_a_report_exactly_one_window_old() -> None:
    c = council("league", members=3, window=600.0)
    report(c, "m0", 0)
    report(c, "m1", 1)
    (d,) = report(c, "m2", 600).decisions  # deliberation over; m0's report is window-old
    assert d.members == ("m0", "m1", "m2")


def test_unanimity_does_not_decide_a_target_protected_during_deliberation() -> None:
    c = council("league", members=3)
    for i, name in enumerate(("m0", "m1", "m2")):
        report(c, name, i)
    c.apply("late", [A], 100)
    for voter in ("m0", "m1", "m2"):
        c.vote("late", voter, True, 100)
    assert state(c, "late").status == "active"
    assert c.tick(600).decisions == ()


# revocation undoes everything ---------------------------------------------------------


def test_revocation_record_names_decision_target_time_author_reason_and_clause() -> None:
    c = council("nato", members=3)
    did = _decide(c, 0)
    (r,) = c.revoke(did, 50, "secretariat", "false alarm", appeal=True).revocations
    expected = Revocation(did, A, 50.0, "secretariat", "false alarm", "appeal")
    assert r == expected
    assert c.revocation(did) == expected


def test_a_revoked_self_defence_is_no_longer_active() -> None:
    c = council("unilateral", members=2)
    (d,) = report(c, "m0", 1).decisions
    c.revoke(d.id, 2, "secretariat", "mistake")
    assert c.active(3) == [] and c.active_on([A], 3) == []
    again = report(c, "m0", 4).decisions
    assert [x.offence for x in again] == [1], "the revoked one's offence is forgotten"


def test_a_revoked_range_no_longer_holds_the_addresses_inside() -> None:
    c = council("nato", members=3)
    did = _decide(c, 0, "198.51.100.0/24")
    held = report(c, "m0", 5, "198.51.100.7")
    assert "inside 198.51.100.0/24" in held.no_action[0].reason
    c.revoke(did, 10, "secretariat", "mistake")
    assert _decide(c, 20, "198.51.100.7")


def test_an_expired_range_no_longer_holds_the_addresses_inside() -> None:
    c = council("nato", members=3)
    did = _decide(c, 0, "198.51.100.0/24")
    d = c.decision(did)
    assert d is not None
    assert _decide(c, d.expires_at + 1, "198.51.100.7")


def test_an_appeal_takes_back_one_contribution_per_decision() -> None:
    c = council("nato", members=3)
    first = _decide(c, 0, "198.51.100.1")
    _decide(c, 10, "198.51.100.2")
    c.revoke(first, 20, "secretariat", "mistake", appeal=True)
    contribution = {e.member: e.contribution for e in c.ledger(21)}
    assert contribution == {"m0": 1, "m1": 1, "m2": 0}


# ids, scope and the reports a decision consumes ----------------------------------------


def test_reserved_ids_are_never_issued() -> None:
    c = council("nato", members=3)
    c.reserve([2, 4], [])
    ids = [_decide(c, i * 10, f"198.51.100.{i + 1}") for i in range(4)]
    assert ids == [1, 3, 5, 6]


@pytest.mark.parametrize(
    ("target", "scope"),
    [
        pytest.param("198.51.100.7", "ip", id="address"),
        pytest.param("198.51.100.0/24", "range", id="range"),
    ],
)
def test_a_decision_carries_its_scope(target: str, scope: str) -> None:
    c = council("nato", members=3)
    d = c.decision(_decide(c, 0, target))
    assert d is not None and d.scope == scope


def test_a_decision_consumes_the_reports_that_made_it() -> None:
    """Reports that made a decision do not count again once it has expired, even
    within the window: a lone report afterwards opens a consultation."""
    c = council("nato", members=3, window=2 * HOUR)
    did = _decide(c, 0)
    d = c.decision(did)
    assert d is not None and d.expires_at < 2 * HOUR
    o = report(c, "m0", d.expires_at + 1)
    assert o.decisions == () and [x.status for x in o.consultations] == ["open"]


# the veto's period ends exactly on time ----------------------------------------------------


def _un_with_veto() -> Council:
    c = Council(treaty("un", reputation_threshold=0.3))
    c.apply("p5", ["10.5.0.1"], 0, permanent=True)
    c.approve("p5", 0)
    for i, name in enumerate(("a", "b", "c")):
        c.apply(name, [f"10.6.{i}.1"], 0)
        for voter in [m.name for m in c.members() if m.status == "active"]:
            c.vote(name, voter, True, 0)
    return c


@pytest.mark.parametrize(
    ("after", "decided"),
    [
        pytest.param(-1.0, False, id="one-second-before-the-end"),
        pytest.param(0.0, True, id="exactly-at-the-end"),
    ],
)
def test_a_vetoed_target_may_be_decided_again_when_the_period_ends(
    after: float, decided: bool
) -> None:
    c = _un_with_veto()
    (d,) = c.step([Signal(n, A, "ssh", 1) for n in ("a", "b", "c")], 1).decisions
    assert c.veto("p5", d.id, 3).revocations
    end = 3 + c.treaty.veto.period
    o = c.step([Signal(n, A, "ssh", end + after) for n in ("a", "b", "c")], end + after)
    assert bool(o.decisions) is decided


# free riders: every member is looked at -----------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [
        pytest.param("suspended", id="after-a-suspended-member"),
        pytest.param("flagged-before", id="after-a-member-already-flagged"),
        pytest.param("recovering", id="after-a-member-who-recovers"),
    ],
)
def test_each_free_rider_is_told_whatever_came_before_it(first: str) -> None:
    """m1 (looked at first) is suspended, already flagged, or recovers, in the same
    evaluation as m2 becomes a free rider: m2 is told all the same."""
    c = council("nato", members=3, burden__policy="warn", burden__grace=0.0)
    c.received("m1", 10)
    if first == "suspended":
        c.suspend("m1", 2, "test")
    else:
        c.tick(2)
        assert c.standing("m1", 2) == "warned"
    # One instant, so that a single evaluation sees every change below.
    report(c, "m0", 5, "198.51.100.9")
    report(c, "m2", 5, "198.51.100.9")  # a decision: m2 contributes 1...
    if first == "recovering":
        report(c, "m0", 5, "198.51.100.10")
        report(c, "m1", 5, "198.51.100.10")
    c.received("m2", 100)  # ...for 100 received
    c.received("m1", 1)
    notices = c.tick(10).notices
    assert "member m2 is a free rider (contribution share 0.010 below 0.02): standing warned" in (
        notices
    )
    if first == "recovering":
        assert notices[0] == "member m1 contributes enough again: standing ok"


# an expired decision stays visible by id for a day, then is forgotten ---------------------

RETAIN = 86400.0


@pytest.mark.parametrize(
    ("after_expiry", "kept"),
    [
        pytest.param(before(RETAIN), True, id="one-tick-before-a-day"),
        pytest.param(RETAIN, False, id="exactly-a-day"),
    ],
)
def test_an_expired_or_revoked_decision_is_kept_by_id_for_a_day(
    after_expiry: float, kept: bool
) -> None:
    c = council("nato", members=3)
    did = _decide(c, 0)
    other = _decide(c, 10, "198.51.100.1")
    c.revoke(other, 20, "secretariat", "mistake")
    d, o = c.decision(did), c.decision(other)
    assert d is not None and o is not None
    assert d.expires_at == o.expires_at - 10, "the two expire 10 seconds apart"
    c.tick(d.expires_at)  # both retire as they expire
    c.tick(o.expires_at)
    c.tick(d.expires_at + after_expiry)
    assert (c.decision(did) is not None) is kept
    c.tick(o.expires_at + after_expiry)
    assert (c.decision(other) is not None) is kept
    assert (c.revocation(other) is not None) is kept


def test_unanimity_decides_ready_consultations_in_the_order_they_were_opened() -> None:
    c = council("league", members=3)
    report(c, "m0", 0, "198.51.100.1")  # consultation 1
    report(c, "m0", 1, "198.51.100.2")  # consultation 2, ready first
    for name in ("m1", "m2"):
        report(c, name, 2, "198.51.100.2")
    for name in ("m1", "m2"):
        report(c, name, 3, "198.51.100.1")
    decided = c.tick(700).decisions
    assert [(d.id, d.target) for d in decided] == [(1, "198.51.100.1"), (2, "198.51.100.2")]


@pytest.mark.parametrize(
    ("at", "told"),
    [
        pytest.param(before(101.0), False, id="within-a-second-of-the-last-look"),
        pytest.param(101.0, True, id="a-second-after-the-last-look"),
    ],
)
def test_free_riders_are_looked_at_every_second(at: float, told: bool) -> None:
    c = council("nato", members=3, burden__policy="warn", burden__grace=0.0)
    c.tick(100)  # the council looks at the ledger
    c.received("m2", 10)
    notices = c.tick(at).notices
    assert any("member m2 is a free rider" in n for n in notices) is told
