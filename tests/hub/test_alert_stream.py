"""Alerts on the hub: streamed to members as events of their own, never published as bans.

nato raises an alert on one report from a member in good standing (core/alerts.py).
The stream carries it as an ``alert`` event; the bouncer API, the blocklist feeds and
TAXII publish decisions only, so the alerted address appears in none of them.
"""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from shieldwall.hub.app import create_app
from shieldwall.interop.keys import SQLiteBouncerKeys, bouncers_path
from shieldwall.interop.mount import interop_routes

from .conftest import Hub

TARGET = "203.0.113.9"


def test_one_report_streams_an_alert_and_publishes_no_ban(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    hub.member("bravo", "192.0.2.20")
    after = hub.sec.stream.last_id
    answer = alpha.submit([{"target": TARGET, "scenario": "ssh-bruteforce", "at": hub.clock()}])
    assert answer["decisions"] == []
    events = hub.sec.store.events_after(after)
    alerts = [json.loads(body) for _, _, kind, body in events if kind == "alert"]
    assert [(a["target"], a["member"], a["maxretry"], a["clause"]) for a in alerts] == [
        (TARGET, "alpha", 1, "alert")
    ]
    assert alerts[0]["expires_at"] == alerts[0]["issued_at"] + 3600.0
    assert [a.target for a in hub.sec.council.alerts(hub.clock())] == [TARGET]
    assert "decision" not in [kind for _, _, kind, _ in events]

    keys = SQLiteBouncerKeys(bouncers_path(hub.data))
    keys.add("fw1", "k" * 40, hub.clock())
    keys.close()
    app = create_app(hub.sec, extra_routes=interop_routes(hub.sec, hub.data), ticker=False)
    with TestClient(app, base_url="http://hub.test") as http:
        key = {"X-Api-Key": "k" * 40}
        stream = http.get("/v1/decisions/stream", params={"startup": "true"}, headers=key).json()
        assert stream["new"] is None
        assert http.get("/v1/decisions", params={"ip": TARGET}, headers=key).text == "null"
        feed = http.get("/feeds/txt")
        assert feed.status_code == 200 and TARGET not in feed.text
