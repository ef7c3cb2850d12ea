"""Revocation and veto through the API: defaults, body limits and the refusals' words."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from shieldwall.client import HubClient, HubError
from shieldwall.client.hub import next_seq
from shieldwall.core.treaty import template_text
from shieldwall.signing import SIGNATURE_HEADER, SigningKey

from .conftest import Hub

ATTACKER = "203.0.113.9"
LIMIT = 16 * 1024  # bytes: revoke and veto bodies


def _report(client: HubClient, target: str = ATTACKER) -> dict:
    return client.submit([{"target": target, "scenario": "ssh-bruteforce", "at": client._clock()}])


def _decided(hub: Hub) -> int:
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    _report(alpha)
    (decision_id,) = _report(bravo)["decisions"]
    return int(decision_id)


def _revoke(hub: Hub, decision_id: int, body: bytes) -> tuple[int, dict]:
    response = hub.http.post(
        f"/v1/decisions/{decision_id}/revoke",
        content=body,
        headers={"Authorization": f"Bearer {hub.token}", "Content-Type": "application/json"},
    )
    return response.status_code, response.json()


def test_a_revocation_without_a_body_gives_the_default_reason(hub: Hub) -> None:
    decision_id = _decided(hub)
    status, answer = _revoke(hub, decision_id, b"")
    assert status == 200
    assert answer["revoked"][0]["reason"] == "revoked by the secretariat"
    revocation = hub.sec.store.revocation(decision_id)
    assert revocation is not None and revocation.reason == "revoked by the secretariat"


@pytest.mark.parametrize(
    ("size", "status"),
    [
        pytest.param(LIMIT, 200, id="at-the-limit"),
        pytest.param(LIMIT + 1, 413, id="one-byte-over"),
    ],
)
def test_a_revocation_body_is_limited_to_16_kib(hub: Hub, size: int, status: int) -> None:
    decision_id = _decided(hub)
    body = json.dumps({"reason": "mistake"}).encode()
    body = body + b" " * (size - len(body))  # JSON allows trailing whitespace
    assert len(body) == size
    got, answer = _revoke(hub, decision_id, body)
    assert got == status, answer
    if status == 413:
        assert answer["error"]["code"] == "too_large"
        assert f"exceeds the limit of {LIMIT}" in answer["error"]["message"]


def test_a_second_revocation_is_refused_saying_why(hub: Hub) -> None:
    decision_id = _decided(hub)
    assert _revoke(hub, decision_id, b"")[0] == 200
    status, answer = _revoke(hub, decision_id, b"")
    assert status == 409
    assert answer["error"]["code"] == "not_applicable"
    assert answer["error"]["message"] == (
        f"decision {decision_id} was not revoked: decision #{decision_id} was already revoked"
    )


def _un_alliance(make_hub: Callable[..., Hub]) -> tuple[Hub, dict[str, HubClient], int]:
    text = template_text("un")
    assert "permanent = []" in text
    hub = make_hub(text=text.replace("permanent = []", 'permanent = ["alpha"]'))
    clients: dict[str, HubClient] = {}
    for i, name in enumerate(("alpha", "bravo", "charlie")):
        client = hub.client(name, SigningKey.generate())
        client.join([f"192.0.2.{10 + i}"])
        if not clients:
            hub.admin().approve(name)
        for voter in clients.values():
            voter.vote(name, approve=True)
        clients[name] = client
    decision_id = None
    for client in clients.values():
        decision_id = (_report(client)["decisions"] or [decision_id])[0]
    assert decision_id is not None
    return hub, clients, int(decision_id)


def test_a_veto_by_a_member_who_holds_none_is_refused_saying_who_may(
    make_hub: Callable[..., Hub],
) -> None:
    _, clients, decision_id = _un_alliance(make_hub)
    with pytest.raises(HubError) as refused:
        clients["bravo"].veto(decision_id)
    assert (refused.value.status, refused.value.code) == (403, "refused")
    assert str(refused.value) == "member bravo is not a permanent member: only alpha may veto"


@pytest.mark.parametrize(
    ("size", "status"),
    [
        pytest.param(LIMIT, 200, id="at-the-limit"),
        pytest.param(LIMIT + 1, 413, id="one-byte-over"),
    ],
)
def test_a_veto_body_is_limited_to_16_kib(
    make_hub: Callable[..., Hub], size: int, status: int
) -> None:
    hub, clients, decision_id = _un_alliance(make_hub)
    alpha = clients["alpha"]
    payload = {"member": "alpha", "seq": next_seq(), "sent_at": hub.clock()}
    body = json.dumps(payload).encode()
    body = body + b" " * (size - len(body))
    headers = alpha._signed_body(payload)[1]
    assert alpha.key is not None
    headers[SIGNATURE_HEADER] = alpha.key.sign(body)
    response = hub.http.post(f"/v1/decisions/{decision_id}/veto", content=body, headers=headers)
    assert response.status_code == status, response.text


def test_revoking_an_unknown_decision_is_404_saying_where_to_look(hub: Hub) -> None:
    _decided(hub)
    status, answer = _revoke(hub, 99, b"")
    assert status == 404
    assert answer["error"] == {
        "code": "not_found",
        "message": "no decision 99: see 'decisions list'",
    }


def test_vetoing_an_unknown_decision_is_404_saying_where_to_look(
    make_hub: Callable[..., Hub],
) -> None:
    _, clients, _ = _un_alliance(make_hub)
    with pytest.raises(HubError) as refused:
        clients["alpha"].veto(99)
    assert (refused.value.status, refused.value.code) == (404, "not_found")
    assert str(refused.value) == "no decision 99: see 'decisions list'"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("ip=203.0.113.9", id="ip"),
        pytest.param("range=203.0.113.0/24", id="range"),
        pytest.param("target=203.0.113.9", id="target"),
    ],
)
def test_listing_decisions_by_address_range_or_target(hub: Hub, query: str) -> None:
    decision_id = _decided(hub)
    charlie, delta = hub.member("charlie", "192.0.2.30"), hub.member("delta", "192.0.2.40")
    _report(charlie, "198.51.100.1")
    assert _report(delta, "198.51.100.1")["decisions"], "a second decision, elsewhere"
    listed = hub.admin().get(f"/v1/decisions?{query}")
    assert [d["id"] for d in listed["decisions"]] == [decision_id]
    assert listed["cursor"] == hub.sec.stream.last_id and listed["now"] == hub.clock()
    other = hub.admin().get("/v1/decisions?ip=198.51.100.2")
    assert other["decisions"] == []


def test_listing_decisions_for_a_member_leaves_out_others_self_defence(
    make_hub: Callable[..., Hub],
) -> None:
    hub = make_hub("unilateral")
    alpha = hub.member("alpha", "192.0.2.10")
    hub.member("bravo", "192.0.2.20")
    (own,) = _report(alpha)["decisions"]
    for member, expected in (("alpha", [own]), ("bravo", [])):
        listed = hub.admin().get(f"/v1/decisions?member={member}")["decisions"]
        assert [d["id"] for d in listed] == expected, member
