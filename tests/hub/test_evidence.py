"""Members' evidence (``POST /v1/evidence``): exposure and benign counts per source."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from shieldwall.agent.evidence import Reporter
from shieldwall.client import HubClient, HubError
from shieldwall.hub.app import open_secretariat
from shieldwall.signing import MEMBER_HEADER, SIGNATURE_HEADER, SigningKey

from .conftest import Hub
from .replicas import Pair, stop, until

SHARED = "198.18.0.7"  # a CGNAT-like address with benign users behind it


@pytest.fixture
def alpha(hub: Hub) -> tuple[Hub, SigningKey]:
    key = SigningKey.generate()
    hub.client("alpha", key).join(["192.0.2.10"])
    hub.admin().approve("alpha")
    return hub, key


def _post(hub: Hub, key: SigningKey, **fields: Any) -> Any:
    payload = {"member": "alpha", "seq": 10, "sent_at": hub.clock(), **fields}
    body = json.dumps(payload).encode()
    headers = {MEMBER_HEADER: "alpha", SIGNATURE_HEADER: key.sign(body)}
    return hub.http.post("/v1/evidence", content=body, headers=headers)


@pytest.mark.parametrize(
    ("fields", "status", "code", "words"),
    [
        pytest.param({}, 400, "bad_request", "needs 'exposure', 'benign'", id="empty"),
        pytest.param(
            {"benign": {}, "extra": 1}, 400, "bad_request", "unknown field(s) ['extra']", id="extra"
        ),
        pytest.param({"exposure": 3}, 400, "bad_request", "'exposure' must be", id="exposure-int"),
        pytest.param(
            {"exposure": {"attacks": 1, "x": 2}}, 400, "bad_request", "'exposure'", id="exp-extra"
        ),
        pytest.param(
            {"exposure": {"attacks": -1}}, 400, "bad_request", "exposure.attacks -1", id="exp-neg"
        ),
        pytest.param(
            {"exposure": {"attacks": True}}, 400, "bad_request", "exposure.attacks", id="exp-bool"
        ),
        pytest.param(
            {"exposure": {"attacks": 10**7}}, 400, "bad_request", "from 0 to 1000000", id="exp-big"
        ),
        pytest.param({"benign": []}, 400, "bad_request", "'benign' must be an object", id="list"),
        pytest.param(
            {"benign": {"not-an-ip": 2}}, 400, "invalid_address", "not-an-ip", id="bad-target"
        ),
        pytest.param({"benign": {SHARED: 0}}, 400, "bad_request", "from 1 to", id="zero-count"),
        pytest.param({"benign": {SHARED: 1.5}}, 400, "bad_request", "1.5", id="float-count"),
        pytest.param({"benign": {SHARED: "3"}}, 400, "bad_request", "'3'", id="string-count"),
        pytest.param(
            {"benign": {f"198.18.{i // 250}.{i % 250 + 1}": 1 for i in range(1001)}},
            413,
            "too_large",
            "more than 1000",
            id="too-many",
        ),
    ],
)
def test_evidence_refusals(
    alpha: tuple[Hub, SigningKey], fields: dict[str, Any], status: int, code: str, words: str
) -> None:
    hub, key = alpha
    response = _post(hub, key, **fields)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert words in body["error"]["message"]
    assert hub.sec.council.state.benign == {}
    assert hub.sec.council.state.ledger.exposure == {}


def test_unapproved_member_cannot_report_evidence(hub: Hub) -> None:
    key = SigningKey.generate()
    hub.client("alpha", key).join(["192.0.2.10"])
    response = _post(hub, key, benign={SHARED: 3})
    assert response.status_code == 403, response.text
    assert hub.sec.council.state.benign == {}


def test_evidence_is_recorded_and_replayed_after_restart(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    answer = alpha.evidence(4, {SHARED: 3, f"{SHARED}/32": 2, "2001:db8::1": 1})
    assert answer == {"member": "alpha", "exposure": 4, "benign": 2}
    alpha.evidence(1, {})
    alpha.evidence(None, {SHARED: 1})
    state = hub.sec.council.state
    assert state.ledger.exposure == {"alpha": 5}
    assert state.benign[SHARED][0] == 6
    assert state.benign["2001:db8::1"][0] == 1
    before = dict(state.benign)

    hub.http.close()
    hub.sec.store.close()
    again = open_secretariat(hub.data, clock=hub.clock)
    try:
        assert again.council.state.ledger.exposure == {"alpha": 5}
        assert dict(again.council.state.benign) == before
    finally:
        again.store.close()


def _report(client: HubClient, target: str) -> dict[str, Any]:
    signal = {"target": target, "scenario": "ssh-bruteforce", "at": client._clock(), "events": 6}
    result: dict[str, Any] = client.submit([signal])
    return result


def test_benign_evidence_turns_an_alliance_ban_into_local_bans(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    # charlie's agent saw real users log in and browse from the shared address
    events: list[tuple[str, dict[str, Any]]] = []
    reporter = Reporter(hub.member("charlie", "192.0.2.30"), 60.0, _record(events), _fail)
    reporter.counter.feed(
        (
            f"Mar  9 10:00:01 web sshd[41]: Accepted publickey for u from {SHARED} port 2 ssh2\n"
            + f'{SHARED} - - [09/Mar/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "b"\n' * 4
        ).encode()
    )
    assert asyncio.run(reporter.report())
    assert events == [("evidence_sent", {"attacks": 0, "sources": 1})]

    for client in (alpha, bravo):
        _report(client, "203.0.113.9")
        _report(client, SHARED)
    decisions = hub.viewer().decisions()["decisions"]
    plain = [d for d in decisions if d["target"] == "203.0.113.9"]
    shared = [d for d in decisions if d["target"] == SHARED]

    assert [d["applies_to"] for d in plain] == [[]], "no evidence: an alliance-wide ban"
    assert shared
    assert {m for d in shared for m in d["applies_to"]} == {"alpha", "bravo"}
    assert all(len(d["applies_to"]) == 1 for d in shared)
    assert {d["clause"] for d in shared} == {"shared.local"}


def _record(events: list[tuple[str, dict[str, Any]]]) -> Any:
    return lambda kind, **fields: events.append((kind, fields))


def _fail(exc: HubError) -> None:
    raise AssertionError(f"the agent gave up: {exc}")


def test_a_report_the_hub_cannot_take_yet_goes_into_the_next(hub: Hub) -> None:
    key = SigningKey.generate()
    client = hub.client("alpha", key)
    client.join(["192.0.2.10"])
    events: list[tuple[str, dict[str, Any]]] = []
    reporter = Reporter(client, 60.0, _record(events), _fail)
    reporter.counter.feed(
        f'{SHARED} - - [09/Mar/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 5 "-" "b"\n'.encode(),
        caught=2,
    )
    assert not asyncio.run(reporter.report()), "an applicant's report waits for its admission"
    assert [kind for kind, _ in events] == ["evidence_failed"]
    assert reporter.counter.attacks == 2 and reporter.counter.counts == {SHARED: 1}

    hub.admin().approve("alpha")
    assert asyncio.run(reporter.report())
    assert events[-1] == ("evidence_sent", {"attacks": 2, "sources": 1})
    assert hub.sec.council.state.ledger.exposure == {"alpha": 2}
    assert hub.sec.council.state.benign[SHARED][0] == 1

    inputs = hub.sec.store.count("inputs")
    assert asyncio.run(reporter.report())
    assert hub.sec.store.count("inputs") == inputs, "nothing new: nothing recorded"
    assert len(events) == 2


def test_a_replica_reproduces_the_evidence(tmp_path: Path) -> None:
    pair = Pair(tmp_path)

    async def scenario() -> None:
        pump = pair.start("alpha", "bravo")
        await pair.published()
        replica, follow = await pair.follow()
        seq = pair.primary.identities["alpha"].last_seq + 1
        pair.primary.evidence("alpha", seq, 3, {SHARED: 9})
        pair.primary.evidence("alpha", seq + 1, None, {SHARED: 1})
        await until(pair.synced)
        assert replica.council.state.ledger.exposure == {"alpha": 3}
        assert dict(replica.council.state.benign) == dict(pair.primary.council.state.benign)
        assert replica.council.state.benign[SHARED][0] == 10
        await stop(pump, follow)

    try:
        asyncio.run(scenario())
    finally:
        pair.close()
