"""The API's boundary: hostile bodies, ids and writers get a 4xx in the one error shape.

Every refusal names the bad value or field; nothing is stored, the council is not
rebuilt, and the hub keeps serving.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shieldwall.signing import MEMBER_HEADER, SIGNATURE_HEADER, SigningKey

from .conftest import Hub

Raw = Callable[[Hub], bytes]


def _admin(hub: Hub) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.token}"}


def _batch_text(hub: Hub, seq: str = "10", signals: str | None = None, extra: str = "") -> bytes:
    """A signal batch written by hand, so that it can hold what json.dumps never writes."""
    if signals is None:
        signals = (
            f'[{{"target": "203.0.113.9", "scenario": "ssh-bruteforce", "at": {hub.clock()}}}]'
        )
    text = f'{{"member": "alpha", "seq": {seq}, "sent_at": {hub.clock()}, "signals": {signals}{extra}}}'
    return text.encode()


def _signed_raw(key: SigningKey, body: bytes, name: str = "alpha") -> dict[str, str]:
    return {MEMBER_HEADER: name, SIGNATURE_HEADER: key.sign(body)}


@pytest.fixture
def alpha(hub: Hub) -> tuple[Hub, SigningKey]:
    key = SigningKey.generate()
    hub.client("alpha", key).join(["192.0.2.10"])
    hub.admin().approve("alpha")
    return hub, key


def _assert_error(response: Any, status: int, code: str, words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert words in body["error"]["message"]
    return body


DEEP = "[" * 1000 + "]" * 1000

BATCHES = [
    pytest.param(
        lambda h: _batch_text(h, signals=DEEP), "nests more than 32 levels", id="nested-1000"
    ),
    pytest.param(lambda h: _batch_text(h, seq="NaN"), "NaN is not a JSON number", id="seq-nan"),
    pytest.param(
        lambda h: _batch_text(h, seq="Infinity"), "Infinity is not a JSON number", id="seq-inf"
    ),
    pytest.param(
        lambda h: _batch_text(h, seq="-Infinity"), "-Infinity is not a JSON number", id="neg-inf"
    ),
    pytest.param(lambda h: _batch_text(h, seq="1e400"), "1e400 is out of range", id="float-1e400"),
    pytest.param(
        lambda h: _batch_text(h, seq=str(2**63)), f"'seq' {2**63} must be", id="seq-2-to-63"
    ),
    pytest.param(
        lambda h: _batch_text(h, seq="9" * 30), f"'seq' {'9' * 30} must be", id="seq-30-digits"
    ),
    pytest.param(lambda h: _batch_text(h, seq="9" * 5000), "not valid JSON", id="seq-5000-digits"),
    pytest.param(
        lambda h: _batch_text(h, extra=', "seq": 11'),
        "key 'seq' appears twice",
        id="duplicate-key",
    ),
    pytest.param(
        lambda h: _batch_text(
            h, signals='[{"target": "203.0.113.9", "scenario": "a\\ud800", "at": 1}]'
        ),
        "lone surrogate",
        id="lone-surrogate",
    ),
    pytest.param(
        lambda h: _batch_text(
            h, signals='[{"target": "203.0.113.9\\u0000", "scenario": "a", "at": 1}]'
        ),
        "NUL character",
        id="nul-character",
    ),
    pytest.param(lambda h: b'{"member": "alpha", "seq": 10', "not valid JSON", id="truncated"),
    pytest.param(lambda h: b"\xff\xfe{}", "not UTF-8", id="not-utf8"),
]


@pytest.mark.parametrize(("make", "words"), BATCHES)
def test_hostile_signed_batch_is_a_400(
    alpha: tuple[Hub, SigningKey], make: Raw, words: str
) -> None:
    hub, key = alpha
    body = make(hub)
    response = hub.http.post("/v1/signals", content=body, headers=_signed_raw(key, body))
    code = "bad_request" if words.startswith("'seq'") else "bad_json"
    _assert_error(response, 400, code, words)
    assert hub.sec.store.count("signals") == 0
    assert hub.sec.stats.council_rebuilds == 0
    assert hub.sec.identities["alpha"].last_seq == 0
    # The member's next good batch is accepted: nothing was half done.
    good = _batch_text(hub, seq="11")
    assert hub.http.post("/v1/signals", content=good, headers=_signed_raw(key, good)).is_success


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 30_000, id="open-brackets"),
        pytest.param(b'{"name": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, id="nested-objects"),
        pytest.param(b'{"name": "x", "addresses": ["' + b"\\" * 7 + b'"]' + b"[" * 40, id="quote"),
    ],
)
def test_deeply_nested_join_is_a_400(hub: Hub, body: bytes) -> None:
    response = hub.http.post("/v1/members", content=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_json"
    assert hub.http.get("/healthz").status_code == 200


IDS = [
    pytest.param("%C2%B2", "'²'", id="superscript-two"),
    pytest.param("%D9%A1", "'١'", id="arabic-indic-one"),
    pytest.param("%EF%BC%91", "'１'", id="fullwidth-one"),
    pytest.param("-1", "'-1'", id="negative"),
    pytest.param("9" * 19, "'9999999999999999999'", id="19-digits"),
    pytest.param("1" * 40, "'1111111111111111111111111111111", id="40-digits"),
    pytest.param("1e3", "'1e3'", id="exponent"),
    pytest.param("1_0", "'1_0'", id="underscore"),
    pytest.param("%201", "' 1'", id="space"),
]


@pytest.mark.parametrize(("raw", "shown"), IDS)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/v1/decisions/{}", id="show"),
        pytest.param("POST", "/v1/decisions/{}/revoke", id="revoke"),
        pytest.param("GET", "/v1/stream?after={}", id="stream-after"),
    ],
)
def test_ids_are_ascii_digits_within_int64(
    hub: Hub, method: str, path: str, raw: str, shown: str
) -> None:
    response = hub.http.request(method, path.format(raw), headers=_admin(hub))
    _assert_error(response, 400, "bad_request", shown)
    assert "9223372036854775807" in response.json()["error"]["message"]


def test_unicode_digit_event_id_header_is_a_400(hub: Hub) -> None:
    # HTTP headers are bytes: a client may send UTF-8 digits there too.
    headers = [(b"authorization", f"Bearer {hub.token}".encode()), (b"last-event-id", "١".encode())]
    response = hub.http.get("/v1/stream", headers=headers)  # type: ignore[arg-type]
    _assert_error(response, 400, "bad_request", "Last-Event-ID")


def test_decision_one_is_not_read_from_other_scripts(hub: Hub) -> None:
    response = hub.http.get("/v1/decisions/%D9%A1", headers=_admin(hub))
    assert response.status_code == 400
    assert hub.http.get("/v1/decisions/1", headers=_admin(hub)).status_code == 404


def test_largest_id_is_a_404_not_a_500(hub: Hub) -> None:
    response = hub.http.get(f"/v1/decisions/{2**63 - 1}", headers=_admin(hub))
    _assert_error(response, 404, "not_found", str(2**63 - 1))


def test_405_names_every_allowed_method(hub: Hub) -> None:
    from starlette.routing import Route

    app = hub.http.app
    by_path: dict[str, set[str]] = {}
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.methods:
            by_path.setdefault(route.path, set()).update(route.methods)
    assert "/v1/members" in by_path
    for path, methods in by_path.items():
        concrete = path.replace("{name}", "alpha").replace("{id}", "1").replace("{fmt}", "nft")
        concrete = concrete.replace("{object_id}", "x").replace("{status_id}", "x")
        response = hub.http.request("PATCH", concrete)
        assert response.status_code == 405, (path, response.text)
        assert response.headers["allow"] == ", ".join(sorted(methods)), path
        assert response.json()["error"]["code"] == "method_not_allowed"
        assert "PATCH" not in response.headers["allow"]


def test_the_openapi_document_lists_every_route_of_the_hub(hub: Hub) -> None:
    """Each route of the hub's own API is documented with its methods, and only those."""
    from starlette.routing import Route

    from shieldwall.hub import openapi

    served: dict[str, set[str]] = {}
    for route in hub.http.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.methods:
            served.setdefault(route.path, set()).update(m.lower() for m in route.methods)
    paths = hub.http.get("/openapi.json").json()["paths"]
    assert paths == openapi.document(hub.sec.settings)["paths"]
    documented = {path: {m for m in item if m != "parameters"} for path, item in paths.items()}
    assert set(documented) == set(served)
    for path, methods in documented.items():
        assert methods == served[path] - {"head"}, path
