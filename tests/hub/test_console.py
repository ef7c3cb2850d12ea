"""What the console reads: who may read, the activity timeline, look-up and detail views."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shieldwall.core.treaty import load_treaty, template_text
from shieldwall.signing import SigningKey

from .conftest import Hub

ATTACKER = "203.0.113.9"
VIEWS = [
    "/v1/decisions",
    "/v1/decisions/1",
    "/v1/decisions/1/detail",
    "/v1/consultations",
    "/v1/members",
    "/v1/members/alpha",
    "/v1/members/alpha/detail",
    "/v1/ledger",
    "/v1/reputation",
    "/v1/treaty",
    "/v1/disputes",
    "/v1/activity",
    "/v1/lookup?target=203.0.113.9",
    "/v1/charts",
    "/v1/viewer",
]


def _treaty(access: str) -> str:
    text = template_text("nato").replace('access = "members"', f'access = "{access}"')
    assert load_treaty(text).views.access == access
    return text


def _report(client, target: str = ATTACKER, scenario: str = "ssh-bruteforce") -> dict:
    return client.submit([{"target": target, "scenario": scenario, "at": client._clock()}])


def _decided(hub: Hub) -> tuple[Hub, SigningKey]:
    """Two members, one decision against ATTACKER (id 1); a second between each step."""
    key = SigningKey.generate()
    alpha = hub.client("alpha", key)
    alpha.join(["192.0.2.10"])
    hub.clock.advance(1)
    hub.admin().approve("alpha")
    hub.clock.advance(1)
    bravo = hub.client("bravo", SigningKey.generate())
    bravo.join(["192.0.2.20"])
    hub.clock.advance(1)
    hub.admin().approve("bravo")
    hub.clock.advance(1)
    _report(alpha)
    hub.clock.advance(1)
    assert _report(bravo)["decisions"] == [1]
    hub.clock.advance(1)
    return hub, key


def _headers(hub: Hub, key: SigningKey, who: str, path: str) -> dict[str, str]:
    if who == "anonymous":
        return {}
    if who == "member":
        return hub.client("alpha", key).read_headers(path)
    token = {"admin": hub.token, "viewer": hub.read_token, "stranger": "swr_" + "x" * 43}[who]
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("access", "who", "status"),
    [
        pytest.param("members", "anonymous", 401, id="members-anonymous"),
        pytest.param("members", "stranger", 401, id="members-unknown-token"),
        pytest.param("members", "viewer", 200, id="members-read-token"),
        pytest.param("members", "member", 200, id="members-signed-member"),
        pytest.param("members", "admin", 200, id="members-admin"),
        pytest.param("public", "anonymous", 200, id="public-anonymous"),
        pytest.param("admin", "anonymous", 401, id="admin-anonymous"),
        pytest.param("admin", "viewer", 403, id="admin-read-token"),
        pytest.param("admin", "member", 403, id="admin-signed-member"),
        pytest.param("admin", "admin", 200, id="admin-admin"),
    ],
)
def test_who_may_read_every_view(
    make_hub: Callable[..., Hub], access: str, who: str, status: int
) -> None:
    hub, key = _decided(make_hub(text=_treaty(access)))
    for path in VIEWS:
        response = hub.http.get(path, headers=_headers(hub, key, who, path))
        assert response.status_code == status, (path, response.text)
        if status != 200:
            error = response.json()["error"]
            assert error["code"] in ("unauthorized", "forbidden")
            assert "viewers add" in error["message"] or "admin token" in error["message"]


def test_health_and_the_page_stay_open(hub: Hub) -> None:
    assert hub.http.get("/healthz").status_code == 200
    assert hub.http.get("/").status_code == 200, "the page asks for a token itself"


def test_viewer_says_who_is_reading(hub: Hub) -> None:
    assert hub.viewer().get("/v1/viewer") == {
        "who": "viewer:tester",
        "role": "viewer",
        "access": "members",
    }
    assert hub.admin().get("/v1/viewer")["role"] == "admin"


def test_activity_tells_what_happened_in_order(hub: Hub) -> None:
    hub, _ = _decided(hub)
    hub.clock.advance(60)
    _report(hub.member("charlie", "192.0.2.30"), "198.51.100.4")
    hub.clock.advance(60)
    hub.admin().revoke(1, "a customer's NAT", appeal=True)
    entries = hub.viewer().get("/v1/activity")["activity"]
    kinds = [e["kind"] for e in entries]
    assert kinds == [
        "application",
        "accession",
        "application",
        "accession",
        "report",
        "consultation-opened",
        "report",
        "decision",
        "consultation-closed",
        "application",
        "accession",
        "report",
        "consultation-opened",
        "revocation",
    ]
    times = [e["at"] for e in entries]
    assert times == sorted(times)
    revoked = entries[-1]
    assert revoked["decision_id"] == 1 and "a customer's NAT" in revoked["summary"]
    only = hub.viewer().get("/v1/activity?kind=decision,revocation")["activity"]
    assert [e["kind"] for e in only] == ["decision", "revocation"]


def test_activity_shows_expiry_at_its_time(hub: Hub) -> None:
    hub, _ = _decided(hub)
    decision = hub.viewer().get("/v1/decisions/1/detail")
    hub.clock.advance(decision["expires_at"] - hub.clock() + 1)
    entries = hub.viewer().get("/v1/activity?kind=decision,expiry")["activity"]
    assert [(e["kind"], e["at"]) for e in entries] == [
        ("decision", decision["issued_at"]),
        ("expiry", decision["expires_at"]),
    ]


def test_activity_pages_back(hub: Hub) -> None:
    _decided(hub)
    first = hub.viewer().get("/v1/activity?limit=3")
    assert len(first["activity"]) == 3 and first["next_before"] == first["activity"][0]["at"]
    older = hub.viewer().get(f"/v1/activity?limit=100&before={first['next_before']}")
    assert older["next_before"] is None
    assert older["activity"][-1]["at"] < first["activity"][0]["at"]


@pytest.mark.parametrize(
    ("target", "blocked"),
    [
        pytest.param(ATTACKER, True, id="address"),
        pytest.param("::ffff:203.0.113.9", True, id="mapped-address"),
        pytest.param("203.0.113.0/24", True, id="range-around-it"),
        pytest.param("203.0.113.10", False, id="neighbour"),
    ],
)
def test_lookup_answers_by_what_since_until(hub: Hub, target: str, blocked: bool) -> None:
    _decided(hub)
    found = hub.viewer().get(f"/v1/lookup?target={target}")
    assert found["blocked"] is blocked
    if blocked:
        assert found["by"] == [1]
        (decision,) = found["decisions"]
        assert (found["since"], found["until"]) == (decision["issued_at"], decision["expires_at"])
    else:
        assert found["decisions"] == [] and found["since"] is None


def test_lookup_keeps_the_history_of_a_revoked_address(hub: Hub) -> None:
    _decided(hub)
    hub.admin().revoke(1, "false positive", appeal=True)
    found = hub.viewer().get(f"/v1/lookup?target={ATTACKER}")
    assert found["blocked"] is False
    (decision,) = found["decisions"]
    assert decision["state"] == "revoked" and decision["appeal"] is True
    assert decision["revocation"]["reason"] == "false positive"
    assert [r["member"] for r in found["reports"]] == ["alpha", "bravo"]


def test_decision_detail(hub: Hub) -> None:
    _decided(hub)
    detail = hub.viewer().get("/v1/decisions/1/detail")
    assert detail["state"] == "in force"
    assert detail["treaty"] == "nato@1" and detail["clause"] == "art5.quorum"
    assert [r["member"] for r in detail["reports"]] == ["alpha", "bravo"]
    assert detail["ladder"]["step"] == 1 and detail["ladder"]["steps"] == 4
    assert detail["remaining_s"] == 3600 - 1


def test_member_detail_and_charts(hub: Hub) -> None:
    _decided(hub)
    detail = hub.viewer().get("/v1/members/alpha/detail")
    assert detail["member"]["name"] == "alpha" and detail["ledger"]["contribution"] == 1
    assert [s["target"] for s in detail["reports"]] == [ATTACKER]
    assert [d["id"] for d in detail["decisions"]] == [1]
    charts = hub.viewer().get("/v1/charts")
    assert sum(charts["signals"]) == 2 and sum(charts["decisions"]) == 1
    assert charts["scenarios"] == [{"scenario": "ssh-bruteforce", "signals": 2}]
    assert {b["member"] for b in charts["burden"]} == {"alpha", "bravo"}


def test_activity_records_suspensions_and_amendments(hub: Hub) -> None:
    _decided(hub)
    hub.admin().suspend("bravo", "stopped answering consultations")
    hub.clock.advance(1)
    hub.sec.amend(template_text("nato").replace("version = 1", "version = 2"))
    entries = hub.viewer().get("/v1/activity?kind=suspension,amendment")["activity"]
    assert [(e["kind"], e.get("member") or e.get("treaty")) for e in entries] == [
        ("suspension", "bravo"),
        ("amendment", "nato@2"),
    ]
    assert "stopped answering consultations" in entries[0]["summary"]
