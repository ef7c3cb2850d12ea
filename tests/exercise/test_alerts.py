"""Alerts in the exercise: an alerted source meets the treaty's alert maxretry.

Scenario "relay" (see test_self_defence), nato with self-defence: member 0's detector
fires at 10 and it reports; the council puts the attacker on alert at the end of that
slice (15). Member 1's detector, alerted, fires on the attacker's first event there
(100) instead of its second (110): member 1 bans it locally and reports, the quorum
is complete at 105, and the decision protects member 2. Absorbed: 0, 10 | 100 = 3
(4 without alerts).
"""

from __future__ import annotations

import numpy as np
import pytest

from shieldwall.core.treaty import AlertRules
from shieldwall.exercise.members import RogueReports
from shieldwall.exercise.sweep import load, parse_sweep
from shieldwall.exercise.timeline import T0
from tests.exercise.helpers import RELAY, played, tiny_campaign, tiny_members, tiny_world


@pytest.mark.parametrize(
    ("changes", "absorbed", "alerts", "early", "first_decision"),
    [
        pytest.param({}, 3, 1, 1, 105.0, id="alerted-member-stops-it-at-once"),
        pytest.param({"alert__enabled": False}, 4, 0, 0, 115.0, id="without-alerts"),
        pytest.param({"alert__window": 60.0}, 4, 1, 0, 115.0, id="alert-over-before-it-arrives"),
        pytest.param({"alert__maxretry": 2}, 4, 1, 0, 115.0, id="no-stricter-than-the-detector"),
        pytest.param(
            {"correlation__enabled": True, "correlation__others_maxretry": 2},
            3,
            1,
            1,
            105.0,
            id="no-correlation-learnt-yet-alerts-everyone",
        ),
    ],
)
def test_relay_with_alerts(
    changes: dict[str, object], absorbed: int, alerts: int, early: int, first_decision: float
) -> None:
    world = tiny_world(tiny_campaign(RELAY, 3), tiny_members(3, self_defence=True))
    run, r = played(world, "nato", **changes)
    assert r.attacks_absorbed == absorbed
    assert (r.alerts, r.alert_firings, r.decisions) == (alerts, early, 1)
    assert run.records[0].issued == first_decision
    assert r.false_bans == 0


def test_alert_reaches_a_member_after_its_link_delay() -> None:
    """Member 1's link from the hub takes 90 s: the alert of 15 reaches it at 105, after
    the attacker's first event there (100); its detector fires on the second (110)."""
    m = tiny_members(3, self_defence=True)
    m.downlink_s[1] = 90.0
    world = tiny_world(tiny_campaign(RELAY, 3), m)
    _, r = played(world, "nato")
    assert (r.attacks_absorbed, r.alert_firings) == (4, 0)


def test_rogue_report_raises_an_alert_and_bans_nobody() -> None:
    """A rogue reports an innocent address (7 benign users) at 50: an alert, no ban."""
    world = tiny_world(
        tiny_campaign(RELAY, 3, innocents=[7]), tiny_members(3, rogue=(2,), self_defence=True)
    )
    world.rogue = RogueReports(np.array([50.0]), np.array([2]), np.array([0]))
    run, r = played(world, "nato")
    assert [(src, a.issued_at - T0) for src, a in run.alerts] == [(0, 15.0), (-1, 55.0)]
    assert (r.rogue_false_bans, r.rogue_user_hours, r.false_bans) == (0, 0.0, 0)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        pytest.param("alert", 0.0, AlertRules(False, 3600.0, 1), id="off"),
        pytest.param("alert_window", 600.0, AlertRules(True, 600.0, 1), id="window"),
        pytest.param("alert_maxretry", 3.0, AlertRules(True, 3600.0, 3), id="maxretry"),
    ],
)
def test_alert_settings_can_be_swept(name: str, value: float, expected: AlertRules) -> None:
    assert parse_sweep(f"{name}={value:g}") == (name, [value])
    assert load("nato", {name: value}).alert == expected


def test_alert_maxretry_sweep_refuses_a_fraction() -> None:
    with pytest.raises(ValueError) as err:
        load("nato", {"alert_maxretry": 1.5})
    assert "alert_maxretry=1.5 is not a whole number" in str(err.value)


def test_members_not_correlated_apply_others_maxretry() -> None:
    """Members 0 and 2 reported an earlier attacker together, twice: member 0's alert
    names member 2 only. Member 1 applies others_maxretry 2 (its own threshold), so it
    fires on its second event (5110) as without alerts. The first two alerts come
    before any group is learnt (min_shared 2) and alert everyone."""
    pairs = [
        (0, 0, [0.0, 10.0]),
        (0, 2, [20.0, 30.0]),
        (1, 0, [40.0, 50.0]),
        (1, 2, [60.0, 70.0]),
        (2, 0, [5000.0 + t for t in range(0, 100, 10)]),
        (2, 1, [5100.0, 5110.0, 5120.0, 5130.0]),
    ]
    world = tiny_world(tiny_campaign(pairs, 3), tiny_members(3, self_defence=True))
    changes = {
        "correlation__enabled": True,
        "correlation__others_maxretry": 2,
        "quorum": 3,
    }
    run, r = played(world, "nato", **changes)
    assert [(src, a.correlated) for src, a in run.alerts] == [(0, ()), (1, ()), (2, ("m0002",))]
    assert r.alert_firings == 2  # member 2 on attackers 0 and 1, alerted before any group
    assert run.local_time[-1] == 5110.0  # member 1: its second event, as without alerts
