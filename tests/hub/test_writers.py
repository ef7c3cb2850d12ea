"""Who may write, what a policy may hold, and what a store failure costs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from shieldwall.core.model import Signal
from shieldwall.hub.app import create_app, open_secretariat
from shieldwall.hub.bookkeeping import StoreFailure
from shieldwall.signing import MEMBER_HEADER, SIGNATURE_HEADER, SigningKey

from .conftest import Hub


def _admin(hub: Hub) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.token}"}


def _signed(hub: Hub, key: SigningKey, name: str, seq: int, **fields: Any) -> dict[str, Any]:
    body = json.dumps({"member": name, "seq": seq, "sent_at": hub.clock(), **fields}).encode()
    return {"content": body, "headers": {MEMBER_HEADER: name, SIGNATURE_HEADER: key.sign(body)}}


def _signal(hub: Hub, target: str = "203.0.113.9") -> dict[str, Any]:
    return {"target": target, "scenario": "ssh-bruteforce", "at": hub.clock()}


# -- standing on every signed write -------------------------------------------------

WRITES = [
    pytest.param(
        "POST",
        "/v1/signals",
        {"signals": [{"target": "203.0.113.9", "scenario": "s"}]},
        id="signals",
    ),
    pytest.param("POST", "/v1/invocations", {}, id="invocation"),
    pytest.param("POST", "/v1/members/alpha/votes", {"approve": True}, id="vote"),
    pytest.param("POST", "/v1/decisions/1/veto", {}, id="veto"),
    pytest.param("PUT", "/v1/members/{name}/policy", {"policy": {"max_ban": 60}}, id="policy"),
]


def _pending(hub: Hub, key: SigningKey) -> None:
    hub.client("mallory", key).join(["192.0.2.66"])


def _rejected(hub: Hub, key: SigningKey) -> None:
    _pending(hub, key)
    hub.admin().reject("mallory")


def _suspended(hub: Hub, key: SigningKey) -> None:
    _pending(hub, key)
    hub.admin().approve("mallory")
    hub.admin().suspend("mallory", "misbehaving")


STATUSES = [
    pytest.param(_pending, "not_approved", "has not been approved", id="applicant"),
    pytest.param(_rejected, "rejected", "refused accession", id="rejected"),
    pytest.param(_suspended, "suspended", "is suspended", id="suspended"),
]


@pytest.mark.parametrize(("make", "code", "words"), STATUSES)
@pytest.mark.parametrize(("method", "path", "fields"), WRITES)
def test_only_admitted_members_write(
    hub: Hub,
    make: Callable[[Hub, SigningKey], None],
    code: str,
    words: str,
    method: str,
    path: str,
    fields: dict[str, Any],
) -> None:
    hub.member("alpha", "192.0.2.10")
    key = SigningKey.generate()
    make(hub, key)
    inputs = hub.sec.store.last_input_seq()
    response = hub.http.request(
        method, path.format(name="mallory"), **_signed(hub, key, "mallory", 5, **fields)
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == code
    assert "'mallory'" in response.json()["error"]["message"]
    assert words in response.json()["error"]["message"]
    assert hub.sec.store.last_input_seq() == inputs, "a refused write records nothing"
    assert hub.sec.identities["mallory"].policy is None


# -- the policy a member reports ------------------------------------------------------


@pytest.fixture
def alpha(hub: Hub) -> tuple[Hub, SigningKey]:
    key = SigningKey.generate()
    hub.client("alpha", key).join(["192.0.2.10"])
    hub.admin().approve("alpha")
    return hub, key


def _put_raw(hub: Hub, key: SigningKey, body: bytes) -> Any:
    headers = {MEMBER_HEADER: "alpha", SIGNATURE_HEADER: key.sign(body)}
    return hub.http.put("/v1/members/alpha/policy", content=body, headers=headers)


@pytest.mark.parametrize(
    ("policy", "status", "code", "words"),
    [
        pytest.param("NaN", 400, "bad_json", "NaN is not a JSON number", id="nan"),
        pytest.param("Infinity", 400, "bad_json", "Infinity is not a JSON number", id="infinity"),
        pytest.param("1e999", 400, "bad_json", "1e999 is out of range", id="overflowing-float"),
        pytest.param('"strict"', 400, "bad_request", "'policy' must be an object", id="string"),
        pytest.param(
            '"' + "x" * 40_000 + '"',
            400,
            "bad_request",
            "'policy' must be an object",
            id="big-string",
        ),
        pytest.param(
            '{"allowlist": ["' + "x" * 40_000 + '"]}',
            413,
            "too_large",
            "'policy' of 40",
            id="40-kb",
        ),
    ],
)
def test_bad_policies_are_refused(
    alpha: tuple[Hub, SigningKey], policy: str, status: int, code: str, words: str
) -> None:
    hub, key = alpha
    if code == "bad_json":  # a number inside the policy
        policy = f'{{"max_ban": {policy}}}'
    body = f'{{"member": "alpha", "seq": 3, "sent_at": {hub.clock()}, "policy": {policy}}}'
    response = _put_raw(hub, key, body.encode())
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert words in response.json()["error"]["message"]
    assert hub.sec.identities["alpha"].policy is None
    assert hub.http.get("/v1/members", headers=_admin(hub)).status_code == 200


def test_the_same_policy_again_records_nothing(alpha: tuple[Hub, SigningKey]) -> None:
    hub, key = alpha
    policy = {"max_ban": 3600, "allowlist": ["198.51.100.0/24"]}
    first = hub.http.put("/v1/members/alpha/policy", **_signed(hub, key, "alpha", 1, policy=policy))
    assert first.status_code == 200
    recorded = hub.sec.store.last_input_seq()
    for seq in range(2, 6):
        again = hub.http.put(
            "/v1/members/alpha/policy", **_signed(hub, key, "alpha", seq, policy=policy)
        )
        assert again.json() == {"member": "alpha", "policy": policy}
    assert hub.sec.store.last_input_seq() == recorded
    changed = {**policy, "max_ban": 60}
    hub.http.put("/v1/members/alpha/policy", **_signed(hub, key, "alpha", 6, policy=changed))
    assert hub.sec.store.last_input_seq() == recorded + 1


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param('{"max_ban": NaN}', id="nan"),
        pytest.param('{"max_ban": Infinity}', id="infinity"),
        pytest.param("{not json", id="not-json"),
        pytest.param("[1, 2]", id="not-an-object"),
    ],
)
def test_a_bad_stored_policy_does_not_break_the_listing(
    alpha: tuple[Hub, SigningKey], stored: str
) -> None:
    hub, _key = alpha
    with hub.sec.store.transaction():
        hub.sec.store._run("UPDATE members SET policy = ? WHERE name = 'alpha'", (stored,))  # type: ignore[attr-defined]
    # As after a restart: the hub reads the row back from the store.
    sec = open_secretariat(hub.data, clock=hub.clock)
    try:
        with TestClient(create_app(sec, ticker=False), base_url="http://hub.test") as http:
            listing = http.get("/v1/members", headers=_admin(hub))
            assert listing.status_code == 200, listing.text
            (alpha_view,) = [m for m in listing.json()["members"] if m["name"] == "alpha"]
            assert alpha_view["policy"] is None
            assert http.get("/v1/members/alpha", headers=_admin(hub)).status_code == 200
    finally:
        sec.store.close()


# -- what a store failure costs -------------------------------------------------------


def _fail_once(store: Any, method: str, exc: Exception, times: int = 1) -> list[int]:
    """Make ``store.method`` raise ``exc`` on its next ``times`` calls; returns the call log."""
    real = getattr(store, method)
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) <= times:
            raise exc
        return real(*args, **kwargs)

    setattr(store, method, failing)
    return calls


def test_store_refusing_the_input_keeps_the_council(alpha: tuple[Hub, SigningKey]) -> None:
    hub, key = alpha
    council = hub.sec.council
    calls = _fail_once(hub.sec.store, "add_input", sqlite3.OperationalError("disk is full"), 3)
    batch = {"signals": [_signal(hub)]}
    for _ in range(3):  # a store that stays down: a clean 503 each time, no rebuild
        response = hub.http.post("/v1/signals", **_signed(hub, key, "alpha", 7, **batch))
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "store_unavailable"
        assert "resend" in response.json()["error"]["message"]
    assert len(calls) == 3
    assert hub.sec.council is council
    assert hub.sec.stats.council_rebuilds == 0
    assert council.consultations(hub.clock()) == []
    assert hub.sec.identities["alpha"].last_seq == 0
    # The store is back: the same batch is accepted and the council sees it once.
    assert hub.http.post("/v1/signals", **_signed(hub, key, "alpha", 7, **batch)).is_success
    assert len(council.consultations(hub.clock())) == 1
    assert hub.sec.stats.council_rebuilds == 0


def test_seq_past_64_bits_is_refused_by_the_store_before_the_council(
    alpha: tuple[Hub, SigningKey],
) -> None:
    """Behind the API's own check, the store's refusal still costs one input only."""
    hub, _key = alpha
    council = hub.sec.council
    signal = Signal("alpha", "203.0.113.9", "ssh-bruteforce", hub.clock(), 1)
    with pytest.raises(StoreFailure, match="resend"):
        hub.sec.submit("alpha", 2**63, [signal])
    assert hub.sec.council is council
    assert council.consultations(hub.clock()) == []
    assert hub.sec.stats.council_rebuilds == 0
    assert hub.sec.submit("alpha", 2**63 - 1, [signal]).accepted == 1
    assert len(council.consultations(hub.clock())) == 1


def test_a_failed_commit_after_the_council_changed_rebuilds_once(
    alpha: tuple[Hub, SigningKey],
) -> None:
    hub, key = alpha
    _fail_once(hub.sec.store, "add_events", sqlite3.OperationalError("disk is full"))
    batch = {"signals": [_signal(hub)]}
    response = hub.http.post("/v1/signals", **_signed(hub, key, "alpha", 7, **batch))
    assert response.status_code == 503
    assert hub.sec.stats.council_rebuilds == 1
    assert hub.sec.council.consultations(hub.clock()) == [], "the rebuilt council never saw it"
    assert hub.http.post("/v1/signals", **_signed(hub, key, "alpha", 7, **batch)).is_success
    assert len(hub.sec.council.consultations(hub.clock())) == 1
    assert hub.sec.stats.council_rebuilds == 1
    assert "shieldwall_council_rebuilds_total 1\n" in hub.http.get("/metrics").text


def test_a_rebuild_the_store_could_not_read_is_finished_before_the_next_change(
    alpha: tuple[Hub, SigningKey],
) -> None:
    hub, key = alpha
    down = sqlite3.OperationalError("unable to open database file")
    _fail_once(hub.sec.store, "add_events", down)
    _fail_once(hub.sec.store, "external_members", down)  # the rebuild's first read
    batch = {"signals": [_signal(hub)]}
    first = hub.http.post("/v1/signals", **_signed(hub, key, "alpha", 7, **batch))
    assert first.status_code == 503
    assert first.json()["error"]["code"] == "store_unavailable"
    # The store reads again: the next change first finishes the rebuild, then is taken.
    assert hub.http.post("/v1/signals", **_signed(hub, key, "alpha", 7, **batch)).is_success
    assert len(hub.sec.council.consultations(hub.clock())) == 1
    assert hub.sec.store.count("signals") == 1
