"""The interoperability endpoints of a real ``shieldwall hub serve`` process, over loopback.

Decisions are made the alliance's way: two members join, are approved and report
the same attacker through :class:`HubClient`; the secretariat revokes over its API.
Bouncer keys and partner credentials are made with the CLI, as an operator would.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import requests
from taxii2client.common import TokenAuth
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import Collection, Server

from shieldwall.cli import main
from shieldwall.client import HubClient
from shieldwall.interop import feeds
from shieldwall.interop.stix import indicator_id
from shieldwall.interop.taxii import COLLECTION_ID, TAXII_MEDIA

from .conftest import RealHub, partner_bundle, report, taxii_indicators

pytestmark = pytest.mark.e2e


def _cli(*argv: str, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    result: dict = json.loads(capsys.readouterr().out)
    return result


def test_bouncer_api_on_the_real_hub_survives_a_restart(
    real_hub: RealHub, members, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _cli("bouncers", "add", "fw1", "--data", str(real_hub.data), capsys=capsys)["api_key"]
    headers = {"X-Api-Key": key}
    with httpx.Client(base_url=real_hub.url, headers=headers, timeout=30) as http:
        assert http.get("/v1/decisions/stream", params={"startup": "true"}).json() == {
            "deleted": None,
            "new": None,
        }
        (first,) = report(*members, targets=["203.0.113.9"])
        (second,) = report(*members, targets=["203.0.113.10"])
        delta = http.get("/v1/decisions/stream").json()
        assert delta["deleted"] is None
        assert [(d["value"], d["type"], d["scope"]) for d in delta["new"]] == [
            ("203.0.113.9", "ban", "Ip"),
            ("203.0.113.10", "ban", "Ip"),
        ]
        assert http.get("/v1/decisions/stream").json() == {"deleted": None, "new": None}
        with real_hub.admin() as admin:
            admin.revoke(first, "false positive")
        delta = http.get("/v1/decisions/stream").json()
        assert [d["value"] for d in delta["deleted"]] == ["203.0.113.9"]
        assert delta["new"] is None
        assert http.head("/v1/decisions/stream").status_code == 200
        inside = http.get("/v1/decisions", params={"ip": "203.0.113.10"}).json()
        assert [d["id"] for d in inside] == [second]
        refused = httpx.get(real_hub.url + "/v1/decisions/stream", headers={"X-Api-Key": "x"})
        assert (refused.status_code, refused.json()) == (403, {"message": "access forbidden"})
        anonymous = httpx.get(real_hub.url + "/v1/decisions")
        assert anonymous.status_code == 401, "the hub's own views need a member or a token"
        with real_hub.admin() as admin:
            own = admin.decisions()
        assert [d["id"] for d in own["decisions"]] == [second], "the hub's own API is intact"

        real_hub.stop()
        real_hub.start()
        (third,) = report(*members, targets=["203.0.113.11"])
        delta = http.get("/v1/decisions/stream").json()
        assert [d["value"] for d in delta["new"]] == ["203.0.113.11"], (
            "the bouncer's cursor survived the restart: only what is new"
        )
        startup = http.get("/v1/decisions/stream", params={"startup": "true"}).json()
        assert sorted(d["id"] for d in startup["new"]) == [second, third]
    listed = _cli("bouncers", "list", "--data", str(real_hub.data), capsys=capsys)
    assert [b["name"] for b in listed] == ["fw1"] and listed[0]["last_pull"] is not None


def test_taxii2_client_against_the_real_hub(
    real_hub: RealHub, members, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(real_hub.data)
    reader = _cli("partners", "add", "misp-east", "--data", data, capsys=capsys)["secret"]
    writer = _cli("partners", "add", "opencti", "--write", "--data", data, capsys=capsys)["secret"]
    targets = [f"10.{i >> 8}.{i & 255}.1" for i in range(2500)]
    report(*members, targets=targets)

    collection, indicators = taxii_indicators(real_hub.url, "misp-east", reader, 1000)
    seen = [obj["pattern"] for obj in indicators]
    assert len(seen) == len(targets), "every indicator once across the pages"
    assert set(seen) == {f"[ipv4-addr:value = '{t}']" for t in targets}
    sightings = collection.get_objects(type="sighting", limit=10)
    assert sightings["more"] is True and len(sightings["objects"]) == 10
    identities = collection.get_objects(type="identity")["objects"]
    assert {o["name"] for o in identities} >= {"alpha", "bravo"}

    bundle = partner_bundle("203.0.113.77")
    url = f"{real_hub.url}/taxii2/api/collections/{COLLECTION_ID}/"
    with pytest.raises(TAXIIServiceException, match="does not allow writing"):
        collection.add_objects(bundle.serialize())
    refused = httpx.post(
        url + "objects/",
        content=json.dumps({"objects": [json.loads(bundle.objects[0].serialize())]}),
        headers={"Content-Type": TAXII_MEDIA, "Accept": TAXII_MEDIA},
        auth=("misp-east", reader),
    )
    assert refused.status_code == 403, "the server refuses, not only the client"
    status = Collection(url, auth=TokenAuth(writer)).add_objects(bundle.serialize())
    assert status.status == "complete" and status.success_count == 1
    bearer = httpx.get(url, headers={"Authorization": f"Bearer {writer}", "Accept": TAXII_MEDIA})
    assert bearer.status_code == 200 and bearer.json()["can_write"] is True

    with real_hub.admin() as admin:
        listed = {m["name"]: m for m in admin.members()["members"]}
    assert listed["opencti"]["status"] == "active"
    (decided,) = report(members[0], targets=["203.0.113.77"])
    indicator = collection.get_object(indicator_id(decided))["objects"][0]
    assert indicator["pattern"] == "[ipv4-addr:value = '203.0.113.77']"
    with real_hub.admin() as admin:
        decision = admin.get(f"/v1/decisions/{decided}")
    assert json.loads(decision["members"]) == ["alpha", "opencti"], (
        "the partner's indicator counted as its signal toward quorum"
    )

    _cli("partners", "delete", "misp-east", "--data", data, capsys=capsys)
    with pytest.raises(requests.HTTPError, match="401 Client Error"):
        Server(f"{real_hub.url}/taxii2/", user="misp-east", password=reader).refresh()


def test_feeds_on_the_real_hub_use_etags(real_hub: RealHub, members) -> None:
    with httpx.Client(base_url=real_hub.url, timeout=30) as http:
        empty = http.get("/feeds/txt")
        assert empty.status_code == 200 and empty.text == ""
        (first,) = report(*members, targets=["203.0.113.9"])
        report(*members, targets=["198.51.100.0/24"])
        feed = http.get("/feeds/txt")
        assert feed.text.splitlines() == ["198.51.100.0/24", "203.0.113.9"]
        etag = feed.headers["etag"]
        assert etag != empty.headers["etag"]
        again = http.get("/feeds/txt", headers={"If-None-Match": etag})
        assert (again.status_code, again.content) == (304, b"")
        assert http.get("/feeds/nft").text.count("203.0.113.9") == 1
        with HubClient(real_hub.url, admin_token=real_hub.token) as admin:
            admin.revoke(first, "mistake")
        changed = http.get("/feeds/txt", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.text.splitlines() == ["198.51.100.0/24"]
        assert http.get("/feeds/nope").status_code == 404


def test_cli_exports_each_format_as_the_hub_serves_it(
    real_hub: RealHub, members, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``feeds export`` over HTTP and from the data directory (beside the running hub)."""
    report(*members, targets=["203.0.113.9", "198.51.100.0/24", "2001:db8::9"])
    with httpx.Client(base_url=real_hub.url, timeout=30) as http:
        for fmt in feeds.FORMATS:
            served = http.get(f"/feeds/{fmt}", params={"jail": "sshd"})
            assert served.status_code == 200, fmt
            assert "198.51.100.0/24" in served.text and "2001:db8::9" in served.text, fmt
            out = tmp_path / f"feed.{fmt}"
            fetch = [
                "feeds",
                "export",
                fmt,
                "--hub",
                real_hub.url,
                "--jail",
                "sshd",
                "-o",
                str(out),
            ]
            assert main(fetch) == 0, capsys.readouterr().err
            assert out.read_text() == served.text, fmt
            capsys.readouterr()
            assert (
                main(["feeds", "export", fmt, "--data", str(real_hub.data), "--jail", "sshd"]) == 0
            )
            assert capsys.readouterr().out == served.text, fmt
