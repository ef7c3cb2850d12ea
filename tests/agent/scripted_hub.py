"""A scripted hub for the agent's tests: an HTTP server on loopback that answers each
stream connection with the next script and records what the agent tells it.

It stands in for a hostile or simple hub (an attacker, or a peer that accepts every
signal), not for our hub: tests of our hub with real agents are in tests/e2e.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shieldwall.agent.config import parse_config
from shieldwall.agent.daemon import Agent
from shieldwall.agent.enforce.memory import MemoryEnforcer
from shieldwall.agent.outbox import Outbox
from shieldwall.client import HubClient
from shieldwall.signing import SigningKey
from tests.waiting import until as eventually_holds

OWN = "192.0.2.10"


def decision(id_: int, target: str, **changes: Any) -> dict[str, Any]:
    now = time.time()
    return {
        "id": id_,
        "target": target,
        "scope": "range" if "/" in target else "ip",
        "action": "ban",
        "scenario": "ssh-bruteforce",
        "clause": "art5.quorum",
        "members": ["a", "b"],
        "issued_at": now - 5,
        "expires_at": now + 3600,
        **changes,
    }


def sse(kind: str, id_: int, data: str) -> bytes:
    return f"id: {id_}\nevent: {kind}\ndata: {data}\n\n".encode()


class ScriptedHub:
    """Answers each stream connection with the next script; records what it is told."""

    def __init__(self, resync: Any, streams: list[list[bytes]]) -> None:
        self.resync = resync
        self.alerts: Any = None  # the answer to /v1/alerts (None: 404, an older hub)
        self.streams = list(streams)
        self.policies: list[dict[str, Any]] = []
        self.signals: list[dict[str, Any]] = []
        self.evidence: list[dict[str, Any]] = []  # POST /v1/evidence bodies
        self.connections = 0
        self.done = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/v1/decisions":
                    self._json(hub.resync)
                elif path == "/v1/alerts" and hub.alerts is not None:
                    self._json(hub.alerts)
                elif path == "/v1/stream":
                    hub.connections += 1
                    script = hub.streams.pop(0) if hub.streams else []
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for piece in script:
                        self.wfile.write(piece)
                        self.wfile.flush()
                    if not hub.streams:  # the last script: hold the stream open
                        hub.done.wait(60)
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if urlsplit(self.path).path == "/v1/evidence":
                    hub.evidence.append(json.loads(body))
                    self._json({"member": "m1"})
                    return
                sent = json.loads(body)["signals"]
                hub.signals.extend(sent)
                self._json({"accepted": len(sent), "decisions": [], "disputes": []})

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hub.policies.append(json.loads(body)["policy"])
                self._json({"ok": True})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.done.set()
        self.server.shutdown()
        self.server.server_close()


def run_agent(
    tmp_path: Path,
    hub: ScriptedHub,
    until: Callable[[MemoryEnforcer, list[dict[str, Any]]], bool],
    resolve: Callable[[str], tuple[str, ...]] | None = None,
    sources: list[dict[str, Any]] | None = None,
) -> tuple[MemoryEnforcer, list[dict[str, Any]]]:
    """Run the real agent against ``hub`` until ``until(enforcer, events)`` holds."""
    data = {
        "agent": {
            "name": "m1",
            "hub": hub.url,
            "key": "k",
            "data": "d",
            "addresses": [OWN],
            "poll_interval": 0.02,
        },
        "sources": sources or [],
        "policy": {"allowlist": ["198.51.100.0/24"]},
    }
    config = parse_config(data, "agent.toml", tmp_path)
    enforcer = MemoryEnforcer(allow=config.policy.protected)
    events: list[dict[str, Any]] = []
    client = HubClient(hub.url, name="m1", key=SigningKey.generate())
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    extra = {} if resolve is None else {"resolve": resolve}
    agent = Agent(
        config, client=client, enforcer=enforcer, outbox=outbox, on_event=events.append, **extra
    )

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await eventually_holds(lambda: until(enforcer, events), show=lambda: events[-8:])
        finally:
            stop.set()
            await task

    try:
        asyncio.run(main())
    finally:
        client.close()
        outbox.close()
    return enforcer, events
