"""One rule at a time: reputation, probation, ledger, recidivism, expiry, accession,
invocation bounds, veto, refusals and determinism."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from shieldwall.core.council import Council
from shieldwall.core.ladder import rung_for
from shieldwall.core.model import Outcome, Signal
from tests.core.helpers import ATTACKER, council, report, state, treaty

HOUR, DAY = 3600.0, 86400.0


def decide(
    c: Council, now: float, target: str = ATTACKER, by: tuple[str, ...] = ("m0", "m1")
) -> int:
    """Have ``by`` report ``target`` at ``now``; the id of the decision it produced."""
    o = c.step([Signal(m, target, "ssh", now) for m in by], now)
    assert len(o.decisions) == 1, o
    return o.decisions[0].id


# recidivism and expiry ------------------------------------------------------


@pytest.mark.parametrize(
    ("offence", "action", "duration"),
    [
        pytest.param(1, "ban", HOUR, id="first-rung"),
        pytest.param(2, "ban", 6 * HOUR, id="second-rung"),
        pytest.param(4, "ban", 7 * DAY, id="last-rung"),
        pytest.param(5, "ban", 14 * DAY, id="beyond-last-doubles"),
        pytest.param(6, "ban", 28 * DAY, id="beyond-last-doubles-again"),
        pytest.param(7, "ban", 30 * DAY, id="capped-at-max-duration"),
    ],
)
def test_ladder(offence: int, action: str, duration: float) -> None:
    assert rung_for(treaty("nato"), offence) == (action, duration)


def test_recidivism_escalates_and_is_forgotten() -> None:
    c = council("nato")
    first = c.decision(decide(c, 10))
    assert first is not None and (first.offence, first.duration) == (1, HOUR)
    assert c.active(10 + HOUR - 1) == [first]
    assert c.active(10 + HOUR) == []
    second = c.decision(decide(c, 10 + HOUR))
    assert second is not None and (second.offence, second.duration) == (2, 6 * HOUR)
    late = 10 + 31 * DAY  # both offences are older than recidivism.memory (30 d)
    again = c.decision(decide(c, late))
    assert again is not None and (again.offence, again.duration) == (1, HOUR)


def test_revoked_decision_does_not_count_as_offence() -> None:
    c = council("nato")
    c.revoke(decide(c, 10), 20, "secretariat", "wrong address")
    d = c.decision(decide(c, 30))
    assert d is not None and d.offence == 1


def test_expired_decisions_leave_active_and_lookup() -> None:
    c = council("nato")
    did = decide(c, 0)
    assert [d.id for d in c.lookup(ATTACKER, 10)] == [did]
    c.tick(HOUR)
    assert c.active(HOUR) == [] and c.lookup(ATTACKER, HOUR) == []
    assert c.decision(did) is not None  # still visible for a day after expiry


@pytest.mark.parametrize(
    ("query", "found"),
    [
        pytest.param("198.51.100.7", ["198.51.100.0/24"], id="ip-inside-range"),
        pytest.param("198.51.100.0/24", ["198.51.100.0/24"], id="same-range"),
        pytest.param("198.51.0.0/16", ["198.51.100.0/24", "198.51.200.1"], id="wider-query"),
        pytest.param("203.0.113.1", [], id="unrelated"),
        pytest.param("2001:db8::1", [], id="other-family"),
    ],
)
def test_lookup_by_ip_or_range(query: str, found: list[str]) -> None:
    c = council("nato")
    decide(c, 1, "198.51.100.0/24")
    decide(c, 2, "198.51.200.1")
    assert [d.target for d in c.lookup(query, 3)] == found


def test_lookup_rejects_garbage() -> None:
    with pytest.raises(ValueError, match=r"'999\.1\.1\.1' is not an IP address"):
        council("nato").lookup("999.1.1.1", 0)


# reputation and probation -----------------------------------------------------


def test_founders_trusted_newcomers_on_probation_until_corroborated() -> None:
    c = council("nato", members=3)
    c.apply("late", ["10.9.0.1"], 2 * DAY)
    c.approve("late", 2 * DAY)
    late = c.member("late")
    assert late is not None and late.probation and late.reputation == 0.5
    # A newcomer and a trusted member: consultation only, not quorum.
    t = 2 * DAY + 10
    o = c.step([Signal("late", ATTACKER, "ssh", t), Signal("m0", ATTACKER, "ssh", t)], t)
    assert o.decisions == () and o.consultations[-1].members == ("late", "m0")
    # Corroborated decisions end probation after three.
    for i in range(3):
        o = c.step(
            [Signal(m, f"198.51.100.{i + 1}", "ssh", t + i) for m in ("late", "m0", "m1")],
            t + i,
        )
        assert [d.members for d in o.decisions] == [("late", "m0", "m1")]
    late = c.member("late")
    assert late is not None and not late.probation and late.corroborated == 3
    assert late.reputation == pytest.approx(0.56)


def test_probation_ends_with_the_period() -> None:
    c = council("nato", members=2)
    c.apply("late", ["10.9.0.1"], 2 * DAY)
    c.approve("late", 2 * DAY)
    c.tick(9 * DAY + 1)
    late = c.member("late")
    assert late is not None and not late.probation
    o = c.step([Signal(n, ATTACKER, "ssh", 9 * DAY + 2) for n in ("late", "m0")], 9 * DAY + 2)
    assert [d.members for d in o.decisions] == [("late", "m0")]


def test_reputation_gain_is_capped() -> None:
    c = council("nato", reputation__gain=0.3)
    for i in range(3):
        decide(c, i, f"198.51.100.{i + 1}")
    m0 = c.member("m0")
    assert m0 is not None and m0.reputation == 1.0


def test_low_reputation_counts_toward_consultation_not_quorum() -> None:
    c = council("nato", reputation__initial=0.3, reputation__floor=0.1)
    o = c.step([Signal(m, ATTACKER, "ssh", 5) for m in ("m0", "m1", "m2")], 5)
    assert o.decisions == () and o.consultations[-1].members == ("m0", "m1", "m2")


def test_appeal_costs_every_reporter_and_floor_suspends() -> None:
    c = council("nato", reputation__loss=0.25, reputation_threshold=0.2)
    c.revoke(decide(c, 1), 2, "secretariat", "customer's NAT", appeal=True)
    assert [state(c, n).reputation for n in ("m0", "m1", "m2")] == [0.27, 0.27, 0.5]
    o = c.revoke(decide(c, 3, "203.0.113.10"), 4, "secretariat", "again", appeal=True)
    assert o.notices == (
        "member m0 suspended: reputation 0.04 fell below the treaty floor 0.1",
        "member m1 suspended: reputation 0.04 fell below the treaty floor 0.1",
    )
    assert state(c, "m0").status == "suspended"
    assert report(c, "m0", 5).no_action[0].reason == "member m0 is suspended: report not counted"
    assert c.standing("m0", 5) == "suspended"
    c.reinstate("m0", 6)
    assert state(c, "m0").reputation == 0.1


def test_appeal_refused_when_treaty_forbids() -> None:
    c = council("nato", appeals__enabled=False)
    o = c.revoke(decide(c, 1), 2, "m2", "please", appeal=True)
    assert o.no_action[0].reason == "treaty nato@1 does not allow appeals: ask the secretariat"
    assert c.revocation(1) is None


# ledger and free riders -------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "standing", "status"),
    [
        pytest.param("warn", "warned", "active", id="warn"),
        pytest.param("delay", "delayed", "active", id="delay"),
        pytest.param("suspend", "suspended", "suspended", id="suspend"),
        pytest.param("none", "ok", "active", id="none"),
    ],
)
def test_free_rider_policy(policy: str, standing: str, status: str) -> None:
    c = council("nato", burden__policy=policy, burden__grace=DAY, burden__delay=45.0)
    for i in range(2):
        decide(c, i + 1, f"198.51.100.{i + 1}")
    for name in ("m0", "m1", "m2"):
        c.received(name, 10)
    assert c.standing("m2", DAY - 1) == "ok"  # grace period
    o = c.tick(DAY + 1)
    assert c.standing("m2", DAY + 1) == standing
    assert c.standing("m0", DAY + 1) == "ok"
    assert state(c, "m2").status == status
    if policy != "none":
        assert o.notices == (
            "member m2 is a free rider (contribution share 0.000 below 0.02): "
            + ("suspended" if policy == "suspend" else f"standing {standing}"),
        )
    assert c.treaty.burden.delay == 45.0
    entries = {e.member: e for e in c.ledger(DAY + 1)}
    assert (entries["m0"].contribution, entries["m0"].consumption) == (2, 10)
    assert entries["m0"].share == pytest.approx(0.2)
    assert entries["m2"].contribution == 0 and entries["m2"].standing == standing


def test_free_rider_recovers_by_contributing() -> None:
    c = council("nato", burden__policy="delay", burden__grace=0.0)
    c.received("m2", 10)
    c.tick(5)
    assert c.standing("m2", 5) == "delayed"
    decide(c, 6, by=("m1", "m2"))
    o = c.tick(8)
    assert c.standing("m2", 8) == "ok"
    assert "member m2 contributes enough again: standing ok" in o.notices


def test_appeal_withdraws_contribution() -> None:
    c = council("nato")
    c.revoke(decide(c, 1), 2, "secretariat", "mistake", appeal=True)
    assert {e.member: e.contribution for e in c.ledger(3)} == {"m0": 0, "m1": 0, "m2": 0}


@pytest.mark.parametrize(
    ("member", "count", "message"),
    [
        pytest.param("ghost", 1, "unknown member 'ghost': it must apply first", id="unknown"),
        pytest.param("m0", -1, "count -1 must be a whole number of decisions", id="negative"),
        pytest.param("m0", 1.5, "count 1.5 must be a whole number", id="fraction"),
    ],
)
def test_received_validates(member: str, count: int, message: str) -> None:
    with pytest.raises(ValueError, match=None) as err:
        council("nato").received(member, count)
    assert message in str(err.value)


# invocation -------------------------------------------------------------------


def _flood(c: Council, member: str, n: int, start: float) -> None:
    for i in range(n):
        report(c, member, start + i, f"198.51.{100 + i // 250}.{i % 250 + 1}")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(
            "quiet",
            "member m0 reported 0 signals in the last 900s; invocation needs 20",
            id="not-under-heavy-attack",
        ),
        pytest.param(
            "disabled", "treaty anzus@1 does not provide for invocation", id="treaty-forbids"
        ),
        pytest.param(
            "twice",
            "member m0 has already invoked collective defence until 3620",
            id="already-invoked",
        ),
        pytest.param(
            "bounded",
            "member m0 already invoked 2 time(s) in the last 604800s (the treaty allows 2)",
            id="bounded-per-period",
        ),
        pytest.param("newcomer", "member late is not trusted yet", id="untrusted"),
    ],
)
def test_invocation_refusals(setup: str, message: str) -> None:
    c = council("anzus" if setup == "disabled" else "nato")
    who = "m0"
    if setup in ("twice", "bounded"):
        _flood(c, "m0", 20, 0)
        assert c.invoke("m0", 20).no_action == ()
    if setup == "bounded":
        c.tick(20 + HOUR)
        _flood(c, "m0", 20, 20 + HOUR)
        assert c.invoke("m0", 40 + HOUR).no_action == ()
        c.tick(40 + 2 * HOUR)
        _flood(c, "m0", 20, 40 + 2 * HOUR)
    if setup == "newcomer":
        c.apply("late", ["10.9.0.1"], 2 * DAY)
        c.approve("late", 2 * DAY)
        who = "late"
    o = c.invoke(
        who, 3 * DAY if setup == "newcomer" else 60 + 2 * HOUR if setup == "bounded" else 20
    )
    assert len(o.no_action) == 1
    assert message in o.no_action[0].reason


def test_invocation_is_bounded_in_time() -> None:
    c = council("nato")
    _flood(c, "m0", 20, 0)
    c.invoke("m0", 20)
    assert report(c, "m0", 21).decisions[0].clause == "art5.invocation"
    o = report(c, "m0", 20 + HOUR, "203.0.113.77")
    assert o.decisions == () and o.consultations[0].status == "open"
    assert state(c, "m0").invoked_until is None


def test_automatic_invocation() -> None:
    c = council("nato", invocation__automatic=True, invocation__min_signals=5)
    notices: list[str] = []
    for i in range(5):
        notices += report(c, "m0", i, f"198.51.100.{i + 1}").notices
    assert notices == [
        "member m0 automatically invoked collective defence until 3604 (clause art5.invocation)"
    ]
    assert len(c.active(5)) == 5


# veto -------------------------------------------------------------------------


def test_veto_by_permanent_flag_and_period() -> None:
    t = treaty("un", reputation_threshold=0.3)
    c = Council(t)
    c.apply("p5", ["10.5.0.1"], 0, permanent=True)
    c.approve("p5", 0)  # founding member
    for name in ("a", "b", "c"):
        c.apply(name, [f"10.6.0.{len(name)}" if name == "a" else f"10.7.{ord(name)}.1"], 0)
        voters = [m.name for m in c.members() if m.status == "active"]
        for v in voters:
            c.vote(name, v, True, 0)
    assert [m.status for m in c.members()] == ["active"] * 4
    did = decide(c, 1, by=("a", "b", "c"))
    o = c.veto("a", did, 2)
    assert o.no_action[0].reason == "member a is not a permanent member: only p5 may veto"
    o = c.veto("p5", did, 3)
    assert [(r.clause, r.by) for r in o.revocations] == [("veto", "p5")]
    assert c.active(3) == []
    held = c.step([Signal(n, ATTACKER, "ssh", 4) for n in ("a", "b", "c")], 4)
    assert (
        held.no_action[0].reason
        == f"{ATTACKER} was vetoed: it cannot be decided again before 86403"
    )
    assert decide(c, DAY + 4, by=("a", "b", "c")) == 2
    assert state(c, "a").reputation == pytest.approx(0.44)  # +0.02, -0.1, +0.02


@pytest.mark.parametrize(
    ("template", "message"),
    [
        pytest.param("nato", "treaty nato@1 grants no veto", id="no-veto-in-treaty"),
        pytest.param("un", "decision #1 was already revoked", id="already-revoked"),
    ],
)
def test_veto_refusals(template: str, message: str) -> None:
    changes: dict[str, Any] = {"veto__permanent": ("m0",)} if template == "un" else {}
    c = council(template, members=4, **changes)
    did = decide(c, 1, by=("m1", "m2", "m3"))
    if template == "un":
        c.revoke(did, 2, "secretariat", "lifted")
    assert message in c.veto("m0", did, 3).no_action[0].reason


def test_unilateral_self_defence_cannot_be_vetoed_nor_has_veto() -> None:
    c = council("unilateral")
    assert report(c, "m0", 1).decisions[0].applies_to == ("m0",)
    with pytest.raises(ValueError, match="cannot be permanent: treaty unilateral@1 has no veto"):
        c.apply("p", ["10.8.0.1"], 2, permanent=True)


# protected assets ---------------------------------------------------------------


def test_applicants_win_no_protection_until_admitted() -> None:
    # Otherwise an attacker could shield its own range merely by applying to join.
    c = council("un", members=2)
    c.apply("hopeful", ["198.51.100.0/24"], 1)
    assert report(c, "m0", 2, "198.51.100.9").disputes == ()
    for voter in ("m0", "m1"):
        if state(c, "hopeful").status == "pending":
            c.vote("hopeful", voter, True, 3)
    assert state(c, "hopeful").status == "active"
    o = report(c, "m0", 4, "198.51.100.10")
    assert [(d.target, d.protected) for d in o.disputes] == [("198.51.100.10", "198.51.100.0/24")]
    assert "declared by member hopeful; clause protected.member" in o.disputes[0].reason
    c.suspend("hopeful", 5, "testing")
    assert report(c, "m1", 6, "198.51.100.11").disputes, "a suspended member stays protected"


def test_rejected_applicant_is_never_protected() -> None:
    c = council("un", members=2)
    c.apply("hopeful", ["198.51.100.0/24"], 1)
    c.vote("hopeful", "m0", False, 2)
    c.vote("hopeful", "m1", False, 2)
    assert state(c, "hopeful").status == "rejected"
    assert report(c, "m0", 3, "198.51.100.9").disputes == ()


def test_treaty_protected_range_names_label() -> None:
    t = treaty("nato")
    c = council(t)
    o = report(c, "m0", 1, "127.0.0.0/24")
    assert o.disputes[0].reason.startswith(
        "127.0.0.0/24 overlaps 127.0.0.0/8, protected by the treaty (loopback)"
    )


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        pytest.param("10.0.0.0/8", "broader than the treaty allows (/24", id="over-broad"),
        pytest.param("999.1.1.1", "is not an IP address", id="invalid"),
        pytest.param("203.0.113.9/24", "has host bits set", id="host-bits"),
    ],
)
def test_invalid_targets_are_refused_not_raised(target: str, reason: str) -> None:
    o = report(council("nato"), "m0", 1, target)
    assert len(o.no_action) == 1 and reason in o.no_action[0].reason


def test_member_addresses_respect_treaty_width() -> None:
    with pytest.raises(ValueError, match=r"member 'big': range '10\.0\.0\.0/8' is broader"):
        council("nato").apply("big", ["10.0.0.0/8"], 1)


# accession ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "votes", "status"),
    [
        pytest.param("un", [("m0", True), ("m1", True)], "active", id="majority-2-of-3"),
        pytest.param("un", [("m0", True)], "pending", id="majority-not-yet"),
        pytest.param("un", [("m0", False), ("m1", False)], "rejected", id="majority-rejects"),
        pytest.param("league", [("m0", True), ("m1", True)], "pending", id="unanimity-waits"),
        pytest.param(
            "league", [("m0", True), ("m1", True), ("m2", True)], "active", id="unanimity-all"
        ),
        pytest.param("league", [("m0", True), ("m1", False)], "rejected", id="unanimity-one-no"),
    ],
)
def test_accession_by_vote(template: str, votes: list[tuple[str, bool]], status: str) -> None:
    c = council(template, members=3)
    c.apply("new", ["10.9.0.1"], 1)
    for voter, ok in votes:
        c.vote("new", voter, ok, 2)
    assert state(c, "new").status == status


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda c: c.approve("new", 2),
            "admits members by majority vote",
            id="approve-under-vote",
        ),
        pytest.param(
            lambda c: c.vote("new", "new", True, 2), "voter new is pending", id="applicant-votes"
        ),
        pytest.param(
            lambda c: c.approve("m0", 2),
            "member m0 is active: only applicants",
            id="approve-member",
        ),
        pytest.param(
            lambda c: c.suspend("new", 2, "x"),
            "only active members are suspended",
            id="suspend-applicant",
        ),
    ],
)
def test_accession_refusals(call: Callable[[Council], Outcome], message: str) -> None:
    c = council("un", members=3)
    c.apply("new", ["10.9.0.1"], 1)
    o = call(c)
    assert message in o.no_action[0].reason


def test_vote_refused_under_admin_accession() -> None:
    c = council("nato")
    c.apply("new", ["10.9.0.1"], 1)
    assert (
        "admits members by the secretariat, not by vote"
        in c.vote("new", "m0", True, 2).no_action[0].reason
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda c: c.apply("m0", [], 1), "member 'm0' already exists (active)", id="duplicate"
        ),
        pytest.param(
            lambda c: c.apply("bad name", [], 1),
            "member name 'bad name' is not valid",
            id="bad-name",
        ),
        pytest.param(
            lambda c: c.apply("x", "10.0.0.1", 1),
            "must be a list of addresses",
            id="addresses-string",
        ),
        pytest.param(
            lambda c: c.apply("x", ["10.0.0.1/33"], 1),
            "'10.0.0.1/33' is not an IP",
            id="bad-address",
        ),
        pytest.param(
            lambda c: c.approve("ghost", 1), "unknown member 'ghost'", id="approve-unknown"
        ),
        pytest.param(
            lambda c: c.step([Signal("ghost", ATTACKER, "ssh", 1)], 1),
            "unknown member 'ghost'",
            id="signal-unknown",
        ),
        pytest.param(
            lambda c: c.revoke(99, 1, "s", "r"), "unknown decision 99", id="revoke-unknown"
        ),
        pytest.param(lambda c: c.veto("m0", 99, 1), "unknown decision 99", id="veto-unknown"),
        pytest.param(
            lambda c: c.tick(float("nan")), "time nan is not a finite number", id="nan-time"
        ),
        pytest.param(lambda c: c.invoke("ghost", 1), "unknown member 'ghost'", id="invoke-unknown"),
        pytest.param(
            lambda c: c.standing("ghost", 1), "unknown member 'ghost'", id="standing-unknown"
        ),
    ],
)
def test_user_errors_raise_and_change_nothing(
    call: Callable[[Council], object], message: str
) -> None:
    c = council("nato")
    report(c, "m0", 0)
    before = (c.consultations(0), c.members(), c.active(0))
    with pytest.raises(ValueError) as err:
        call(c)
    assert message in str(err.value)
    assert (c.consultations(0), c.members(), c.active(0)) == before
    assert c.state.now == 0  # time did not move


def test_bad_signal_in_a_batch_rejects_the_whole_batch() -> None:
    c = council("nato")
    with pytest.raises(ValueError):
        c.step([Signal("m0", ATTACKER, "ssh", 1), Signal("ghost", ATTACKER, "ssh", 1)], 1)
    assert c.consultations(1) == []


# views, time and determinism --------------------------------------------------


def test_consultations_view() -> None:
    c = council("nato")
    report(c, "m0", 0)
    report(c, "m0", 1, "203.0.113.10")
    decide(c, 2, by=("m1",))
    assert [x.target for x in c.consultations(3)] == ["203.0.113.10"]
    c.tick(901)
    assert c.consultations(901) == []
    closed = c.consultations(901, open_only=False)
    assert [(x.id, x.status, x.decision_id) for x in closed] == [
        (1, "corroborated", 1),
        (2, "expired", None),
    ]


def test_one_consultation_per_target_and_scenario() -> None:
    c = Council(treaty("nato", quorum=3))
    for i in range(3):
        c.apply(f"m{i}", [f"10.0.{i}.1"], 0)
        c.approve(f"m{i}", 0)
    report(c, "m0", 1, scenario="ssh")
    report(c, "m1", 2, scenario="http")
    report(c, "m1", 3, scenario="ssh")
    assert [(x.scenario, x.members) for x in c.consultations(4)] == [
        ("ssh", ("m0", "m1")),
        ("http", ("m1",)),
    ]
    o = report(c, "m2", 5, scenario="http")
    assert [(x.scenario, x.status) for x in o.consultations] == [
        ("ssh", "corroborated"),
        ("http", "corroborated"),
    ]
    assert o.decisions[0].scenario == "http" and o.decisions[0].members == ("m0", "m1", "m2")


def test_time_never_runs_backwards() -> None:
    c = council("nato")
    report(c, "m0", 100)
    o = report(c, "m1", 50)
    assert o.decisions[0].issued_at == 100


def _random_run(seed: int) -> list[object]:
    rng = random.Random(seed)
    c = council("nato", members=5)
    log: list[object] = []
    now = 0.0
    for _ in range(400):
        now += rng.choice([0.5, 5, 60, 600])
        batch = [
            Signal(f"m{rng.randrange(5)}", f"198.51.100.{rng.randrange(1, 20)}", "ssh", now)
            for _ in range(rng.randrange(1, 4))
        ]
        log.append(c.step(batch, now))
        if rng.random() < 0.05 and c.active(now):
            log.append(c.revoke(c.active(now)[0].id, now, "s", "r", appeal=True))
    log.append((c.members(), c.ledger(now), c.consultations(now, open_only=False)))
    return log


def test_replay_is_deterministic() -> None:
    assert _random_run(3) == _random_run(3)
    assert _random_run(3) != _random_run(4)


def test_old_reports_are_swept() -> None:
    c = council("nato")
    for i in range(50):
        report(c, "m0", i, f"198.51.100.{i + 1}")
    assert len(c.state.recent) == 50
    c.tick(2000)
    assert c.state.recent == {}


def test_address_of_a_member_admitted_after_a_report_is_protected_at_once() -> None:
    c = council("nato")
    assert report(c, "m0", 1, "198.51.100.5").consultations
    c.apply("newcomer", ["198.51.100.5"], 2)
    c.approve("newcomer", 2)
    o = report(c, "m1", 3, "198.51.100.5")
    assert o.decisions == () and [d.target for d in o.disputes] == ["198.51.100.5"]


def test_ipv6_range_absorbs_address_inside() -> None:
    c = council("nato")
    decide(c, 1, "2001:db8:1::/48")
    o = report(c, "m2", 2, "2001:db8:1::99")
    assert o.no_action[0].reason.startswith(
        "2001:db8:1::99 is inside 2001:db8:1::/48, decided by #1"
    )
    assert [d.target for d in c.lookup("2001:db8:1::99", 2)] == ["2001:db8:1::/48"]
    c.tick(1 + HOUR)
    assert report(c, "m2", 2 + HOUR, "2001:db8:1::99").consultations  # range expired
