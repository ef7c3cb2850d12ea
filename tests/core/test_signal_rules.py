"""One signal in, through the council's public calls: exact time boundaries (unanimity
deliberation, the quorum window), what each refusal names, and the scenario every
record carries."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from shieldwall.core.council import Council
from shieldwall.core.model import NoAction, Outcome, Signal
from tests.core.helpers import ATTACKER, council, report

A = ATTACKER
DELIBERATION = 600.0  # the league template's ten minutes
WINDOW = 900.0  # the nato template's quorum window


def before(t: float) -> float:
    """The last instant before ``t``: one tick earlier."""
    return math.nextafter(t, -math.inf)


# unanimity: the deliberation boundary ---------------------------------------------


@pytest.mark.parametrize(
    ("opened", "last", "decided_at_once"),
    [
        pytest.param(0.0, DELIBERATION, True, id="last-voice-exactly-at-the-end-decides"),
        pytest.param(0.0, before(DELIBERATION), False, id="last-voice-one-tick-before-waits"),
        pytest.param(0.0, DELIBERATION + 1, True, id="last-voice-after-the-end-decides"),
        pytest.param(100.0, 100.0 + DELIBERATION, True, id="counted-from-opening-at-the-end"),
        pytest.param(100.0, before(100.0 + DELIBERATION), False, id="counted-from-opening-before"),
    ],
)
def test_unanimity_decides_when_the_last_voice_arrives_after_deliberation(
    opened: float, last: float, decided_at_once: bool
) -> None:
    c = council("league", members=3)
    report(c, "m0", opened, scenario="http-probe")
    report(c, "m1", opened + 1, scenario="http-probe")
    o = report(c, "m2", last, scenario="http-probe")
    if decided_at_once:
        assert [(d.clause, d.target, d.members, d.scenario) for d in o.decisions] == [
            ("unanimity", A, ("m0", "m1", "m2"), "http-probe")
        ]
        assert [x.status for x in o.consultations] == ["open", "corroborated"]
        assert c.consultations(last) == []
    else:
        assert o.decisions == ()
        assert [x.status for x in o.consultations] == ["open"]
        # ...and the tick at the end of deliberation decides it.
        assert c.tick(opened + DELIBERATION).decisions[0].clause == "unanimity"


@pytest.mark.parametrize(
    ("at", "decided"),
    [
        pytest.param(before(DELIBERATION), False, id="tick-one-before"),
        pytest.param(DELIBERATION, True, id="tick-exactly-at-the-end"),
    ],
)
def test_unanimity_ready_consultation_decides_on_the_tick_at_the_end(
    at: float, decided: bool
) -> None:
    c = council("league", members=3)
    for i, name in enumerate(("m0", "m1", "m2")):
        report(c, name, i)
    assert [d.members for d in c.tick(at).decisions] == ([("m0", "m1", "m2")] if decided else [])


@pytest.mark.parametrize(
    ("members", "reporters", "decided"),
    [
        pytest.param(2, ("m0", "m1"), True, id="two-members-both-report"),
        pytest.param(2, ("m0",), False, id="two-members-one-reports"),
        pytest.param(1, ("m0",), False, id="one-member-is-not-unanimity"),
        pytest.param(3, ("m0", "m2"), False, id="one-voice-missing"),
    ],
)
def test_unanimity_needs_every_member_and_at_least_two(
    members: int, reporters: tuple[str, ...], decided: bool
) -> None:
    c = council("league", members=members)
    for i, name in enumerate(reporters):
        report(c, name, i * DELIBERATION)
    assert bool(c.active(len(reporters) * DELIBERATION)) is decided


def test_unanimity_waiting_refusal_names_member_target_and_count() -> None:
    c = council("league", members=3)
    report(c, "m0", 0)
    o = report(c, "m0", 1)
    assert o.no_action == (
        NoAction("m0", A, f"{A}: awaiting every member in good standing (3) to report"),
    )


# the quorum window boundary ----------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "decided"),
    [
        pytest.param(100.0 + WINDOW, True, id="exactly-window-apart-counts"),
        pytest.param(math.nextafter(100.0 + WINDOW, math.inf), False, id="one-tick-too-late"),
    ],
)
def test_quorum_counts_a_report_exactly_one_window_old(second: float, decided: bool) -> None:
    c = council("nato", members=3)
    report(c, "m0", 100.0)
    assert bool(report(c, "m1", second).decisions) is decided


# refusals name the member and the target ------------------------------------------------


def _suspended(c: Council) -> Outcome:
    c.suspend("m1", 1, "test")
    return report(c, "m1", 2)


def _invalid(c: Council) -> Outcome:
    return report(c, "m0", 1, "999.1.1.1")


def _held(c: Council) -> Outcome:
    report(c, "m0", 1)
    report(c, "m1", 2)
    return report(c, "m2", 3)


def _again(c: Council) -> Outcome:
    report(c, "m0", 1)
    return report(c, "m0", 2)


def _no_consultation(c: Council) -> Outcome:
    return report(c, "m0", 1)


@pytest.mark.parametrize(
    ("template", "changes", "act", "member", "target", "reason"),
    [
        pytest.param(
            "nato",
            {},
            _suspended,
            "m1",
            A,
            "member m1 is suspended: report not counted",
            id="suspended-member",
        ),
        pytest.param("nato", {}, _invalid, "m0", "999.1.1.1", "is not an IP", id="invalid"),
        pytest.param("nato", {}, _held, "m2", A, f"{A} is already decided: decision #1", id="held"),
        pytest.param(
            "nato",
            {},
            _again,
            "m0",
            A,
            f"{A} already reported by m0: 1 of 2 trusted reporters, awaiting corroboration",
            id="already-reported",
        ),
        pytest.param(
            "nato",
            {"consultation__enabled": False},
            _no_consultation,
            "m0",
            A,
            f"{A}: 1 of 2 trusted reporters within 900s; below quorum and the treaty opens "
            "no consultation",
            id="no-consultation",
        ),
        pytest.param(
            "unilateral",
            {},
            _again,
            "m0",
            A,
            f"{A} is already decided for m0: decision #1 until",
            id="self-defence-already",
        ),
    ],
)
def test_refusals_name_the_member_and_target(
    template: str,
    changes: dict[str, object],
    act: Callable[[Council], Outcome],
    member: str,
    target: str,
    reason: str,
) -> None:
    c = council(template, members=3, **changes)
    o = act(c)
    assert [(n.member, n.target) for n in o.no_action] == [(member, target)]
    assert reason in o.no_action[0].reason


@pytest.mark.parametrize(
    ("expires_in", "refused"),
    [
        pytest.param(1.0, True, id="still-active"),
        pytest.param(0.0, False, id="expires-exactly-now"),
    ],
)
def test_self_defence_may_be_taken_again_when_the_last_one_expires(
    expires_in: float, refused: bool
) -> None:
    c = council("unilateral", members=2)
    first = report(c, "m0", 0).decisions[0]
    now = first.expires_at - expires_in
    o = c.step([Signal("m0", A, "ssh", now)], now)
    assert bool(o.no_action) is refused and bool(o.decisions) is not refused


# the scenario travels with every record ------------------------------------------------


def _quorum(c: Council) -> Outcome:
    report(c, "m0", 1, scenario="http-probe")
    return report(c, "m1", 2, scenario="http-probe")


def _self_defence(c: Council) -> Outcome:
    return report(c, "m0", 1, scenario="http-probe")


def _invoked(c: Council) -> Outcome:
    for i in range(20):
        report(c, "m0", i * 0.5, f"198.51.100.{i + 1}")
    c.invoke("m0", 11)
    return report(c, "m0", 12, scenario="http-probe")


def _invoked_with_open_consultation(c: Council) -> Outcome:
    for i in range(19):
        report(c, "m0", i * 0.5, f"198.51.100.{i + 1}")
    report(c, "m0", 10, scenario="http-probe")
    return c.invoke("m0", 11)


@pytest.mark.parametrize(
    ("template", "act", "clause"),
    [
        pytest.param("nato", _quorum, "art5.quorum", id="quorum"),
        pytest.param("unilateral", _self_defence, "self-defence", id="self-defence"),
        pytest.param("nato", _invoked, "art5.invocation", id="invocation"),
        pytest.param(
            "nato", _invoked_with_open_consultation, "art5.invocation", id="invocation-pending"
        ),
    ],
)
def test_decisions_carry_the_reported_scenario(
    template: str, act: Callable[[Council], Outcome], clause: str
) -> None:
    o = act(council(template, members=3))
    mine = [d for d in o.decisions if d.target == A]
    assert [(d.clause, d.scenario) for d in mine] == [(clause, "http-probe")]


def test_consultations_carry_the_reported_scenario() -> None:
    for template in ("nato", "league"):
        o = report(council(template, members=3), "m0", 1, scenario="http-probe")
        assert [x.scenario for x in o.consultations] == ["http-probe"], template


# invocation decides the member's open consultations ----------------------------------


def test_invocation_decides_every_open_consultation_of_the_member() -> None:
    c = council("nato", members=3)
    for i in range(20):
        report(c, "m0", i * 0.5, f"198.51.100.{i + 1}")
    o = c.invoke("m0", 11)
    assert o.notices[0].startswith("member m0 invoked collective defence until ")
    assert sorted(d.target for d in o.decisions) == sorted(f"198.51.100.{i + 1}" for i in range(20))
    assert {d.clause for d in o.decisions} == {"art5.invocation"}


def test_invocation_leaves_consultations_on_now_protected_targets_alone() -> None:
    c = council("nato", members=3)
    for i in range(20):
        report(c, "m0", i * 0.5, f"198.51.100.{i + 1}")
    c.apply("late", ["198.51.100.1"], 10)
    c.approve("late", 10)
    o = c.invoke("m0", 11)
    assert "198.51.100.1" not in {d.target for d in o.decisions}
    assert len(o.decisions) == 19


def test_invocation_skips_consultations_closed_by_an_earlier_one_and_goes_on() -> None:
    """Two consultations on one target (two scenarios): deciding the first closes the
    second, and the member's later consultations are still decided."""
    c = council("nato", members=3)
    report(c, "m0", 0, A, scenario="ssh")
    report(c, "m0", 0.5, A, scenario="http-probe")
    for i in range(20):
        report(c, "m0", 1 + i * 0.5, f"198.51.100.{i + 1}")
    o = c.invoke("m0", 12)
    targets = sorted(d.target for d in o.decisions)
    assert targets == sorted([A, *(f"198.51.100.{i + 1}" for i in range(20))])


def test_invocation_leaves_targets_inside_a_decided_range_alone() -> None:
    c = council("nato", members=3)
    report(c, "m0", 0, "198.51.100.7")  # a consultation, then the whole range is decided
    report(c, "m0", 1, "198.51.100.0/24")
    assert report(c, "m1", 2, "198.51.100.0/24").decisions
    for i in range(20):
        report(c, "m0", 3 + i * 0.5, f"198.51.101.{i + 1}")
    o = c.invoke("m0", 14)
    assert "198.51.100.7" not in {d.target for d in o.decisions}
    assert len(o.decisions) == 20


@pytest.mark.parametrize(
    ("last", "again"),
    [
        pytest.param(before(3604.0), False, id="still-invoked"),
        pytest.param(3604.0, True, id="exactly-when-it-ends"),
    ],
)
def test_automatic_invocation_renews_the_moment_the_last_one_ends(last: float, again: bool) -> None:
    c = council("nato", members=3, invocation__automatic=True, invocation__min_signals=5)
    for i in range(5):
        report(c, "m0", i, f"198.51.100.{i + 1}")  # invoked automatically until 3604
    for i in range(4):
        report(c, "m0", 3600 + i * 0.5, f"198.51.101.{i + 1}")
    o = report(c, "m0", last, "198.51.101.77")
    renewed = [n for n in o.notices if "automatically invoked" in n]
    assert bool(renewed) is again
    assert [d.clause for d in o.decisions] == ["art5.invocation"]


def test_a_dispute_records_who_reported_what_and_when() -> None:
    c = council("nato", members=3)
    o = report(c, "m0", 7.5, "10.0.2.1", scenario="http-probe")
    assert [(x.member, x.target, x.scenario, x.at, x.protected) for x in o.disputes] == [
        ("m0", "10.0.2.1", "http-probe", 7.5, "10.0.2.1")
    ]
    assert "declared by member m2" in o.disputes[0].reason


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("nato", id="below-quorum"),
        pytest.param("unilateral", id="self-defence"),
    ],
)
def test_an_alert_carries_the_reported_scenario_and_reporter(template: str) -> None:
    c = council(template, members=3, alert__enabled=True)
    o = report(c, "m0", 1, scenario="http-probe")
    assert [(a.target, a.scenario, a.member) for a in o.alerts] == [(A, "http-probe", "m0")]
