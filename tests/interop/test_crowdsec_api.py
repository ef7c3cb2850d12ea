"""The CrowdSec-compatible bouncer API, in-process over httpx.ASGITransport."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from shieldwall.interop.crowdsec import CrowdSecAPI, crowdsec_routes
from shieldwall.interop.crowdsec_format import FragmentCache, decision_uuid, go_duration

KEY = "k-" + "x" * 40


def call(app: Starlette, method: str, url: str, key: str | None = KEY, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            headers = {"X-Api-Key": key} if key is not None else {}
            return await c.request(method, url, headers=headers, **kw)

    return asyncio.run(go())


@pytest.fixture
def app(source, keys, clock) -> Starlette:
    keys.add("fw1", KEY, clock.now)
    keys.add("fw-alpha", KEY + "a", clock.now, member="alpha")
    return Starlette(routes=crowdsec_routes(source, keys, clock=clock))


def test_decision_uuid_is_uuid5() -> None:
    import uuid

    from shieldwall.interop.crowdsec_format import NAMESPACE

    for i in (1, 2, 99_999):
        assert decision_uuid(i) == str(uuid.uuid5(NAMESPACE, f"decision:{i}"))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(4 * 3600 - 1.877, "3h59m58.123s", id="hours-fraction"),
        pytest.param(3600, "1h0m0s", id="one-hour"),
        pytest.param(61, "1m1s", id="minute"),
        pytest.param(1.5, "1.5s", id="seconds"),
        pytest.param(0.0015, "1.5ms", id="milliseconds"),
        pytest.param(0.0000015, "1.5µs", id="microseconds"),
        pytest.param(0.000000012, "12ns", id="nanoseconds"),
        pytest.param(-62.25, "-1m2.25s", id="negative"),
        pytest.param(100 * 3600, "100h0m0s", id="days-as-hours"),
    ],
)
def test_go_duration_formats_like_go(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("path", "key"),
    [
        pytest.param("/v1/decisions/stream?startup=true", None, id="stream-no-key"),
        pytest.param("/v1/decisions/stream", "wrong", id="stream-wrong-key"),
        pytest.param("/v1/decisions?ip=1.2.3.4", None, id="decisions-no-key"),
        pytest.param("/v1/decisions", "", id="decisions-empty-key"),
    ],
)
def test_without_a_valid_key_access_is_forbidden(app, path, key) -> None:
    r = call(app, "GET", path, key=key)
    assert r.status_code == 403
    assert r.json() == {"message": "access forbidden"}


def test_startup_returns_every_active_decision_with_crowdsec_fields(app, source, decide) -> None:
    source.add(decide(1, "203.0.113.9"))
    source.add(decide(2, "198.51.100.0/24", scenario="http-scan"))
    r = call(app, "GET", "/v1/decisions/stream?startup=true")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["deleted"] is None
    assert body["new"] == [
        {
            "duration": "3h59m50s",
            "id": 1,
            "origin": "shieldwall",
            "scenario": "ssh-bruteforce",
            "scope": "Ip",
            "simulated": False,
            "type": "ban",
            "uuid": decision_uuid(1),
            "value": "203.0.113.9",
        },
        {
            "duration": "3h59m50s",
            "id": 2,
            "origin": "shieldwall",
            "scenario": "http-scan",
            "scope": "Range",
            "simulated": False,
            "type": "ban",
            "uuid": decision_uuid(2),
            "value": "198.51.100.0/24",
        },
    ]


def test_empty_startup_is_null_on_both_sides(app) -> None:
    assert call(app, "GET", "/v1/decisions/stream?startup=true").json() == {
        "deleted": None,
        "new": None,
    }


def test_later_pulls_return_only_changes_per_bouncer(app, source, decide, clock) -> None:
    source.add(decide(1, "203.0.113.9"))
    source.add(decide(2, "203.0.113.10", ttl=30))
    first = call(app, "GET", "/v1/decisions/stream?startup=true").json()
    assert [d["id"] for d in first["new"]] == [1, 2]
    assert call(app, "GET", "/v1/decisions/stream").json() == {"deleted": None, "new": None}

    clock.now += 25  # decision 2 expires (issued 10 s before T0, 30 s ttl)
    source.add(decide(3, "192.0.2.7", issued_at=clock.now))
    source.revoke(1, at=clock.now, by="appeal")
    delta = call(app, "GET", "/v1/decisions/stream").json()
    assert [d["value"] for d in delta["new"]] == ["192.0.2.7"]
    gone = sorted((d["value"], d["duration"]) for d in delta["deleted"])
    assert gone == [("203.0.113.10", "-5s"), ("203.0.113.9", "0s")]
    assert call(app, "GET", "/v1/decisions/stream").json() == {"deleted": None, "new": None}

    # Another bouncer that never pulled gets the full current set.
    other = call(app, "GET", "/v1/decisions/stream", key=KEY + "a").json()
    assert [d["id"] for d in other["new"]] == [3]


def test_head_answers_without_moving_the_cursor(app, source, decide) -> None:
    source.add(decide(1, "203.0.113.9"))
    r = call(app, "HEAD", "/v1/decisions/stream?startup=true")
    assert (r.status_code, r.content) == (200, b"")
    assert [d["id"] for d in call(app, "GET", "/v1/decisions/stream").json()["new"]] == [1]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        pytest.param("", [1, 2, 3], id="default-ip-and-range"),
        pytest.param("&scopes=ip", [1, 3], id="scopes-ip"),
        pytest.param("&scopes=Range", [2], id="scopes-range-any-case"),
        pytest.param("&scopes=username", None, id="scopes-other"),
        pytest.param("&origins=shieldwall", [1, 2, 3], id="origins-ours"),
        pytest.param("&origins=CAPI,lists", None, id="origins-others"),
        pytest.param("&scenarios_containing=ssh", [1, 2], id="containing"),
        pytest.param("&scenarios_containing=SSH,http", [1, 2, 3], id="containing-any"),
        pytest.param("&scenarios_not_containing=bruteforce", [3], id="not-containing"),
        pytest.param("&simulated=true", [1, 2, 3, 5], id="simulated-included-on-request"),
    ],
)
def test_stream_filters(app, source, decide, query, ids) -> None:
    source.add(decide(1, "203.0.113.9", scenario="ssh-bruteforce"))
    source.add(decide(2, "198.51.100.0/24", scenario="ssh-slow-bruteforce"))
    source.add(decide(3, "2001:db8::1", scenario="http-probing"))
    source.add(decide(4, "192.0.2.1", action="watch"))
    source.add(decide(5, "192.0.2.2", recommended=True))
    new = call(app, "GET", "/v1/decisions/stream?startup=true" + query).json()["new"]
    assert (None if new is None else [d["id"] for d in new]) == ids


def test_member_bound_decisions_reach_only_that_members_bouncers(app, source, decide) -> None:
    source.add(decide(1, "203.0.113.9", applies_to=("alpha",)))
    source.add(decide(2, "203.0.113.10"))
    mine = call(app, "GET", "/v1/decisions/stream?startup=true", key=KEY + "a").json()["new"]
    theirs = call(app, "GET", "/v1/decisions/stream?startup=true").json()["new"]
    assert [d["id"] for d in mine] == [1, 2]
    assert [d["id"] for d in theirs] == [2]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        pytest.param("ip=203.0.113.9", [1], id="ip-exact"),
        pytest.param("ip=198.51.100.77", [2], id="ip-inside-banned-range"),
        pytest.param("ip=192.0.2.200", None, id="ip-not-banned-null"),
        pytest.param("range=198.51.100.128/25", [2], id="range-inside-banned-range"),
        pytest.param("range=198.51.0.0/16&contains=false", [2], id="range-contains-false"),
        pytest.param("scope=ip&value=2001:db8::1", [3], id="scope-value-v6"),
        pytest.param("value=198.51.100.77", None, id="value-is-exact-not-containment"),
        pytest.param("value=198.51.100.0/24", [2], id="value-exact-range"),
        pytest.param("scope=ip&value=198.51.100.0/24", None, id="value-of-another-scope"),
        pytest.param("scope=ip&ip=198.51.100.77", None, id="ip-in-a-range-but-scope-ip"),
        pytest.param("scopes=range&ip=198.51.100.77", [2], id="scopes-and-ip"),
        pytest.param("ip=198.51.100.77&contains=1", [2], id="contains-go-bool"),
        pytest.param("scope=range", [2], id="scope-only"),
        pytest.param("scope=username&value=bob", None, id="scope-other"),
        pytest.param("type=ban", [1, 2, 3], id="type-ban"),
        pytest.param("type=captcha", None, id="type-none"),
        pytest.param("", [1, 2, 3], id="no-filter"),
    ],
)
def test_decisions_lookup(app, source, decide, query, ids) -> None:
    source.add(decide(1, "203.0.113.9"))
    source.add(decide(2, "198.51.100.0/24"))
    source.add(decide(3, "2001:db8::1"))
    r = call(app, "GET", "/v1/decisions?" + query)
    assert r.status_code == 200
    body = r.json()
    assert (None if body is None else [d["id"] for d in body]) == ids
    head = call(app, "HEAD", "/v1/decisions?" + query)
    assert (head.status_code, head.content) == (200, b"")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param(
            "/v1/decisions?ip=not-an-ip",
            "address 'not-an-ip' is not an IP address or CIDR range (only hex digits, '.', "
            "':' and '/' may appear): give one such as 203.0.113.9, 2001:db8::1 or "
            "198.51.100.0/24",
            id="bad-address",
        ),
        pytest.param(
            "/v1/decisions?ip=203.0.113.9&contains=maybe",
            "contains 'maybe' is not a boolean: give true or false",
            id="bad-contains",
        ),
        pytest.param(
            "/v1/decisions/stream?simulated=yes",
            "simulated 'yes' is not a boolean: give true or false",
            id="bad-simulated",
        ),
        pytest.param(
            "/v1/decisions/stream?startup=%D9%A1",
            "startup '١' is not a boolean: give true or false",
            id="bad-startup",
        ),
        pytest.param(
            "/v1/decisions/stream?scopes=" + "ip," * 1000,
            "scopes is longer than 2048 characters: shorten it",
            id="oversized-scopes",
        ),
        pytest.param(
            "/v1/decisions?value=" + "1" * 70,
            f"value {'1' * 64!r}… is too long: give one IP or CIDR range",
            id="oversized-value",
        ),
    ],
)
def test_bad_queries_are_refused(app, url, message) -> None:
    r = call(app, "GET", url)
    assert r.status_code == 400
    assert r.json() == {"message": message}


def _pull(app: Starlette, key: str = KEY, startup: bool = False) -> dict[str, Any]:
    url = "/v1/decisions/stream" + ("?startup=true" if startup else "")
    body: dict[str, Any] = call(app, "GET", url, key=key).json()
    return body


def _ids(decisions: list[dict[str, Any]] | None) -> list[int] | None:
    return None if decisions is None else [d["id"] for d in decisions]


def test_only_the_longest_decision_on_a_value_is_sent(app, source, decide) -> None:
    """As CrowdSec's LAPI: one decision per value and type, the one lasting longest."""
    source.add(decide(1, "203.0.113.9", ttl=3600))  # binds every member
    source.add(decide(2, "203.0.113.9", ttl=7200, applies_to=("alpha",)))
    source.add(decide(3, "203.0.113.10", ttl=7200))
    assert _ids(_pull(app, KEY + "a", startup=True)["new"]) == [2, 3]
    assert _ids(_pull(app, startup=True)["new"]) == [1, 3], "no other bouncer sees alpha's own"


def test_the_end_of_a_decision_outlasted_by_another_is_not_sent(app, source, decide, clock) -> None:
    """Otherwise the bouncer would drop an address that is still banned."""
    source.add(decide(1, "203.0.113.9", ttl=7200))
    assert _ids(_pull(app, KEY + "a", startup=True)["new"]) == [1]
    source.add(decide(2, "203.0.113.9", issued_at=clock.now, ttl=60, applies_to=("alpha",)))
    assert _pull(app, KEY + "a") == {"deleted": None, "new": None}, "outlasted by #1"
    source.revoke(2, at=clock.now)
    assert _pull(app, KEY + "a") == {"deleted": None, "new": None}, "#1 still bans it"
    source.revoke(1, at=clock.now)
    assert _ids(_pull(app, KEY + "a")["deleted"]) == [1]


def test_a_longer_decision_replaces_a_shorter_one_in_a_delta(app, source, decide, clock) -> None:
    source.add(decide(1, "203.0.113.9", ttl=60, applies_to=("alpha",)))
    assert _ids(_pull(app, KEY + "a", startup=True)["new"]) == [1]
    source.add(decide(2, "203.0.113.9", issued_at=clock.now, ttl=7200))
    clock.now += 60  # #1 ends as #2 goes on
    delta = _pull(app, KEY + "a")
    assert (_ids(delta["new"]), delta["deleted"]) == ([2], None)


def test_deltas_keep_the_startup_json_cached(decide) -> None:
    """A bouncer's small delta must not drop what the next ``startup=true`` reuses."""
    cache = FragmentCache()
    every = [decide(i, f"10.0.{i >> 8}.{i & 255}") for i in range(1, 20_001)]
    first = cache.get(every, complete=True)
    cache.get(every[:1])
    assert len(cache) == 20_000
    assert all(a is b for a, b in zip(first, cache.get(every, complete=True), strict=True))
    cache.get(every[:100], complete=True)  # most decisions ended: pruned to the live set
    assert len(cache) == 100


def test_deleted_bouncer_is_refused(app, keys) -> None:
    assert keys.delete("fw1")
    assert call(app, "GET", "/v1/decisions/stream?startup=true").status_code == 403


def test_new_decisions_are_prepared_before_any_pull(source, keys, clock, decide) -> None:
    """The first ``startup=true`` after many decisions costs no more than later ones."""
    api = CrowdSecAPI(source, keys, clock)
    for i in range(1, 6):
        source.add(decide(i, f"203.0.113.{i}"))
    assert len(api.cache) == 5
