"""Every refusal of a signal batch: one error shape, nothing stored, the hub keeps serving."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from shieldwall.client import HubClient, HubError
from shieldwall.signing import MEMBER_HEADER, SIGNATURE_HEADER, SigningKey

from .conftest import Hub


def _post(hub: Hub, body: bytes, headers: dict[str, str]) -> Any:
    return hub.http.post("/v1/signals", content=body, headers=headers)


def _signed(key: SigningKey, name: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {MEMBER_HEADER: name, SIGNATURE_HEADER: key.sign(body)}


def _batch(hub: Hub, name: str = "alpha", seq: int = 10, **over: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "member": name,
        "seq": seq,
        "sent_at": hub.clock(),
        "signals": [
            {"target": "203.0.113.9", "scenario": "ssh-bruteforce", "at": hub.clock(), "events": 5}
        ],
    }
    payload.update(over)
    return payload


@pytest.fixture
def alpha(hub: Hub) -> tuple[Hub, SigningKey]:
    key = SigningKey.generate()
    hub.client("alpha", key).join(["192.0.2.10"])
    hub.admin().approve("alpha")
    return hub, key


def _assert_refused(hub: Hub, response: Any, status: int, code: str, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert words in body["error"]["message"]
    assert hub.sec.store.count("signals") == 0
    assert hub.sec.store.count("decisions") == 0
    assert hub.http.get("/healthz").status_code == 200


def _forged(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
    body, headers = _signed(key, "alpha", _batch(hub))
    return body, {**headers, SIGNATURE_HEADER: SigningKey.generate().sign(body)}


def _tampered(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
    body, headers = _signed(key, "alpha", _batch(hub))
    return body.replace(b"203.0.113.9", b"203.0.113.8"), headers


def _unsigned(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
    return json.dumps(_batch(hub)).encode(), {MEMBER_HEADER: "alpha"}


def _unknown(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
    return _signed(key, "mallory", _batch(hub, "mallory"))


def _stale(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
    return _signed(key, "alpha", _batch(hub, sent_at=hub.clock() - 3600))


def _future_signal(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
    sig = {"target": "203.0.113.9", "scenario": "ssh-bruteforce", "at": hub.clock() + 7200}
    return _signed(key, "alpha", _batch(hub, signals=[sig]))


def _not_json(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
    body = b"{not json"
    return body, {MEMBER_HEADER: "alpha", SIGNATURE_HEADER: key.sign(body)}


def _not_object(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
    body = b"[1, 2]"
    return body, {MEMBER_HEADER: "alpha", SIGNATURE_HEADER: key.sign(body)}


def _signals(targets: list[Any]) -> Callable[[Hub, SigningKey], tuple[bytes, dict[str, str]]]:
    def make(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
        sigs = [{"target": t, "scenario": "ssh-bruteforce", "at": hub.clock()} for t in targets]
        return _signed(key, "alpha", _batch(hub, signals=sigs))

    return make


def _field(**over: Any) -> Callable[[Hub, SigningKey], tuple[bytes, dict[str, str]]]:
    def make(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
        return _signed(key, "alpha", _batch(hub, **over))

    return make


def _signal_field(**over: Any) -> Callable[[Hub, SigningKey], tuple[bytes, dict[str, str]]]:
    def make(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
        sig = {"target": "203.0.113.9", "scenario": "ssh-bruteforce", "at": hub.clock(), **over}
        return _signed(key, "alpha", _batch(hub, signals=[sig]))

    return make


def _wrong_member_in_body(hub: Hub, key: SigningKey) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(_batch(hub, member="bravo")).encode()
    return body, {MEMBER_HEADER: "alpha", SIGNATURE_HEADER: key.sign(body)}


CASES = [
    pytest.param(_unsigned, 401, "unsigned", "not signed", id="unsigned"),
    pytest.param(_forged, 401, "bad_signature", "does not match", id="forged-signature"),
    pytest.param(_tampered, 401, "bad_signature", "exact body", id="tampered-body"),
    pytest.param(_unknown, 403, "unknown_member", "'mallory' is not known", id="unknown-member"),
    pytest.param(_stale, 400, "stale", "check the member's clock", id="stale-batch"),
    pytest.param(
        _future_signal, 400, "stale", "outside the accepted range", id="signal-from-future"
    ),
    pytest.param(_not_json, 400, "bad_json", "not valid JSON", id="malformed-json"),
    pytest.param(_not_object, 400, "bad_json", "must be a JSON object", id="json-not-object"),
    pytest.param(
        _wrong_member_in_body, 400, "member_mismatch", "'bravo'", id="body-names-other-member"
    ),
    pytest.param(_signals(["999.1.1.1"]), 400, "invalid_address", "'999.1.1.1'", id="invalid-ipv4"),
    pytest.param(
        _signals(["10.0.0.1/33"]), 400, "invalid_address", "'10.0.0.1/33'", id="invalid-prefix"
    ),
    pytest.param(
        _signals(["10.0.0.0/8"]), 400, "invalid_address", "broader than the treaty", id="too-broad"
    ),
    pytest.param(
        _signals(["10.0.0.1/24"]), 400, "invalid_address", "10.0.0.0/24", id="host-bits-set"
    ),
    pytest.param(
        _signals(["203.0.113.7", "nonsense"]),
        400,
        "invalid_address",
        "signals[1]",
        id="one-bad-in-batch",
    ),
    pytest.param(_signals([12345]), 400, "invalid_address", "not a string", id="target-not-string"),
    pytest.param(_field(signals=[]), 400, "bad_request", "non-empty list", id="empty-batch"),
    pytest.param(_field(seq="7"), 400, "bad_request", "'seq'", id="seq-not-int"),
    pytest.param(_field(seq=-1), 400, "bad_request", "'seq' -1 must be", id="seq-negative"),
    pytest.param(_field(sent_at="now"), 400, "bad_request", "'sent_at'", id="sent-at-not-number"),
    pytest.param(_field(extra=1), 400, "bad_request", "unknown field", id="unknown-batch-field"),
    pytest.param(
        _signal_field(scenario="bad scenario!"), 400, "bad_request", "scenario", id="bad-scenario"
    ),
    pytest.param(_signal_field(events=0), 400, "bad_request", "'events'", id="zero-events"),
    pytest.param(_signal_field(events=True), 400, "bad_request", "'events'", id="bool-events"),
    pytest.param(
        _signal_field(color="red"), 400, "bad_request", "unknown field", id="unknown-signal-field"
    ),
]


@pytest.mark.parametrize(("make", "status", "code", "words"), CASES)
def test_refused_batch_stores_nothing(
    alpha: tuple[Hub, SigningKey], make: Any, status: int, code: str, words: str
) -> None:
    hub, key = alpha
    body, headers = make(hub, key)
    _assert_refused(hub, _post(hub, body, headers), status, code, words)


def test_replayed_batch_is_refused(alpha: tuple[Hub, SigningKey]) -> None:
    hub, key = alpha
    body, headers = _signed(key, "alpha", _batch(hub, seq=50))
    assert _post(hub, body, headers).status_code == 200
    stored = hub.sec.store.count("signals")
    again = _post(hub, body, headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "replayed"
    older = _post(hub, *_signed(key, "alpha", _batch(hub, seq=49)))
    assert older.json()["error"]["code"] == "replayed"
    assert hub.sec.store.count("signals") == stored


def test_oversized_body_is_refused(alpha: tuple[Hub, SigningKey]) -> None:
    hub, key = alpha
    limit = hub.sec.settings.max_body_bytes
    body = b'{"member":"alpha","pad":"' + b"x" * limit + b'"}'
    response = _post(hub, body, {MEMBER_HEADER: "alpha", SIGNATURE_HEADER: key.sign(body)})
    _assert_refused(hub, response, 413, "too_large", "smaller batches")


def test_too_many_signals_is_refused(alpha: tuple[Hub, SigningKey]) -> None:
    hub, key = alpha
    count = hub.sec.settings.max_signals_per_batch + 1
    sigs = [{"target": "203.0.113.9", "scenario": "s"}] * count
    _assert_refused(
        hub,
        _post(hub, *_signed(key, "alpha", _batch(hub, signals=sigs))),
        413,
        "too_large",
        "split",
    )


def test_unapproved_member_is_refused(hub: Hub) -> None:
    key = SigningKey.generate()
    hub.client("newbie", key).join(["192.0.2.77"])
    body, headers = _signed(key, "newbie", _batch(hub, "newbie"))
    _assert_refused(hub, _post(hub, body, headers), 403, "not_approved", "not been approved")


def test_suspended_member_is_refused(alpha: tuple[Hub, SigningKey]) -> None:
    hub, key = alpha
    hub.admin().suspend("alpha", "testing")
    body, headers = _signed(key, "alpha", _batch(hub))
    _assert_refused(hub, _post(hub, body, headers), 403, "suspended", "suspended")


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        pytest.param("/nowhere", "GET", 404, "not_found", id="unknown-path"),
        pytest.param("/v1/signals", "GET", 405, "method_not_allowed", id="wrong-method"),
        pytest.param("/v1/decisions", "GET", 401, "unauthorized", id="read-anonymously"),
        pytest.param(
            "/v1/members/x/approve", "POST", 401, "unauthorized", id="approve-without-token"
        ),
        pytest.param(
            "/v1/decisions/1/revoke", "POST", 401, "unauthorized", id="revoke-without-token"
        ),
        pytest.param("/v1/stream", "GET", 401, "unsigned", id="stream-unsigned"),
    ],
)
def test_error_shape(hub: Hub, path: str, method: str, status: int, code: str) -> None:
    response = hub.http.request(method, path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        pytest.param("/v1/decisions/abc", "GET", 400, "bad_request", id="bad-decision-id"),
        pytest.param("/v1/decisions/999", "GET", 404, "not_found", id="missing-decision"),
        pytest.param(
            "/v1/decisions?ip=999.1.1.1", "GET", 400, "invalid_address", id="bad-query-ip"
        ),
        pytest.param("/v1/lookup?target=10.0.0.0/33", "GET", 400, "invalid_address", id="lookup"),
        pytest.param("/v1/lookup", "GET", 400, "bad_request", id="lookup-nothing"),
        pytest.param("/v1/activity?limit=0", "GET", 400, "bad_request", id="activity-limit"),
        pytest.param("/v1/activity?kind=naps", "GET", 400, "bad_request", id="activity-kind"),
        pytest.param("/v1/members/nobody/detail", "GET", 404, "unknown_member", id="no-member"),
        pytest.param(
            "/v1/members/x/approve", "POST", 401, "unauthorized", id="approve-with-read-token"
        ),
    ],
)
def test_error_shape_of_reads(hub: Hub, path: str, method: str, status: int, code: str) -> None:
    """With a read token: bad reads say what is wrong; a read token changes nothing."""
    token = {"Authorization": f"Bearer {hub.read_token}"}
    response = hub.http.request(method, path, headers=token)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_wrong_admin_token_is_refused(hub: Hub) -> None:
    hub.member("alpha", "192.0.2.10", approve=False)
    impostor = HubClient("http://hub.test", admin_token="swa_wrong", http=hub.http, clock=hub.clock)
    with pytest.raises(HubError, match="admin token") as info:
        impostor.approve("alpha")
    assert info.value.status == 401


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        pytest.param(
            {"name": "Bad Name!", "public_key": "x", "addresses": ["192.0.2.1"]},
            "not valid",
            id="bad-name",
        ),
        pytest.param(
            {"name": "ok", "public_key": "x", "addresses": ["192.0.2.1"]},
            "public key",
            id="bad-key",
        ),
        pytest.param(
            {"name": "ok", "public_key": "x", "addresses": []}, "'addresses'", id="no-addresses"
        ),
        pytest.param(
            {"name": "ok", "public_key": "x", "addresses": ["300.1.1.1"]},
            "'300.1.1.1'",
            id="bad-address",
        ),
    ],
)
def test_join_refusals(hub: Hub, payload: dict[str, Any], words: str) -> None:
    response = hub.http.post("/v1/members", json=payload)
    assert response.status_code == 400
    assert words in response.json()["error"]["message"]
    assert hub.sec.store.count("members") == 0


def test_join_needs_proof_of_key(hub: Hub) -> None:
    key, other = SigningKey.generate(), SigningKey.generate()
    body = json.dumps(
        {"name": "ok", "public_key": key.public_key, "addresses": ["192.0.2.1"]}
    ).encode()
    response = hub.http.post(
        "/v1/members", content=body, headers={SIGNATURE_HEADER: other.sign(body)}
    )
    assert response.status_code == 401
    assert hub.sec.store.count("members") == 0


def test_duplicate_name_and_key_are_refused(hub: Hub) -> None:
    key = SigningKey.generate()
    hub.client("alpha", key).join(["192.0.2.10"])
    with pytest.raises(HubError, match="taken"):
        hub.client("alpha", SigningKey.generate()).join(["192.0.2.11"])
    with pytest.raises(HubError, match="already belongs"):
        hub.client("bravo", key).join(["192.0.2.12"])


def test_pending_applications_are_capped(make_hub: Any) -> None:
    hub = make_hub("nato")
    limit = hub.sec.settings.max_pending_applicants
    # Every request here comes from one address: let it past the per-source join limit.
    hub.sec.settings = replace(hub.sec.settings, join_burst=limit + 2)
    for i in range(limit):
        hub.client(f"applicant{i}", SigningKey.generate()).join(
            [f"198.51.{i // 250}.{i % 250 + 1}"]
        )
    with pytest.raises(HubError, match="await approval") as refused:
        hub.client("one-too-many", SigningKey.generate()).join(["203.0.113.1"])
    assert refused.value.status == 429
    assert hub.sec.store.count("members") == limit
    hub.admin().approve("applicant0")
    hub.client("next", SigningKey.generate()).join(["203.0.113.2"])


def test_failed_commit_is_undone_and_can_be_resent(alpha: tuple[Hub, SigningKey]) -> None:
    hub, key = alpha
    bravo = hub.member("bravo", "192.0.2.20")
    store = hub.sec.store
    real_add_signals = store.add_signals
    failures = iter([OSError("disk full")])

    def failing(*args: Any, **kwargs: Any) -> None:
        for exc in failures:
            raise exc
        real_add_signals(*args, **kwargs)

    store.add_signals = failing  # type: ignore[method-assign]
    body, headers = _signed(key, "alpha", _batch(hub, seq=100))
    response = _post(hub, body, headers)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    assert "resend" in response.json()["error"]["message"]
    assert hub.sec.store.count("signals") == 0
    assert hub.viewer().consultations()["consultations"] == [], "the council forgot it too"
    # The member resends (same seq: it was never accepted); a second report decides.
    assert _post(hub, body, headers).status_code == 200
    decided = bravo.submit(
        [{"target": "203.0.113.9", "scenario": "ssh-bruteforce", "at": hub.clock()}]
    )
    assert decided["decisions"] == [1]
