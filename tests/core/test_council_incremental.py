"""The council's incremental bookkeeping gives the answers a full rescan would.

Accession votes are tallied incrementally, the burden-sharing check looks only at
members whose ledger, status or grace changed, and members' declared addresses are
rebuilt lazily. Each is checked against a brute-force recount on scripted and on
seeded random sequences of calls.
"""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import pytest

from shieldwall.core.council import Council
from shieldwall.core.members import Member, Roster
from shieldwall.core.model import MemberStatus
from shieldwall.core.state import Collector, CouncilState
from shieldwall.core.treaty import load_template
from tests.core.helpers import council, report

DAY = 86_400.0


def recount(roster: Roster, m: Member) -> MemberStatus | None:
    """The tally as a full rescan of the roster computes it."""
    electorate = {n for n, x in roster.members.items() if x.status == "active"}
    yes = sum(1 for v, ok in m.votes.items() if ok and v in electorate)
    no = sum(1 for v, ok in m.votes.items() if not ok and v in electorate)
    if roster.treaty.accession == "unanimity":
        if no:
            return "rejected"
        return "active" if yes == len(electorate) else None
    if yes * 2 > len(electorate):
        return "active"
    if no * 2 >= len(electorate):
        return "rejected"
    return None


def test_suspended_voters_no_longer_count() -> None:
    """Five members; m0 and m1 vote yes (2 of 5). m0 is suspended: 1 of 4. m2 votes
    yes (2 of 4, not a majority); m3 votes yes: 3 of 4, admitted."""
    c = council("un", members=5)
    c.apply("x", [], 0.0)
    c.vote("x", "m0", True, 1.0)
    c.vote("x", "m1", True, 1.0)
    c.suspend("m0", 2.0, "test")
    out = c.vote("x", "m2", True, 3.0)
    assert out.notices == ("vote on x recorded: 3 for, 0 against",)
    assert c.member("x").status == "pending"  # type: ignore[union-attr]
    out = c.vote("x", "m3", True, 4.0)
    assert out.notices == ("member x admitted by majority vote",)


def test_changed_vote_replaces_the_earlier_one() -> None:
    c = council("un", members=4)
    c.apply("x", [], 0.0)
    c.vote("x", "m0", True, 1.0)
    out = c.vote("x", "m0", False, 1.0)
    assert out.notices == ("vote on x recorded: 0 for, 1 against",)
    c.vote("x", "m1", False, 1.0)  # 2 of 4 against: rejected
    assert c.member("x").status == "rejected"  # type: ignore[union-attr]


@pytest.mark.parametrize("template", ["un", "league"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_votes_match_a_full_recount(template: str, seed: int) -> None:
    rng = random.Random(seed)
    c = council(template, members=9)
    roster = c.state.roster
    now = 1.0
    for k in range(6):
        name = f"x{k}"
        c.apply(name, [], now)
        for _ in range(30):
            now += 1.0
            applicant = roster.members[name]
            if applicant.status != "pending":
                break
            if rng.random() < 0.15:
                victim = rng.choice(sorted(roster.members))
                if roster.members[victim].status == "active" and len(roster.active) > 2:
                    c.suspend(victim, now, "test")
                elif roster.members[victim].status == "suspended":
                    c.reinstate(victim, now)
            voter = rng.choice(sorted(roster.active))
            expected_votes = {**applicant.votes, voter: rng.random() < 0.7}
            approve = expected_votes[voter]
            probe = Member(name, (), 0.0, 0.5, False, votes=expected_votes)
            expected = recount(roster, probe)
            c.vote(name, voter, approve, now)
            status = roster.members[name].status
            assert status == (expected or "pending"), (seed, k, voter)


def full_scan_burden(st: CouncilState, now: float, out: Collector) -> None:
    """The burden check as it was: every active member, every time."""
    for name, m in st.roster.members.items():
        if m.status != "active":
            continue
        verdict = st.ledger.verdict(name, m.grace_from, now)
        if verdict == st.flagged.get(name, "ok"):
            continue
        if verdict == "ok":
            del st.flagged[name]
            out.notices.append(f"member {name} contributes enough again: standing ok")
            continue
        share = st.ledger.share(name) or 0.0
        why = (
            f"member {name} is a free rider (contribution share {share:.3f} below "
            f"{st.treaty.burden.minimum_share:g})"
        )
        if verdict == "suspended":
            st.roster.set_status(m, "suspended", now)
            st.flagged.pop(name, None)
            out.notices.append(f"{why}: suspended")
        else:
            st.flagged[name] = verdict
            out.notices.append(f"{why}: standing {verdict}")


@pytest.mark.parametrize("policy", ["warn", "suspend"])
@pytest.mark.parametrize("seed", [4, 5, 6])
def test_burden_check_matches_a_full_scan(policy: str, seed: int) -> None:
    """Two councils get the same random calls; one checks every member every time,
    as before. Every outcome and every member's status and standing must agree."""
    rng = random.Random(seed)
    settings: dict[str, Any] = {"burden__policy": policy, "burden__grace": 3_600.0}
    fast = council("nato", members=8, **settings)
    slow = council("nato", members=8, **settings)
    slow.state.burden = partial(full_scan_burden, slow.state)  # type: ignore[method-assign]
    names = [f"m{i}" for i in range(8)]
    now = 0.0
    for _ in range(400):
        now += rng.choice([0.5, 2.0, 60.0, 900.0])
        roll = rng.random()
        outs = []
        for c in (fast, slow):
            if roll < 0.4:
                c.received(names[int(roll * 20)], 3)
                outs.append(c.tick(now))
            elif roll < 0.9:
                target = f"203.0.113.{int(roll * 100) % 20}"
                a, b = names[int(roll * 80) % 8], names[int(roll * 130) % 8]
                outs.append(report(c, a, now, target))
                if a != b:
                    outs.append(report(c, b, now, target))
            elif roll < 0.95:
                victim = names[int(roll * 1000) % 8]
                if c.state.roster.members[victim].status == "suspended":
                    outs.append(c.reinstate(victim, now))
                else:
                    outs.append(c.tick(now))
            else:
                outs.append(c.tick(now))
        half = len(outs) // 2
        assert outs[:half] == outs[half:], (seed, now)
        assert [(m.name, m.status) for m in fast.members()] == [
            (m.name, m.status) for m in slow.members()
        ]
        assert [fast.standing(n, now) for n in names] == [slow.standing(n, now) for n in names]
        assert fast.state.flagged == slow.state.flagged


def test_grace_ending_alone_flags_a_free_rider() -> None:
    """m2 receives decisions and never reports; nothing in the ledger changes after
    t=10, yet the free-rider notice comes with the first step after the grace."""
    c = council("nato", members=3, burden__policy="warn", burden__grace=DAY)
    c.received("m2", 5)
    assert c.tick(10.0).notices == ()
    assert c.tick(DAY - 1).notices == ()
    notices = c.tick(DAY + 1).notices
    assert len(notices) == 1 and notices[0].startswith("member m2 is a free rider")
    assert notices[0].endswith("standing warned")


def test_declared_addresses_are_rebuilt_once_for_many_applicants() -> None:
    """Applicants only mark the protected set stale; the next check sees them all."""
    c = Council(load_template("nato"))
    for i in range(50):
        c.apply(f"m{i}", [f"10.1.{i}.0/24"], 0.0)
        c.approve(f"m{i}", 0.0)
    gate = c.state.gate
    assert gate._declared is not None  # nothing rebuilt yet
    out = report(c, "m0", 1.0, "10.1.49.7")
    assert gate._declared is None
    assert [(d.target, d.protected) for d in out.disputes] == [("10.1.49.7", "10.1.49.0/24")]


@pytest.mark.parametrize(
    ("template", "members"),
    [
        pytest.param("nato", 3, id="collective-decisions"),
        pytest.param("unilateral", 3, id="self-defence-few-members"),
        pytest.param("unilateral", 40, id="self-defence-many-members"),
    ],
)
def test_active_on_is_active_filtered_to_the_targets(template: str, members: int) -> None:
    c = council(template, members=members)
    targets = [f"203.0.113.{i}" for i in range(1, 30)]
    for i, target in enumerate(targets):
        report(c, f"m{i % members}", 1.0 + i, target)
        report(c, f"m{(i + 1) % members}", 1.5 + i, target)
    assert c.active(100.0), "the reports made decisions"
    for wanted in ([], targets[:1], targets[3:9], [*targets[20:], "198.51.100.1"]):
        expected = [d for d in c.active(100.0) if d.target in set(wanted)]
        assert c.active_on(wanted, 100.0) == expected
    assert c.active_on(targets, 1e12) == [], "expired decisions are not active"
