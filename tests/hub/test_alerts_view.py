"""``GET /v1/alerts``: the alerts in force, for an agent's full resynchronisation."""

from __future__ import annotations

from shieldwall import wire

from .conftest import Hub

TARGET = "203.0.113.9"


def test_members_read_the_alerts_in_force_and_they_expire(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    assert bravo.alerts()["alerts"] == []
    alpha.submit([{"target": TARGET, "scenario": "ssh-bruteforce", "at": hub.clock()}])
    answer = bravo.alerts()
    assert answer["cursor"] == hub.sec.stream.last_id
    [held] = [wire.alert_from(a) for a in answer["alerts"]]
    assert (held.target, held.member, held.maxretry) == (TARGET, "alpha", 1)
    assert hub.viewer().alerts()["alerts"] == answer["alerts"]  # a view, as decisions are
    hub.clock.advance(held.expires_at - hub.clock() + 1)
    assert bravo.alerts()["alerts"] == []


def test_strangers_cannot_read_the_alerts(hub: Hub) -> None:
    answer = hub.http.get("/v1/alerts")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
