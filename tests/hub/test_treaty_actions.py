"""Treaty actions through the API: voted accession, veto, invocation, reported policy."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shieldwall.client import HubClient, HubError
from shieldwall.core.treaty import template_text
from shieldwall.signing import SigningKey

from .conftest import Hub


def _un(permanent: str) -> str:
    text = template_text("un")
    assert "permanent = []" in text
    return text.replace("permanent = []", f'permanent = ["{permanent}"]')


def _join(hub: Hub, name: str, address: str) -> HubClient:
    client = hub.client(name, SigningKey.generate())
    client.join([address])
    return client


def _status(hub: Hub, name: str) -> str:
    return str(hub.viewer().get(f"/v1/members/{name}")["status"])


def _report(client: HubClient, target: str) -> dict:
    return client.submit([{"target": target, "scenario": "ssh-bruteforce", "at": client._clock()}])


def test_majority_accession_by_signed_votes(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(text=_un("alpha"))
    alpha = _join(hub, "alpha", "192.0.2.10")
    hub.admin().approve("alpha")  # the founding member
    assert _status(hub, "alpha") == "active"
    _join(hub, "bravo", "192.0.2.20")
    with pytest.raises(HubError) as refused:
        hub.admin().approve("bravo")
    assert refused.value.status == 409
    assert _status(hub, "bravo") != "active"
    alpha.vote("bravo", approve=True)
    assert _status(hub, "bravo") == "active"
    outsider = hub.client("mallory", SigningKey.generate())
    with pytest.raises(HubError, match="not known"):
        outsider.vote("bravo", approve=True)


def test_permanent_member_vetoes_a_collective_decision(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(text=_un("alpha"))
    alpha = _join(hub, "alpha", "192.0.2.10")
    hub.admin().approve("alpha")
    bravo = _join(hub, "bravo", "192.0.2.20")
    alpha.vote("bravo", approve=True)
    charlie = _join(hub, "charlie", "192.0.2.30")
    alpha.vote("charlie", approve=True)
    bravo.vote("charlie", approve=True)
    assert _status(hub, "charlie") == "active"

    decision_id = None
    for client in (alpha, bravo, charlie):
        decision_id = (_report(client, "203.0.113.9")["decisions"] or [decision_id])[0]
    assert decision_id is not None, "three distinct reports reach the un quorum"

    with pytest.raises(HubError) as refused:
        bravo.veto(decision_id)
    assert refused.value.status == 403
    assert hub.viewer().decisions()["decisions"]

    vetoed = alpha.veto(decision_id)["revoked"][0]
    assert (vetoed["decision_id"], vetoed["clause"]) == (decision_id, "veto")
    assert hub.viewer().decisions()["decisions"] == []


def test_invocation_needs_a_heavy_attack(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    hub.member("bravo", "192.0.2.20")
    with pytest.raises(HubError) as refused:
        alpha.invoke()
    assert refused.value.status == 409
    minimum = hub.sec.treaty.invocation.min_signals
    alpha.submit(
        [{"target": f"198.51.100.{i + 1}", "scenario": "ssh-bruteforce"} for i in range(minimum)]
    )
    assert alpha.invoke()["invoked"] is True
    decided = _report(alpha, "203.0.113.77")["decisions"]
    assert decided, "an invoking member's own report is acted on without corroboration"
    decision = hub.viewer().decisions(ip="203.0.113.77")["decisions"][0]
    assert (decision["clause"], decision["members"]) == ("art5.invocation", ["alpha"])


def test_member_reports_its_policy(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    alpha.put_policy({"max_ban": 86400, "self_defence": True})
    assert hub.viewer().get("/v1/members/alpha")["policy"] == {
        "max_ban": 86400,
        "self_defence": True,
    }
    other = hub.member("bravo", "192.0.2.20")
    with pytest.raises(HubError, match="must be an object"):
        other._member_post("PUT", "/v1/members/bravo/policy", {"policy": "everything"})
    with pytest.raises(HubError, match="only its own policy") as refused:
        other._member_post("PUT", "/v1/members/alpha/policy", {"policy": {}})
    assert refused.value.status == 403
    assert hub.viewer().get("/v1/members/alpha")["policy"]["max_ban"] == 86400
