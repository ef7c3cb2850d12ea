"""The TAXII 2.1 server: in-process checks, then the real taxii2-client over loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stix2
import uvicorn
from starlette.applications import Starlette
from taxii2client.v21 import Collection, Server, as_pages

from shieldwall.core.model import Signal
from shieldwall.interop.stix import indicator_id, member_id, pattern_targets, ts
from shieldwall.interop.taxii import COLLECTION_ID, TAXII_MEDIA, PartnerTokens, taxii_routes

READER, WRITER = "reader-secret-0123456789", "writer-secret-0123456789"
COL = f"/taxii2/api/collections/{COLLECTION_ID}"


@pytest.fixture
def tokens() -> PartnerTokens:
    t = PartnerTokens()
    t.add("misp-east", READER)
    t.add("opencti-west", WRITER, can_write=True)
    return t


@pytest.fixture
def app(source, tokens, clock) -> Starlette:
    return Starlette(routes=taxii_routes(source, tokens, clock=clock))


def call(
    app: Starlette,
    method: str,
    url: str,
    *,
    secret: str | None = READER,
    accept: str | None = TAXII_MEDIA,
    **kw: Any,
) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    if accept is not None:
        headers["Accept"] = accept

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            return await c.request(method, url, headers=headers, **kw)

    return asyncio.run(go())


@pytest.fixture
def populated(source, decide, clock):
    source.add(decide(1, "203.0.113.9", issued_at=clock.now - 100))
    source.add(decide(2, "2001:db8::/48", issued_at=clock.now - 50))
    source.revoke(1, at=clock.now - 10, by="appeal")
    source.record(Signal("alpha", "203.0.113.9", "ssh-bruteforce", clock.now - 120, 5))
    source.record(Signal("bravo", "192.0.2.44", "http-probing", clock.now - 30, 2))
    return source


@pytest.mark.parametrize(
    ("kw", "status"),
    [
        pytest.param({"secret": None}, 401, id="no-auth"),
        pytest.param({"secret": "wrong-secret-wrong-secret"}, 401, id="wrong-token"),
        pytest.param({"accept": "application/json"}, 406, id="wrong-accept"),
        pytest.param({"accept": "application/taxii+json;version=2.0"}, 406, id="old-version"),
        pytest.param({"accept": "application/taxii+json"}, 200, id="no-version-ok"),
    ],
)
def test_auth_and_accept(app, kw, status) -> None:
    r = call(app, "GET", "/taxii2/", **kw)
    assert r.status_code == status
    assert r.headers["content-type"] == TAXII_MEDIA
    if status != 200:
        assert r.json()["http_status"] == str(status)


def test_basic_auth_needs_the_matching_name(app) -> None:
    good = base64.b64encode(f"misp-east:{READER}".encode()).decode()
    bad = base64.b64encode(f"opencti-west:{READER}".encode()).decode()
    assert (
        call(
            app, "GET", "/taxii2/", secret=None, headers={"Authorization": f"Basic {good}"}
        ).status_code
        == 200
    )
    assert (
        call(
            app, "GET", "/taxii2/", secret=None, headers={"Authorization": f"Basic {bad}"}
        ).status_code
        == 401
    )


def test_objects_are_valid_stix_with_headers(app, populated, clock) -> None:
    r = call(app, "GET", f"{COL}/objects/")
    assert r.status_code == 200
    body = r.json()
    assert body["more"] is False
    objs = body["objects"]
    for obj in objs:
        stix2.parse(obj, version="2.1")
    revoked = [o for o in objs if o["id"] == indicator_id(1)]
    assert len(revoked) == 1 and revoked[0]["revoked"] is True  # last version only
    assert revoked[0]["pattern"] == "[ipv4-addr:value = '203.0.113.9']"
    six = next(o for o in objs if o["id"] == indicator_id(2))
    assert six["pattern"] == "[ipv6-addr:value = '2001:db8::/48']"
    assert six["indicator_types"] == ["malicious-activity"] and 0 <= six["confidence"] <= 100
    sightings = [o for o in objs if o["type"] == "sighting"]
    assert {s["sighting_of_ref"] for s in sightings} == {
        indicator_id(1),
        next(o["id"] for o in objs if o.get("name") == "reported 192.0.2.44"),
    }
    assert {s["where_sighted_refs"][0] for s in sightings} == {
        member_id("alpha"),
        member_id("bravo"),
    }
    assert r.headers["X-TAXII-Date-Added-First"] <= r.headers["X-TAXII-Date-Added-Last"]


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        pytest.param("match[type]=indicator", {"indicator"}, id="type"),
        pytest.param("match[type]=identity,sighting", {"identity", "sighting"}, id="types"),
        pytest.param("match[spec_version]=2.0", set(), id="spec-2.0"),
    ],
)
def test_match_filters(app, populated, query, expect) -> None:
    objs = call(app, "GET", f"{COL}/objects/?{query}").json()["objects"]
    assert {o["type"] for o in objs} == expect


def test_versions_and_match_version(app, populated) -> None:
    oid = indicator_id(1)
    versions = call(app, "GET", f"{COL}/objects/{oid}/versions/").json()["versions"]
    assert len(versions) == 2 and versions[0] < versions[1]
    first = call(app, "GET", f"{COL}/objects/{oid}/?match[version]=first").json()["objects"]
    assert [o.get("revoked", False) for o in first] == [False]
    both = call(app, "GET", f"{COL}/objects/?match[id]={oid}&match[version]=all").json()
    assert [o.get("revoked", False) for o in both["objects"]] == [False, True]
    assert call(app, "GET", f"{COL}/objects/indicator--nope/").status_code == 404


def test_added_after_and_manifest(app, populated, clock) -> None:
    after = ts(clock.now - 60)
    objs = call(app, "GET", f"{COL}/objects/?added_after={after}").json()["objects"]
    assert all(o["type"] != "identity" for o in objs)
    assert {o["id"] for o in objs} >= {indicator_id(2)}
    manifest = call(app, "GET", f"{COL}/manifest/?added_after={after}").json()["objects"]
    assert all(m["date_added"] > after for m in manifest)
    assert call(app, "GET", f"{COL}/objects/?added_after=yesterday").status_code == 400


def test_pagination_in_process(app, source, decide, clock) -> None:
    for i in range(1, 26):
        source.add(decide(i, f"10.0.0.{i}", issued_at=clock.now - 100 + i))
    seen, url = [], f"{COL}/objects/?limit=10&match[type]=indicator"
    while True:
        body = call(app, "GET", url).json()
        seen += [o["id"] for o in body["objects"]]
        if not body["more"]:
            break
        url = f"{COL}/objects/?limit=10&match[type]=indicator&next={body['next']}"
    assert seen == [indicator_id(i) for i in range(1, 26)]
    assert call(app, "GET", f"{COL}/objects/?next=garbage!").status_code == 400


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


def test_post_needs_write_grant_and_taxii_content_type(app) -> None:
    body = _envelope(_indicator("[ipv4-addr:value = '203.0.113.50']"))
    ct = {"Content-Type": TAXII_MEDIA}
    assert call(app, "POST", f"{COL}/objects/", content=body, headers=ct).status_code == 403
    r = call(
        app,
        "POST",
        f"{COL}/objects/",
        secret=WRITER,
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 415


def test_post_turns_indicators_into_partner_signals(app, source) -> None:
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
        app,
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
    polled = call(app, "GET", f"/taxii2/api/status/{status['id']}/", secret=WRITER).json()
    assert polled["id"] == status["id"]
    assert call(app, "GET", f"/taxii2/api/status/{status['id']}/").status_code == 404  # not yours


@pytest.mark.parametrize(
    ("text", "targets"),
    [
        pytest.param("[ipv4-addr:value = '203.0.113.9']", ["203.0.113.9"], id="one"),
        pytest.param(
            "[ipv4-addr:value='1.2.3.4' OR ipv4-addr:value = '5.6.7.0/24']",
            ["1.2.3.4", "5.6.7.0/24"],
            id="or-inside",
        ),
        pytest.param("[ipv6-addr:value = '2001:DB8::1/128']", ["2001:db8::1"], id="v6-normalised"),
    ],
)
def test_pattern_targets(text, targets) -> None:
    assert pattern_targets(text) == targets


# -- the real taxii2-client over loopback -----------------------------------------


@pytest.fixture
def served(source, tokens) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = Starlette(routes=taxii_routes(source, tokens))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.e2e
def test_taxii2_client_pages_through_thousands_and_posts(served, source, decide) -> None:
    now = time.time()
    n = 4321
    for i in range(1, n + 1):
        source.add(decide(i, f"10.{i >> 8}.{i & 255}.1", issued_at=now - 5000 + i))
    server = Server(f"{served}/taxii2/", user="misp-east", password=READER)
    (root,) = server.api_roots
    (collection,) = root.collections
    assert collection.id == COLLECTION_ID and collection.can_read and not collection.can_write

    ids: list[str] = []
    for envelope in as_pages(collection.get_objects, per_request=500, type="indicator"):
        for obj in envelope.get("objects", []):
            parsed = stix2.parse(obj, version="2.1")
            assert 0 <= parsed.confidence <= 100
            ids.append(obj["id"])
    assert ids == [indicator_id(i) for i in range(1, n + 1)]

    manifest = collection.get_manifest(added_after=ts(now - 5000 + n - 10))
    assert len(manifest["objects"]) == 10

    writer = Collection(
        f"{served}/taxii2/api/collections/{COLLECTION_ID}/", user="opencti-west", password=WRITER
    )
    bundle = stix2.Bundle(
        stix2.Indicator(
            pattern="[ipv4-addr:value = '203.0.113.77']",
            pattern_type="stix",
            valid_from="2024-01-01T00:00:00Z",
            indicator_types=["malicious-activity"],
            confidence=80,
        )
    )
    status = writer.add_objects(bundle.serialize())
    assert status.status == "complete" and status.success_count == 1
    ((partner, signals),) = source.submitted
    assert (partner, [s.target for s in signals]) == ("opencti-west", ["203.0.113.77"])
