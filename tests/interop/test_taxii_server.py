"""The TAXII 2.1 server: in-process checks, then the real taxii2-client over loopback."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import stix2
import uvicorn
from starlette.applications import Starlette
from taxii2client.v21 import Collection

from shieldwall.core.model import Signal
from shieldwall.interop.stix import indicator_id, member_id, pattern_targets, signals_from, ts
from shieldwall.interop.taxii import COLLECTION_ID, TAXII_MEDIA, taxii_routes

from .conftest import COL, READER, WRITER, partner_bundle, taxii_indicators
from .conftest import taxii_call as call


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
def test_auth_and_accept(taxii_app, kw, status) -> None:
    r = call(taxii_app, "GET", "/taxii2/", **kw)
    assert r.status_code == status
    assert r.headers["content-type"] == TAXII_MEDIA
    if status != 200:
        assert r.json()["http_status"] == str(status)


def test_basic_auth_needs_the_matching_name(taxii_app) -> None:
    good = base64.b64encode(f"misp-east:{READER}".encode()).decode()
    bad = base64.b64encode(f"opencti-west:{READER}".encode()).decode()
    assert (
        call(
            taxii_app, "GET", "/taxii2/", secret=None, headers={"Authorization": f"Basic {good}"}
        ).status_code
        == 200
    )
    assert (
        call(
            taxii_app, "GET", "/taxii2/", secret=None, headers={"Authorization": f"Basic {bad}"}
        ).status_code
        == 401
    )


def test_objects_are_valid_stix_with_headers(taxii_app, populated, clock) -> None:
    r = call(taxii_app, "GET", f"{COL}/objects/")
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
def test_match_filters(taxii_app, populated, query, expect) -> None:
    objs = call(taxii_app, "GET", f"{COL}/objects/?{query}").json()["objects"]
    assert {o["type"] for o in objs} == expect


def test_versions_and_match_version(taxii_app, populated) -> None:
    oid = indicator_id(1)
    versions = call(taxii_app, "GET", f"{COL}/objects/{oid}/versions/").json()["versions"]
    assert len(versions) == 2 and versions[0] < versions[1]
    first = call(taxii_app, "GET", f"{COL}/objects/{oid}/?match[version]=first").json()["objects"]
    assert [o.get("revoked", False) for o in first] == [False]
    both = call(taxii_app, "GET", f"{COL}/objects/?match[id]={oid}&match[version]=all").json()
    assert [o.get("revoked", False) for o in both["objects"]] == [False, True]
    assert call(taxii_app, "GET", f"{COL}/objects/indicator--nope/").status_code == 404


def test_a_revocation_at_once_is_still_a_newer_version(taxii_app, source, decide, clock) -> None:
    source.add(decide(7, "203.0.113.70", issued_at=clock.now - 5))
    source.revoke(7, at=clock.now - 5)
    versions = call(taxii_app, "GET", f"{COL}/objects/{indicator_id(7)}/versions/").json()[
        "versions"
    ]
    assert len(set(versions)) == 2 and versions[0] < versions[1]
    (last,) = call(taxii_app, "GET", f"{COL}/objects/{indicator_id(7)}/").json()["objects"]
    assert last["revoked"] is True


def test_added_after_and_manifest(taxii_app, populated, clock) -> None:
    after = ts(clock.now - 60)
    objs = call(taxii_app, "GET", f"{COL}/objects/?added_after={after}").json()["objects"]
    assert all(o["type"] != "identity" for o in objs)
    assert {o["id"] for o in objs} >= {indicator_id(2)}
    manifest = call(taxii_app, "GET", f"{COL}/manifest/?added_after={after}").json()["objects"]
    assert all(m["date_added"] > after for m in manifest)
    assert call(taxii_app, "GET", f"{COL}/objects/?added_after=yesterday").status_code == 400


def test_pagination_in_process(taxii_app, source, decide, clock) -> None:
    for i in range(1, 26):
        source.add(decide(i, f"10.0.0.{i}", issued_at=clock.now - 100 + i))
    seen, url = [], f"{COL}/objects/?limit=10&match[type]=indicator"
    while True:
        body = call(taxii_app, "GET", url).json()
        seen += [o["id"] for o in body["objects"]]
        if not body["more"]:
            break
        url = f"{COL}/objects/?limit=10&match[type]=indicator&next={body['next']}"
    assert seen == [indicator_id(i) for i in range(1, 26)]
    assert call(taxii_app, "GET", f"{COL}/objects/?next=garbage!").status_code == 400


@pytest.mark.parametrize(
    "limit",
    [
        pytest.param("%D9%A1", id="arabic-indic-one"),
        pytest.param("%C2%B2", id="superscript-two"),
        pytest.param("1_0", id="underscore"),
        pytest.param("%201", id="space"),
        pytest.param("0", id="zero"),
        pytest.param("-5", id="negative"),
        pytest.param("9" * 40, id="40-digits"),
    ],
)
def test_limit_is_ascii_digits(taxii_app, populated, limit) -> None:
    r = call(taxii_app, "GET", f"{COL}/objects/?limit={limit}")
    assert r.status_code == 400
    assert r.json()["title"] == "bad limit"
    assert "must be a whole number of at least 1" in r.json()["description"]


def test_next_token_nesting_deeply_is_a_400(taxii_app, populated) -> None:
    token = base64.urlsafe_b64encode(b"[" * 30_000).decode()
    r = call(taxii_app, "GET", f"{COL}/objects/?next={token}")
    assert r.status_code == 400
    assert r.json()["title"] == "bad next"


def test_outgoing_indicators_pass_our_own_incoming_checks(taxii_app, populated, clock) -> None:
    """What we serve is what we would accept: confidence 0-100, plain address patterns."""
    objs = call(taxii_app, "GET", f"{COL}/objects/?match[type]=indicator&match[version]=all").json()
    indicators = objs["objects"]
    assert len(indicators) >= 4
    for obj in indicators:
        stix2.parse(obj, version="2.1")
        assert isinstance(obj["confidence"], int) and 0 <= obj["confidence"] <= 100
        (target,) = pattern_targets(obj["pattern"])
        assert obj["pattern"] == f"[{'ipv6' if ':' in target else 'ipv4'}-addr:value = '{target}']"
    intake = signals_from(indicators, "echo", clock.now - 1000)
    assert all(not r.problems for r in intake.objects), [r.problems for r in intake.objects]


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
    taxii_app = Starlette(routes=taxii_routes(source, tokens))
    server = uvicorn.Server(
        uvicorn.Config(taxii_app, host="127.0.0.1", port=port, log_level="error")
    )
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
    collection, indicators = taxii_indicators(served, "misp-east", READER, 500)
    assert [obj["id"] for obj in indicators] == [indicator_id(i) for i in range(1, n + 1)]

    manifest = collection.get_manifest(added_after=ts(now - 5000 + n - 10))
    assert len(manifest["objects"]) == 10

    writer = Collection(
        f"{served}/taxii2/api/collections/{COLLECTION_ID}/", user="opencti-west", password=WRITER
    )
    status = writer.add_objects(partner_bundle("203.0.113.77").serialize())
    assert status.status == "complete" and status.success_count == 1
    ((partner, signals),) = source.submitted
    assert (partner, [s.target for s in signals]) == ("opencti-west", ["203.0.113.77"])
