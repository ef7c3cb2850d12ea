"""``GET /v1/stream`` through the hub's ASGI app, in-process: what a connection gets,
where it starts, how many a member may hold, and that a closed one gives its slot back.

A stream never ends by itself, so it is driven as a server would drive it: the test
reads what the app sends and disconnects when it has seen enough.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import pytest

from shieldwall.core.treaty import template_text
from shieldwall.signing import MEMBER_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, request_message
from tests.waiting import until

from .conftest import Hub

ATTACKER = "203.0.113.9"


class Stream:
    """One connection to the hub's stream, as an ASGI server would hold it."""

    def __init__(
        self,
        hub: Hub,
        headers: dict[str, str],
        query: str = "",
        client: tuple[str, int] = ("127.0.0.1", 40000),
    ) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self._asked = False
        self._gone = asyncio.Event()
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v1/stream",
            "raw_path": b"/v1/stream",
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": client,
            "server": ("hub.test", 80),
        }
        self.task = asyncio.create_task(hub.http.app(scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    @property
    def text(self) -> str:
        return self.body.decode()

    def ids(self) -> list[int]:
        return [int(line[4:]) for line in self.text.splitlines() if line.startswith("id: ")]

    async def close(self) -> None:
        self._gone.set()
        await asyncio.wait_for(self.task, 30)


class Alliance:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.alpha = hub.member("alpha", "192.0.2.10")
        self.bravo = hub.member("bravo", "192.0.2.20")

    def decide(self, target: str = ATTACKER) -> None:
        for client in (self.alpha, self.bravo):
            client.submit([{"target": target, "scenario": "ssh", "at": client._clock()}])


@pytest.fixture
def alliance(hub: Hub) -> Alliance:
    return Alliance(hub)


def test_a_member_stream_starts_with_a_retry_hint_and_only_new_events(alliance: Alliance) -> None:
    hub, a = alliance.hub, alliance
    a.decide("203.0.113.1")  # before the connection: not sent again
    cursor = hub.sec.stream.last_id

    async def run() -> Stream:
        s = Stream(hub, a.alpha.stream_headers())
        await until(lambda: s.status != 0, what="the response to start")
        a.decide()
        await until(lambda: f"id: {hub.sec.stream.last_id}\n" in s.text, what="the new events")
        await s.close()
        return s

    s = asyncio.run(run())
    assert s.status == 200
    assert s.headers["content-type"].startswith("text/event-stream")
    assert s.headers["cache-control"] == "no-store"
    assert s.headers["x-accel-buffering"] == "no"
    assert s.text.startswith(": shieldwall decision stream\nretry: 1000\n\n")
    assert s.ids() == list(range(cursor + 1, hub.sec.stream.last_id + 1))
    decision = next(
        json.loads(line[6:]) for line in s.text.splitlines() if line.startswith('data: {"id"')
    )
    assert decision["target"] == ATTACKER


@pytest.mark.parametrize(
    "where",
    [
        pytest.param("header", id="last-event-id-header"),
        pytest.param("query", id="after-query"),
    ],
)
def test_a_stream_resumes_after_the_id_it_is_given(alliance: Alliance, where: str) -> None:
    hub, a = alliance.hub, alliance
    a.decide("203.0.113.1")
    a.decide("203.0.113.2")
    last = hub.sec.stream.last_id
    headers = a.alpha.stream_headers()
    query = ""
    if where == "header":
        headers["Last-Event-ID"] = "1"
    else:
        query = "after=1"

    async def run() -> Stream:
        s = Stream(hub, headers, query)
        await until(lambda: f"id: {last}\n" in s.text, what="the backlog")
        await s.close()
        return s

    assert asyncio.run(run()).ids() == list(range(2, last + 1))


@pytest.mark.parametrize(
    ("where", "named"),
    [
        pytest.param("header", "Last-Event-ID", id="last-event-id-header"),
        pytest.param("query", "after", id="after-query"),
    ],
)
def test_a_bad_resume_id_is_refused_naming_where_it_came_from(
    alliance: Alliance, where: str, named: str
) -> None:
    hub, a = alliance.hub, alliance
    headers = a.alpha.stream_headers()
    query = ""
    if where == "header":
        headers["Last-Event-ID"] = "soon"
    else:
        query = "after=soon"

    async def run() -> Stream:
        s = Stream(hub, headers, query)
        await asyncio.wait_for(s.task, 30)  # an error answer ends by itself
        return s

    s = asyncio.run(run())
    assert s.status == 400
    error = json.loads(s.body)["error"]
    assert named in error["message"] and "soon" in error["message"]


def test_a_member_holds_at_most_the_configured_streams_and_gets_them_back(
    alliance: Alliance,
) -> None:
    hub, a = alliance.hub, alliance
    cap = hub.sec.settings.max_streams_per_member

    async def run() -> tuple[Stream, Stream]:
        held = [Stream(hub, a.alpha.stream_headers()) for _ in range(cap)]
        await until(lambda: all(s.status == 200 for s in held), what="the allowed streams")
        over = Stream(hub, a.alpha.stream_headers())
        await asyncio.wait_for(over.task, 30)
        await held[0].close()  # one slot back...
        again = Stream(hub, a.alpha.stream_headers())
        await until(lambda: again.status != 0, what="the stream after one closed")
        for s in [*held[1:], again]:
            await s.close()
        return over, again

    over, again = asyncio.run(run())
    assert over.status == 429
    error = json.loads(over.body)["error"]
    assert error["code"] == "too_many_streams"
    assert error["message"] == (
        f"'alpha' already holds {cap} decision streams, the most one member may hold "
        "(setting max_streams_per_member): close one before opening another"
    )
    assert again.status == 200


def test_the_secretariat_streams_every_event_with_its_token(alliance: Alliance) -> None:
    hub, a = alliance.hub, alliance
    a.decide()
    last = hub.sec.stream.last_id

    async def run() -> Stream:
        s = Stream(hub, hub.admin().stream_headers(), "after=0")
        await until(lambda: f"id: {last}\n" in s.text, what="every event")
        await s.close()
        return s

    s = asyncio.run(run())
    assert s.status == 200 and s.ids() == list(range(1, last + 1))


def test_a_quiet_stream_sends_keepalives_and_stays_open(alliance: Alliance) -> None:
    hub, a = alliance.hub, alliance
    hub.sec.settings = replace(hub.sec.settings, heartbeat=0.05)

    async def run() -> Stream:
        s = Stream(hub, a.alpha.stream_headers())
        await until(lambda: s.text.count(": keepalive\n\n") >= 2, 10, "two keepalives")
        a.decide()  # still open after the keepalives: the next event comes through
        await until(lambda: f"id: {hub.sec.stream.last_id}\n" in s.text, what="the event")
        await s.close()
        return s

    assert asyncio.run(run()).status == 200


def test_two_members_may_sign_the_same_stamp_text(alliance: Alliance) -> None:
    """A stamp is used up for its member only: another member's equal text is its own."""
    hub, a = alliance.hub, alliance
    stamp = f"{hub.clock():.6f}"

    def signed(client: Any) -> dict[str, str]:
        return {
            MEMBER_HEADER: client.name,
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: client.key.sign(request_message("GET", "/v1/stream", stamp)),
        }

    async def run() -> tuple[Stream, Stream, Stream]:
        first, second = Stream(hub, signed(a.alpha)), Stream(hub, signed(a.bravo))
        await until(lambda: first.status and second.status, what="both answers")
        again = Stream(hub, signed(a.alpha))  # alpha's own stamp, a second time
        await asyncio.wait_for(again.task, 30)
        await first.close()
        await second.close()
        return first, second, again

    first, second, again = asyncio.run(run())
    assert (first.status, second.status) == (200, 200)
    assert again.status == 409 and json.loads(again.body)["error"]["code"] == "replayed"


def test_public_readers_are_capped_per_address(make_hub: Any) -> None:
    """Under ``access = "public"`` anyone may stream, each client address up to the cap."""
    text = template_text("nato").replace('access = "members"', 'access = "public"')
    hub = make_hub("nato", text=text)
    cap = hub.sec.settings.max_streams_per_member
    anyone = {"Authorization": "Bearer not-a-token"}

    async def run() -> tuple[Stream, Stream]:
        here = [Stream(hub, anyone, client=("198.51.100.7", 1000 + i)) for i in range(cap)]
        await until(lambda: all(s.status == 200 for s in here), what="the allowed streams")
        over = Stream(hub, anyone, client=("198.51.100.7", 2000))
        await asyncio.wait_for(over.task, 30)
        elsewhere = Stream(hub, anyone, client=("198.51.100.8", 1000))
        await until(lambda: elsewhere.status != 0, what="another address's stream")
        for s in [*here, elsewhere]:
            await s.close()
        return over, elsewhere

    over, elsewhere = asyncio.run(run())
    assert over.status == 429
    assert "'public 198.51.100.7' already holds" in json.loads(over.body)["error"]["message"]
    assert elsewhere.status == 200
