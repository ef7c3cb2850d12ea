"""A client of a hub with several nodes: it moves to the next node when the one in
use cannot be reached or cannot take the request now, and only then."""

from __future__ import annotations

import httpx
import pytest

from shieldwall.client import HubClient, HubError
from shieldwall.client.hub import hub_urls


@pytest.mark.parametrize(
    ("given", "urls"),
    [
        pytest.param("http://a:1", ("http://a:1",), id="one"),
        pytest.param("http://a:1/, https://b:2", ("http://a:1", "https://b:2"), id="comma-list"),
        pytest.param(["http://a:1", "http://b:2"], ("http://a:1", "http://b:2"), id="list"),
    ],
)
def test_hub_urls(given: str | list[str], urls: tuple[str, ...]) -> None:
    assert hub_urls(given) == urls


@pytest.mark.parametrize(
    ("given", "words"),
    [
        pytest.param("", "names no hub", id="empty"),
        pytest.param(" , ", "names no hub", id="only-commas"),
        pytest.param(
            "http://a:1,ftp://b", "hub URL 'ftp://b' must start with http://", id="scheme"
        ),
    ],
)
def test_bad_hub_urls_are_named(given: str, words: str) -> None:
    with pytest.raises(HubError, match=words):
        hub_urls(given)


def _hub(answers: dict[str, httpx.Response | Exception], seen: list[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        answer = answers[request.url.host]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler)


def _error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": code}})


OK = httpx.Response(200, json={"status": "ok"})


@pytest.mark.parametrize(
    ("first", "moves"),
    [
        pytest.param(httpx.ConnectError("refused"), True, id="unreachable"),
        pytest.param(httpx.ReadTimeout("slow"), True, id="timeout"),
        pytest.param(_error(503, "no_leader"), True, id="no-leader"),
        pytest.param(_error(503, "primary_unreachable"), True, id="leader-unreachable"),
        pytest.param(_error(503, "read_only"), True, id="standby-taking-over"),
        pytest.param(_error(503, "store_unavailable"), False, id="store-down"),
        pytest.param(_error(409, "replayed"), False, id="refused"),
    ],
)
def test_the_client_moves_on_only_when_another_node_may_serve(
    first: httpx.Response | Exception, moves: bool
) -> None:
    seen: list[str] = []
    transport = _hub({"a": first, "b": OK}, seen)
    with HubClient("http://a:1,http://b:2", admin_token="t", transport=transport) as client:
        if moves:
            assert client.get("/healthz") == {"status": "ok"}
            assert seen == ["a", "b"] and client.url == "http://b:2"
            assert client.get("/healthz") == {"status": "ok"}
            assert seen == ["a", "b", "b"], "it stays on the node that answered"
        else:
            with pytest.raises(HubError):
                client.get("/healthz")
            assert seen == ["a"] and client.url == "http://a:1"


def test_when_no_node_answers_the_last_failure_is_raised() -> None:
    seen: list[str] = []
    down = httpx.ConnectError("refused")
    transport = _hub({"a": down, "b": down}, seen)
    with (
        HubClient("http://a:1,http://b:2", admin_token="t", transport=transport) as client,
        pytest.raises(HubError, match="hub at http://b:2 is unreachable"),
    ):
        client.get("/healthz")
    assert seen == ["a", "b"], "each node once per request"


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(httpx.ConnectError("refused"), id="unreachable"),
        pytest.param(_error(503, "catching_up"), id="standby-catching-up"),
    ],
)
def test_a_stream_that_fails_reconnects_to_the_next_node(
    first: httpx.Response | Exception,
) -> None:
    seen: list[str] = []
    events = httpx.Response(
        200,
        content=b"id: 7\nevent: decision\ndata: {}\n\n",
        headers={"content-type": "text/event-stream"},
    )
    transport = _hub({"a": first, "b": events}, seen)
    with HubClient("http://a:1,http://b:2", admin_token="t", transport=transport) as client:
        with pytest.raises(HubError):
            list(client.stream(after=6))
        assert [e.id for e in client.stream(after=6)] == [7]
    assert seen == ["a", "b"]
