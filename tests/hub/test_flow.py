"""The alliance's main flow, in-process: quorum, consultation, disputes, revocation, restart."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from shieldwall.client import HubError
from shieldwall.hub.app import open_secretariat

from .conftest import Hub

ATTACKER = "203.0.113.9"


def _report(client, target: str = ATTACKER, scenario: str = "ssh-bruteforce") -> dict:
    return client.submit(
        [{"target": target, "scenario": scenario, "at": client._clock(), "events": 6}]
    )


def test_two_members_decide_one_consults(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    hub.member("charlie", "192.0.2.30")

    first = _report(alpha)
    assert first["decisions"] == []
    assert first["consultations"], "a lone report opens a consultation"
    open_now = hub.viewer().consultations()["consultations"]
    assert [c["target"] for c in open_now] == [ATTACKER]
    assert hub.viewer().decisions()["decisions"] == []

    second = _report(bravo)
    assert len(second["decisions"]) == 1
    decisions = hub.viewer().decisions()["decisions"]
    assert [d["target"] for d in decisions] == [ATTACKER]
    decision = decisions[0]
    assert decision["clause"] == "art5.quorum"
    assert decision["members"] == ["alpha", "bravo"]
    assert decision["expires_at"] > hub.clock()
    assert hub.viewer().consultations()["consultations"] == []
    assert hub.viewer().decisions(ip=ATTACKER)["decisions"][0]["id"] == decision["id"]
    assert hub.viewer().decisions(ip="203.0.113.10")["decisions"] == []


def test_report_against_protected_assets_is_a_dispute(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "198.51.100.0/24")
    for target, why in (("198.51.100.7", "bravo"), ("127.0.0.1", "loopback")):
        a, b = _report(alpha, target), _report(bravo, target)
        assert a["decisions"] == b["decisions"] == []
        assert a["disputes"] and why in json.dumps(a["disputes"])
    assert hub.viewer().decisions()["decisions"] == []
    disputes = hub.viewer().get("/v1/disputes")["disputes"]
    assert {d["target"] for d in disputes} == {"198.51.100.7", "127.0.0.1"}


def test_revocation_is_streamed_and_stored(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    _report(alpha)
    decision_id = _report(bravo)["decisions"][0]
    after = hub.sec.stream.last_id
    hub.admin().revoke(decision_id, "false positive", appeal=True)
    assert hub.viewer().decisions()["decisions"] == []
    events = hub.sec.stream.since(after - 1)
    kinds = [e.kind for e in events]
    assert "revocation" in kinds
    revocation = json.loads(events[kinds.index("revocation")].body)
    assert revocation["decision_id"] == decision_id
    assert hub.viewer().get(f"/v1/decisions/{decision_id}")["revoked_at"] is not None
    with pytest.raises(HubError, match="not revoked"):
        hub.admin().revoke(decision_id, "again")


def test_restart_rebuilds_state(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub("nato")
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    _report(alpha)
    _report(bravo)
    _report(alpha, "203.0.113.50")
    before = hub.viewer().decisions()
    consultations = hub.viewer().consultations()
    last_seq = hub.sec.identities["alpha"].last_seq
    hub.sec.store.close()

    reopened = open_secretariat(hub.data, clock=hub.clock)
    try:
        now = hub.clock()
        assert [d.id for d in reopened.active(now)] == [d["id"] for d in before["decisions"]]
        assert [c.id for c in reopened.council.consultations(now)] == [
            c["id"] for c in consultations["consultations"]
        ]
        assert reopened.identities["alpha"].last_seq == last_seq
        assert reopened.stream.last_id == hub.sec.stream.last_id
    finally:
        reopened.store.close()


def test_metrics_and_views(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    _report(alpha)
    text = hub.http.get("/metrics").text
    assert "shieldwall_signals_accepted_total 1" in text
    assert hub.http.get("/openapi.json").json()["paths"]["/v1/signals"]
    assert hub.viewer().get("/v1/treaty")["name"] == "nato"
    members = hub.viewer().members()["members"]
    assert [m["name"] for m in members] == ["alpha"]
    assert "ledger" in hub.viewer().get("/v1/ledger")
    assert "alpha" in hub.viewer().get("/v1/reputation")["reputation"]
