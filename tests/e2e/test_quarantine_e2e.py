"""A store written by an older version holds a target this version refuses.

The hub must start anyway, name each such row once in its log, serve the rest, never
write the refused text into any output, and keep every other id where it was.
"""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest

from shieldwall.client import HubClient
from shieldwall.signing import SigningKey
from tests.e2e.conftest import HubProcess

pytestmark = pytest.mark.e2e

BAD = "fe80::1%$(touch /tmp/shieldwall-pwned)"


def _members(hub: HubProcess) -> dict[str, HubClient]:
    clients = {}
    with HubClient(hub.url, admin_token=hub.token) as admin:
        for i, name in enumerate(("alpha", "bravo")):
            client = HubClient(hub.url, name=name, key=SigningKey.generate())
            client.join([f"192.0.2.{10 + i}"])
            admin.approve(name)
            clients[name] = client
    return clients


def _plant_old_rows(db: str) -> None:
    """What an older version wrote for two members reporting ``BAD``: decision #2."""
    now = time.time()
    con = sqlite3.connect(db)
    with con:
        for member in ("alpha", "bravo"):
            cur = con.execute(
                "INSERT INTO inputs (at, kind, payload) VALUES (?, 'signals', ?)",
                (now, json.dumps({"member": member})),
            )
            con.execute(
                "INSERT INTO signals (input_seq, member, target, scenario, at, events, "
                "received_at) VALUES (?, ?, ?, 'ssh-bruteforce', ?, 1, ?)",
                (cur.lastrowid, member, BAD, now, now),
            )
        decision = {
            "id": 2,
            "target": BAD,
            "scope": "ip",
            "action": "ban",
            "scenario": "ssh-bruteforce",
            "clause": "art5.quorum",
            "members": ["alpha", "bravo"],
            "issued_at": now,
            "expires_at": now + 30 * 86400,
            "offence": 1,
            "recommended": False,
            "treaty": "nato@1",
            "applies_to": [],
        }
        con.execute(
            "INSERT INTO decisions (id, target, scope, action, scenario, clause, members, "
            "issued_at, expires_at, offence, recommended, treaty, applies_to) VALUES "
            "(2, ?, 'ip', 'ban', 'ssh-bruteforce', 'art5.quorum', '[\"alpha\",\"bravo\"]', "
            "?, ?, 1, 0, 'nato@1', '[]')",
            (BAD, now, now + 30 * 86400),
        )
        con.execute(
            "INSERT INTO events (at, kind, body) VALUES (?, 'decision', ?)",
            (now, json.dumps(decision)),
        )
    con.close()


def test_hub_starts_past_a_stored_target_it_now_refuses(hub_process: HubProcess) -> None:
    hub = hub_process
    clients = _members(hub)
    for name in ("alpha", "bravo"):
        clients[name].submit([{"target": "203.0.113.9", "scenario": "ssh-bruteforce"}])
    hub.stop()
    _plant_old_rows(str(hub.data / "hub.sqlite3"))
    hub.start()  # waits for /healthz: it starts
    lines = [ln for ln in hub.log.read_text().splitlines() if "quarantined" in ln]
    assert len(lines) == 1, lines
    assert "decision #2" in lines[0] and "zone" in lines[0]
    admin = {"Authorization": f"Bearer {hub.token}"}
    with httpx.Client(base_url=hub.url, timeout=10, headers=admin) as http:
        assert http.get("/v1/decisions/2").status_code == 404
        assert http.get("/v1/decisions/1").json()["target"] == "203.0.113.9"
        feed = http.get("/feeds/fail2ban")
    assert feed.status_code == 200, feed.text
    assert "203.0.113.9" in feed.text and "%" not in feed.text and "$(" not in feed.text
    # Ids keep their meaning: the next decision is #3, not a second #2.
    for name in ("alpha", "bravo"):
        result = clients[name].submit([{"target": "198.51.100.7", "scenario": "ssh-bruteforce"}])
    assert result["decisions"] == [3]
    for client in clients.values():
        client.close()
