"""TAXII 2.1 writes: what partners POST becomes signals, and what is refused, one by one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stix2
from starlette.applications import Starlette

from shieldwall.interop.taxii import MAX_CONTENT, MAX_OBJECTS, TAXII_MEDIA

from .conftest import COL, WRITER
from .conftest import taxii_call as call


def _envelope(*objects: dict[str, Any]) -> str:
    return json.dumps({"objects": list(objects)})


def _indicator(pattern: str, **extra: Any) -> dict[str, Any]:
    ind = stix2.Indicator(
        pattern=pattern,
        pattern_type="stix",
        valid_from="2023-01-01T00:00:00Z",
        indicator_types=["malicious-activity"],
        allow_custom=True,
        **extra,
    )
    return json.loads(ind.serialize())


def test_post_needs_write_grant_and_taxii_content_type(taxii_app) -> None:
    body = _envelope(_indicator("[ipv4-addr:value = '203.0.113.50']"))
    ct = {"Content-Type": TAXII_MEDIA}
    assert call(taxii_app, "POST", f"{COL}/objects/", content=body, headers=ct).status_code == 403
    r = call(
        taxii_app,
        "POST",
        f"{COL}/objects/",
        secret=WRITER,
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 415


def test_post_turns_indicators_into_partner_signals(taxii_app, source) -> None:
    good = _indicator("[ipv4-addr:value = '203.0.113.50'] OR [ipv4-addr:value = '198.51.100.0/24']")
    sight = json.loads(stix2.Sighting(sighting_of_ref=good["id"], count=4).serialize())
    cases = [
        _indicator("[ipv4-addr:value = '203.0.113.999']"),
        _indicator("[ipv4-addr:value = '10.0.0.1/8']"),
        _indicator("[ipv6-addr:value = '203.0.113.1']"),
        _indicator("[file:name = 'x.exe']"),
        {**_indicator("[ipv4-addr:value = '203.0.113.51']"), "confidence": 250},
    ]
    r = call(
        taxii_app,
        "POST",
        f"{COL}/objects/",
        secret=WRITER,
        content=_envelope(good, sight, *cases),
        headers={"Content-Type": TAXII_MEDIA},
    )
    assert r.status_code == 202
    status = r.json()
    assert (status["status"], status["success_count"], status["failure_count"]) == (
        "complete",
        2,
        5,
    )
    messages = {f["id"]: f["message"] for f in status["failures"]}
    assert "203.0.113.999" in messages[cases[0]["id"]]
    assert "host bits set" in messages[cases[1]["id"]]
    assert "is not an ipv6-addr" in messages[cases[2]["id"]]
    assert "is not a list of address comparisons" in messages[cases[3]["id"]]
    assert messages[cases[4]["id"]].startswith("confidence 250")
    ((partner, signals),) = source.submitted
    assert partner == "opencti-west"
    assert sorted((s.target, s.events, s.member) for s in signals) == [
        ("198.51.100.0/24", 5, "opencti-west"),
        ("203.0.113.50", 5, "opencti-west"),
    ]
    assert any(m.name == "opencti-west" and m.external for m in source.members())
    polled = call(taxii_app, "GET", f"/taxii2/api/status/{status['id']}/", secret=WRITER).json()
    assert polled["id"] == status["id"]
    assert (
        call(taxii_app, "GET", f"/taxii2/api/status/{status['id']}/").status_code == 404
    )  # not yours


def _post(taxii_app: Starlette, body: Any, **kw: Any) -> httpx.Response:
    return call(
        taxii_app,
        "POST",
        f"{COL}/objects/",
        secret=WRITER,
        content=body,
        headers={"Content-Type": TAXII_MEDIA, **kw.pop("headers", {})},
        **kw,
    )


async def _chunks(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * 65536
        sent += 65536


@pytest.mark.parametrize(
    ("body", "status", "title", "description"),
    [
        pytest.param(
            b" " * (MAX_CONTENT + 1),
            413,
            "too large",
            f"send at most {MAX_CONTENT} bytes a request",
            id="huge",
        ),
        pytest.param(
            _chunks(MAX_CONTENT + 65536),
            413,
            "too large",
            f"send at most {MAX_CONTENT} bytes a request",
            id="huge-without-content-length",
        ),
        pytest.param(
            json.dumps({"objects": [{"type": "x"}] * (MAX_OBJECTS + 1)}),
            413,
            "too many objects",
            f"the envelope holds {MAX_OBJECTS + 1} objects: send at most {MAX_OBJECTS} a request",
            id="too-many-objects",
        ),
        pytest.param(
            "{not json",
            400,
            "bad envelope",
            "the body is not valid JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)): send a JSON document",
            id="json",
        ),
        pytest.param(
            "[" * 200_000,
            400,
            "bad envelope",
            "the body nests more than 32 levels deep: send a flatter document",
            id="nested-too-deeply",
        ),
        pytest.param(
            '{"objects": [{"type": "indicator", "confidence": NaN}]}',
            400,
            "bad envelope",
            "NaN is not a JSON number: send finite numbers only",
            id="nan",
        ),
        pytest.param(
            '{"objects": [], "objects": [{"type": "indicator"}]}',
            400,
            "bad envelope",
            "key 'objects' appears twice in one object: send it once",
            id="duplicate-key",
        ),
        pytest.param(
            "[]",
            400,
            "bad envelope",
            'send a TAXII envelope: {"objects": [...]}',
            id="not-envelope",
        ),
        pytest.param(
            '{"objects": {}}',
            400,
            "bad envelope",
            'send a TAXII envelope: {"objects": [...]}',
            id="objects-not-a-list",
        ),
    ],
)
def test_hostile_envelopes_are_refused(taxii_app, source, body, status, title, description) -> None:
    r = _post(taxii_app, body)
    assert r.status_code == status
    assert r.headers["content-type"] == TAXII_MEDIA
    assert r.json() == {"title": title, "description": description, "http_status": str(status)}
    assert source.submitted == []
    assert call(taxii_app, "GET", "/taxii2/").status_code == 200, "the server keeps serving"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param(42, "object is not a JSON object", id="not-an-object"),
        pytest.param(
            {"type": "indicator", "id": "indicator--x"},
            "Invalid value for Indicator 'id'",
            id="not-stix",
        ),
        pytest.param(
            {**_indicator("[ipv4-addr:value = '203.0.113.51']"), "confidence": -1},
            "confidence -1 of indicator--",
            id="confidence-negative",
        ),
        pytest.param(
            {**_indicator("[ipv4-addr:value = '203.0.113.51']"), "confidence": True},
            "confidence True of indicator--",
            id="confidence-bool",
        ),
        pytest.param(
            {**_indicator("[ipv4-addr:value = '203.0.113.51']"), "confidence": 50.5},
            "confidence 50.5 of indicator--",
            id="confidence-float",
        ),
        pytest.param(
            {
                **_indicator("[ipv4-addr:value = '203.0.113.1']"),
                "pattern": "[ipv4-addr:value = '203.0.113.1'"
                + " OR ipv4-addr:value = '203.0.113.1'" * 400
                + "] AND [file:name = 'x.exe']",
            },
            "is not a list of address comparisons",
            id="long-pattern-not-only-addresses",
        ),
        pytest.param(
            _indicator(" OR ".join(f"[ipv4-addr:value = '198.51.100.{i}']" for i in range(101))),
            "pattern has 101 addresses: send at most 100",
            id="too-many-addresses",
        ),
        pytest.param(
            _indicator("[ipv4-addr:value = '203.0.113.50']")
            | {"pattern_type": "snort", "pattern": "alert tcp any any -> any any"},
            "pattern_type 'snort' is not supported: use stix",
            id="other-pattern-language",
        ),
    ],
)
def test_hostile_objects_fail_one_by_one(taxii_app, source, obj, message) -> None:
    good = _indicator("[ipv4-addr:value = '203.0.113.50']")
    status = _post(taxii_app, _envelope(obj, good)).json()
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (2, 1, 1)
    (failure,) = status["failures"]
    assert message in failure["message"]
    assert status["successes"] == [{"id": good["id"], "version": good["modified"]}]
    ((_, signals),) = source.submitted
    assert [s.target for s in signals] == ["203.0.113.50"]


def test_ignored_objects_are_accepted_but_not_signals(taxii_app, source, clock) -> None:
    expired = _indicator("[ipv4-addr:value = '203.0.113.60']", valid_until="2023-06-01T00:00:00Z")
    revoked = _indicator("[ipv4-addr:value = '203.0.113.61']", revoked=True)
    benign = _indicator("[ipv4-addr:value = '203.0.113.62']") | {"indicator_types": ["benign"]}
    note = json.loads(stix2.Note(content="hello", object_refs=[benign["id"]]).serialize())
    twice = _indicator("[ipv4-addr:value = '203.0.113.63']")
    status = _post(taxii_app, _envelope(expired, revoked, benign, note, twice, twice)).json()
    assert (status["success_count"], status["failure_count"]) == (6, 0)
    ((_, signals),) = source.submitted
    assert [s.target for s in signals] == ["203.0.113.63", "203.0.113.63"]


def test_odd_indicator_types_make_valid_scenarios(taxii_app, source) -> None:
    odd = _indicator("[ipv4-addr:value = '203.0.113.64']") | {"indicator_types": ["C2 server!"]}
    assert _post(taxii_app, _envelope(odd)).json()["success_count"] == 1
    ((_, (signal,)),) = source.submitted
    assert signal.scenario == "stix-C2-server-"
