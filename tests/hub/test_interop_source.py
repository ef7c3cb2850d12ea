"""HubSource: the interoperability layer's view of a real secretariat, in-process."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from shieldwall.client import HubClient, HubError
from shieldwall.core.model import Signal
from shieldwall.core.state import RETAIN
from shieldwall.hub.app import create_app, open_secretariat
from shieldwall.hub.interop_source import HubSource
from shieldwall.interop.keys import SQLiteBouncerKeys, bouncers_path
from shieldwall.interop.mount import interop_routes
from shieldwall.signing import SigningKey

from .conftest import Hub

HOUR = 3600.0


def _report(client: HubClient, target: str) -> dict:
    return client.submit([{"target": target, "scenario": "ssh-bruteforce", "at": client._clock()}])


def _decide(alpha: HubClient, bravo: HubClient, target: str) -> int:
    _report(alpha, target)
    ids = _report(bravo, target)["decisions"]
    assert len(ids) == 1, f"two members' reports of {target} make a decision"
    return int(ids[0])


@pytest.fixture
def pair(hub: Hub) -> tuple[HubClient, HubClient]:
    return hub.member("alpha", "192.0.2.10"), hub.member("bravo", "192.0.2.20")


@pytest.mark.parametrize(
    "index_size",
    [pytest.param(200_000, id="cursor-in-index"), pytest.param(1, id="cursor-older-than-index")],
)
def test_changes_new_revoked_expired(hub: Hub, pair, index_size: int) -> None:
    alpha, bravo = pair
    source = HubSource(hub.sec, index_size=index_size)
    start_seq, start = source.seq(), hub.clock()
    assert source.changes(start_seq, start, start) == source.changes(start_seq, start, start)
    assert source.changes(start_seq, start, start).new == ()

    first = _decide(alpha, bravo, "203.0.113.9")
    second = _decide(alpha, bravo, "203.0.113.10")
    third = _decide(alpha, bravo, "198.51.100.0/24")
    hub.clock.advance(1)
    now = hub.clock()
    ch = source.changes(start_seq, start, now)
    assert [d.id for d in ch.new] == [first, second, third]
    assert ch.seq == source.seq() == hub.sec.stream.last_id
    assert ch.revoked == ch.expired == ()
    assert source.changes(ch.seq, now, now).new == (), "nothing new after the high-water mark"

    mark = ch.seq
    hub.admin().revoke(second, "false positive")
    ch = source.changes(mark, now, hub.clock())
    assert [(r.decision_id, r.by) for r in ch.revoked] == [(second, "secretariat")]
    assert ch.new == ()
    assert [d.id for d in source.changes(start_seq, start, hub.clock()).new] == [first, third], (
        "a revoked decision is not new to a consumer that never saw it"
    )

    before = hub.clock()
    hub.clock.advance(HOUR + 1)  # first offence: 1 h ban
    ch = source.changes(source.seq(), before, hub.clock())
    assert sorted(d.id for d in ch.expired) == [first, third], "revoked ones are not 'expired'"
    assert ch.new == ch.revoked == ()


def test_watchers_get_each_new_decision_once_committed(hub: Hub, pair) -> None:
    source = HubSource(hub.sec)
    seen: list[list[int]] = []
    source.watch(lambda decisions: seen.append([d.id for d in decisions]))
    first = _decide(pair[0], pair[1], "203.0.113.9")
    hub.admin().revoke(first, "mistake")
    second = _decide(pair[0], pair[1], "203.0.113.10")
    assert seen == [[first], [second]], "revocations are not new decisions"


def test_cursor_from_the_future_starts_over(hub: Hub, pair) -> None:
    source = HubSource(hub.sec)
    decided = _decide(pair[0], pair[1], "203.0.113.9")
    ch = source.changes(source.seq() + 1000, 0.0, hub.clock())
    assert [d.id for d in ch.new] == [decided]
    assert ch.seq == source.seq()


def test_cursor_before_the_retained_history_starts_over(hub: Hub, pair) -> None:
    alpha, bravo = pair
    source = HubSource(hub.sec, index_size=1)  # older cursors are read from the store
    start_seq, start = source.seq(), hub.clock()
    first = _decide(alpha, bravo, "203.0.113.9")
    hub.clock.advance(10)
    second = _decide(alpha, bravo, "203.0.113.10")
    cursor = hub.sec.stream.last_id
    kept = _decide(alpha, bravo, "203.0.113.11")
    with hub.sec.store.transaction():
        hub.sec.store.prune(0, cursor - 1)  # as a retention pass does
    now = hub.clock()
    assert [d.id for d in source.changes(start_seq, start, now).new] == [first, second, kept]
    recent = source.changes(cursor, now, now)
    assert [d.id for d in recent.new] == [kept], "a cursor inside the retained history"


def test_history_comes_from_the_store_after_the_council_forgets(hub: Hub, pair) -> None:
    alpha, bravo = pair
    source = HubSource(hub.sec)
    t0 = hub.clock()
    kept = _decide(alpha, bravo, "203.0.113.9")
    revoked = _decide(alpha, bravo, "203.0.113.10")
    hub.admin().revoke(revoked, "appeal upheld", appeal=True)
    hub.clock.advance(HOUR + RETAIN + 10)
    hub.sec.tick()  # the council drops decisions that expired more than RETAIN ago
    assert hub.sec.council.decision(kept) is None

    d = source.decision(kept)
    assert d is not None and d.target == "203.0.113.9" and d.members == ("alpha", "bravo")
    assert source.decision(9999) is None
    assert [d.id for d in source.decisions_since(t0)] == [kept, revoked]
    assert source.decisions_since(hub.clock()) == []
    assert [(r.decision_id, r.clause) for r in source.revocations_since(t0)] == [
        (revoked, "appeal")
    ]
    signals = source.signals_since(t0)
    assert [(s.member, s.target) for s in signals] == [
        ("alpha", "203.0.113.9"),
        ("bravo", "203.0.113.9"),
        ("alpha", "203.0.113.10"),
        ("bravo", "203.0.113.10"),
    ]
    assert source.active(hub.clock()) == []


def test_partner_is_an_external_member_rebuilt_after_restart(
    make_hub: Callable[..., Hub],
) -> None:
    hub = make_hub("nato")
    alpha = hub.member("alpha", "192.0.2.10")
    hub.member("bravo", "192.0.2.20")
    source = HubSource(hub.sec)
    now = hub.clock()
    signal = Signal("misp", "203.0.113.9", "stix-malicious-activity", now)
    assert source.submit_external("misp", [signal], now).accepted == 1
    assert [(m.name, m.status, m.external) for m in source.members()] == [
        ("alpha", "active", False),
        ("bravo", "active", False),
        ("misp", "active", True),
    ]
    decided = _report(alpha, "203.0.113.9")["decisions"]
    assert len(decided) == 1, "a partner's report counts toward quorum like a member's"
    assert hub.sec.council.decision(decided[0]).members == ("alpha", "misp")  # type: ignore[union-attr]
    reputation = hub.sec.council.member("misp").reputation  # type: ignore[union-attr]
    hub.sec.store.close()

    reopened = open_secretariat(hub.data, clock=hub.clock)
    try:
        assert reopened.externals == {"misp"}
        assert "misp" not in reopened.identities, "a partner has no key to log in with"
        state = reopened.council.member("misp")
        assert state is not None and state.status == "active"
        assert state.reputation == reputation
        assert [d.id for d in reopened.active(hub.clock())] == decided
    finally:
        reopened.store.close()


def test_partner_cannot_log_in_or_take_a_members_name(hub: Hub) -> None:
    hub.member("alpha", "192.0.2.10")
    source = HubSource(hub.sec)
    now = hub.clock()
    source.submit_external("misp", [Signal("misp", "203.0.113.9", "stix-x", now)], now)
    impostor = hub.client("misp", SigningKey.generate())
    with pytest.raises(HubError) as exc:
        _report(impostor, "203.0.113.50")
    assert (exc.value.status, exc.value.code) == (403, "external_partner")
    with pytest.raises(HubError, match="belongs to an external partner: choose another --name"):
        impostor.join(["192.0.2.99"])
    taken = source.submit_external("alpha", [Signal("alpha", "203.0.113.9", "stix-x", now)], now)
    assert taken.accepted == 0
    assert taken.rejected == (
        (0, "partner name 'alpha' is a member's name: give the partner another name"),
    )


@pytest.mark.parametrize(
    ("target", "scenario", "message"),
    [
        pytest.param(
            "10.0.0.0/8",
            "stix-x",
            "range '10.0.0.0/8' is broader than the treaty allows (/24 at most for IPv4)",
            id="range-too-wide",
        ),
        pytest.param("not-an-ip", "stix-x", "not-an-ip", id="not-an-address"),
        pytest.param(
            "203.0.113.9",
            "bad scenario!",
            "scenario 'bad scenario!' of 203.0.113.9 is not valid: use letters",
            id="scenario",
        ),
    ],
)
def test_partner_signals_are_checked_like_members(
    hub: Hub, target: str, scenario: str, message: str
) -> None:
    source = HubSource(hub.sec)
    now = hub.clock()
    good = Signal("misp", "203.0.113.20", "stix-x", now)
    result = source.submit_external("misp", [Signal("misp", target, scenario, now), good], now)
    assert result.accepted == 1
    ((index, why),) = result.rejected
    assert index == 0 and message in why
    assert [s.target for s in source.signals_since(now)] == ["203.0.113.20"]


def test_partner_needs_a_vote_where_the_treaty_says_so(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub("un")
    if hub.sec.treaty.accession == "admin":
        pytest.fail("the 'un' template was expected to admit members by vote")
    founder = hub.client("alpha", SigningKey.generate())
    founder.join(["192.0.2.10"])
    hub.admin().approve("alpha")  # the first member is admitted by the secretariat
    source = HubSource(hub.sec)
    now = hub.clock()
    result = source.submit_external("misp", [Signal("misp", "203.0.113.9", "stix-x", now)], now)
    assert result.accepted == 0
    assert result.rejected == (
        (0, "partner 'misp' is pending, not active: ask the members to vote on it"),
    )


def test_partner_reports_of_protected_addresses_are_disputes(hub: Hub) -> None:
    """As a member's would be: recorded as a dispute, never acted on, and said so."""
    hub.member("alpha", "192.0.2.10")
    source = HubSource(hub.sec)
    now = hub.clock()
    signals = [
        Signal("misp", "203.0.113.9", "stix-x", now),
        Signal("misp", "192.0.2.10", "stix-x", now),  # alpha's own address
        Signal("misp", "127.0.0.1", "stix-x", now),  # loopback, protected by the treaty
    ]
    result = source.submit_external("misp", signals, now)
    assert result.accepted == 1
    assert [(i, why.split(" is protected")[0]) for i, why in result.rejected] == [
        (1, "192.0.2.10"),
        (2, "127.0.0.1"),
    ]
    assert all(why.endswith("recorded as a dispute, not counted") for _, why in result.rejected)
    disputes = hub.sec.store.disputes()
    assert sorted((d["member"], d["target"]) for d in disputes) == [
        ("misp", "127.0.0.1"),
        ("misp", "192.0.2.10"),
    ]
    assert source.active(now) == []


def test_taxii_status_names_protected_addresses(hub: Hub) -> None:
    import stix2

    from shieldwall.interop.partners import SQLitePartners, partners_path
    from shieldwall.interop.taxii import COLLECTION_ID, TAXII_MEDIA

    hub.member("alpha", "192.0.2.10")
    partners = SQLitePartners(partners_path(hub.data))
    partners.add("misp", "misp-secret-0123456789", hub.clock(), can_write=True)
    partners.close()
    both = stix2.Indicator(
        pattern="[ipv4-addr:value = '192.0.2.10'] OR [ipv4-addr:value = '203.0.113.9']",
        pattern_type="stix",
        valid_from="2024-01-01T00:00:00Z",
    )
    fine = stix2.Indicator(
        pattern="[ipv4-addr:value = '203.0.113.10']",
        pattern_type="stix",
        valid_from="2024-01-01T00:00:00Z",
    )
    objects = [json.loads(both.serialize()), json.loads(fine.serialize())]
    envelope = {"objects": objects}
    app = create_app(hub.sec, extra_routes=interop_routes(hub.sec, hub.data), ticker=False)
    with TestClient(app, base_url="http://hub.test") as http:
        r = http.post(
            f"/taxii2/api/collections/{COLLECTION_ID}/objects/",
            content=json.dumps(envelope),
            headers={
                "Content-Type": TAXII_MEDIA,
                "Accept": TAXII_MEDIA,
                "Authorization": "Bearer misp-secret-0123456789",
            },
        )
    assert r.status_code == 202
    status = r.json()
    assert (status["success_count"], status["failure_count"]) == (1, 1)
    assert status["successes"] == [{"id": fine.id, "version": objects[1]["modified"]}]
    (failure,) = status["failures"]
    assert (failure["id"], failure["version"]) == (both.id, objects[0]["modified"])
    assert failure["message"].startswith("192.0.2.10 is protected (")
    assert [d["target"] for d in hub.sec.store.disputes()] == ["192.0.2.10"]


def test_routes_on_the_hub_share_paths_with_its_api(hub: Hub, pair) -> None:
    decided = _decide(pair[0], pair[1], "203.0.113.9")
    keys = SQLiteBouncerKeys(bouncers_path(hub.data))
    keys.add("fw1", "k" * 40, hub.clock())
    keys.close()
    app = create_app(hub.sec, extra_routes=interop_routes(hub.sec, hub.data), ticker=False)
    with TestClient(app, base_url="http://hub.test") as http:
        admin = {"Authorization": f"Bearer {hub.token}"}
        own = http.get("/v1/decisions", headers=admin).json()
        assert [d["id"] for d in own["decisions"]] == [decided], "no key: the hub's own API"
        assert http.get(f"/v1/decisions/{decided}", headers=admin).json()["target"] == "203.0.113.9"
        refused = http.get("/v1/decisions", headers={"X-Api-Key": "wrong"})
        assert (refused.status_code, refused.json()) == (403, {"message": "access forbidden"})
        assert http.get("/v1/decisions/stream").json() == {"message": "access forbidden"}
        key = {"X-Api-Key": "k" * 40}
        stream = http.get("/v1/decisions/stream", params={"startup": "true"}, headers=key).json()
        assert [(d["value"], d["scope"], d["origin"]) for d in stream["new"]] == [
            ("203.0.113.9", "Ip", "shieldwall")
        ]
        assert http.get("/v1/decisions/stream", headers=key).json() == {
            "deleted": None,
            "new": None,
        }
        hub.admin().revoke(decided, "mistake")
        gone = http.get("/v1/decisions/stream", headers=key).json()
        assert [d["value"] for d in gone["deleted"]] == ["203.0.113.9"] and gone["new"] is None
        assert http.get("/v1/decisions", params={"ip": "203.0.113.9"}, headers=key).text == "null"
        feed = http.get("/feeds/txt")
        assert feed.status_code == 200 and feed.text.strip() == ""
        assert http.get("/taxii2/").status_code == 401
        assert json.loads(http.get("/taxii2/").text)["http_status"] == "401"
