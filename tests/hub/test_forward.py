"""Forwarding changes to whichever node leads: the node's own when it leads, a 503
while no node does, and byte for byte to the leader's URL otherwise."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from shieldwall.hub.forward import ForwardWrites


async def _own(request: Request) -> JSONResponse:
    return JSONResponse({"answered_by": "this node", "body": (await request.body()).decode()})


def _node(leader: str | None, seen: list[httpx.Request]) -> TestClient:
    def at_the_leader(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"answered_by": str(request.url)})

    client = httpx.AsyncClient(transport=httpx.MockTransport(at_the_leader))
    app = Starlette(
        routes=[Route("/v1/signals", _own, methods=["GET", "POST"])],
        middleware=[
            Middleware(ForwardWrites, primary=lambda: leader, client=client, max_body=1024)
        ],
    )
    return TestClient(app, base_url="http://standby.test")


@pytest.mark.parametrize(
    ("leader", "status", "answer"),
    [
        pytest.param(None, 200, {"answered_by": "this node", "body": "{}"}, id="this-node-leads"),
        pytest.param(
            "http://leader.test:8470/",
            200,
            {"answered_by": "http://leader.test:8470/v1/signals?x=1"},
            id="forwarded",
        ),
        pytest.param("", 503, None, id="no-leader"),
    ],
)
def test_a_change_goes_to_the_node_that_leads(
    leader: str | None, status: int, answer: dict[str, str] | None
) -> None:
    seen: list[httpx.Request] = []
    with _node(leader, seen) as http:
        response = http.post(
            "/v1/signals?x=1", content=b"{}", headers={"X-Shieldwall-Signature": "sig"}
        )
    assert response.status_code == status
    if answer is not None:
        assert response.json() == answer
    else:
        assert response.json()["error"]["code"] == "no_leader"
    if leader:
        (sent,) = seen
        assert (sent.content, sent.headers["x-shieldwall-signature"]) == (b"{}", "sig")
    else:
        assert seen == []


def test_reads_are_answered_by_every_node() -> None:
    seen: list[httpx.Request] = []
    with _node("", seen) as http:
        assert http.get("/v1/signals").json()["answered_by"] == "this node"
    assert seen == []
