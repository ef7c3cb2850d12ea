"""Raised readiness: one report from a member in good standing puts its target on alert.

nato enables [alert] (window 1 h, maxretry 1). Founding members m0..m2 are trusted.
"""

from __future__ import annotations

from typing import Any

import pytest

from shieldwall.core.council import Council
from shieldwall.core.model import Signal
from tests.core.helpers import ATTACKER, council, report

HOUR, DAY = 3600.0, 86400.0


def alerted(c: Council, member: str, now: float, target: str = ATTACKER) -> list[str]:
    """What one report produced: its alerts and decisions, one short line each."""
    o = report(c, member, now, target)
    return [f"alert #{a.id} {a.target} by {a.member} until {a.expires_at:g}" for a in o.alerts] + [
        f"decision #{d.id} {d.clause} {d.action}" for d in o.decisions
    ]


def test_first_report_raises_an_alert_that_blocks_nobody() -> None:
    c = council("nato")
    o = report(c, "m0", 10.0)
    assert o.decisions == ()
    (a,) = o.alerts
    assert (a.id, a.target, a.member, a.clause, a.maxretry) == (1, ATTACKER, "m0", "alert", 1)
    assert (a.issued_at, a.expires_at, a.scope, a.treaty) == (10.0, 10.0 + HOUR, "ip", "nato@1")
    assert [x.status for x in o.consultations] == ["open"]  # the consultation is as before
    assert c.alerts(11.0) == [a]
    assert c.active(11.0) == []  # never a decision: feeds and bouncers do not see it
    assert c.alerts(10.0 + HOUR) == []


@pytest.mark.parametrize(
    ("changes", "script", "expected"),
    [
        pytest.param(
            {},
            [("m0", 10.0), ("m0", 20.0), ("m1", 30.0), ("m2", 40.0)],
            [
                ["alert #1 203.0.113.9 by m0 until 3610"],
                [],  # already on alert: never extended
                ["decision #1 art5.quorum ban"],  # quorum: a decision, no new alert
                [],  # decided: refused, no alert
            ],
            id="alert-then-quorum",
        ),
        pytest.param(
            {},
            [("m0", 10.0), ("m0", 10.0 + HOUR)],
            [["alert #1 203.0.113.9 by m0 until 3610"], ["alert #2 203.0.113.9 by m0 until 7210"]],
            id="raised-again-after-the-window",
        ),
        pytest.param(
            {"alert__window": 60.0, "alert__maxretry": 2},
            [("m0", 10.0)],
            [["alert #1 203.0.113.9 by m0 until 70"]],
            id="treaty-window",
        ),
        pytest.param(
            {"alert__enabled": False},
            [("m0", 10.0), ("m1", 20.0)],
            [[], ["decision #1 art5.quorum ban"]],
            id="disabled",
        ),
        pytest.param(
            {"quorum": 1},
            [("m0", 10.0)],
            [["decision #1 art5.quorum ban"]],
            id="quorum-of-one-decides-at-once",
        ),
    ],
)
def test_alert_rules(
    changes: dict[str, Any], script: list[tuple[str, float]], expected: list[list[str]]
) -> None:
    c = council("nato", **changes)
    assert [alerted(c, member, now) for member, now in script] == expected


def test_alert_carries_the_treaty_maxretry() -> None:
    c = council("nato", alert__maxretry=3)
    (a,) = report(c, "m0", 10.0).alerts
    assert a.maxretry == 3


def test_self_defence_treaty_alerts_everyone_else() -> None:
    c = council("unilateral", alert__enabled=True)
    assert alerted(c, "m0", 10.0) == [
        "alert #1 203.0.113.9 by m0 until 3610",
        "decision #1 self-defence ban",
    ]


def test_member_on_probation_raises_no_alert() -> None:
    c = council("nato")
    c.apply("m9", ["10.0.9.1"], 2 * DAY)  # after the founding period: probation
    c.approve("m9", 2 * DAY)
    assert alerted(c, "m9", 2 * DAY + 1) == []


def test_free_rider_raises_no_alert() -> None:
    c = council("nato", burden__grace=0.0)
    c.received("m2", 10)
    c.tick(5.0)
    assert c.standing("m2", 5.0) == "warned"
    assert alerted(c, "m2", 10.0) == []
    other = "198.51.100.7"
    assert alerted(c, "m0", 11.0, other) == [f"alert #1 {other} by m0 until 3611"]


def test_alerts_are_deterministic() -> None:
    def run() -> list[Any]:
        c = council("nato")
        out = []
        for i in range(20):
            target = f"198.51.100.{i % 7 + 1}"
            o = c.step([Signal(f"m{i % 3}", target, "ssh", i * 400.0)], i * 400.0)
            out += list(o.alerts)
        return out

    assert run() == run()
