"""Fixtures for the interoperability tests: an in-memory source with a fixed clock, a
real ``shieldwall hub serve`` process with members, network namespaces."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stix2
from starlette.applications import Starlette
from taxii2client.v21 import Collection, Server, as_pages

from shieldwall.client import HubClient
from shieldwall.core.model import Decision
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.interop.keys import MemoryBouncerKeys
from shieldwall.interop.partners import MemoryPartners
from shieldwall.interop.source import Member, MemorySource
from shieldwall.interop.stix import pattern_targets
from shieldwall.interop.taxii import COLLECTION_ID, TAXII_MEDIA, taxii_routes
from shieldwall.procs import free_port, start_hub, stop
from shieldwall.signing import SigningKey
from shieldwall.store.sqlite import SQLiteStore
from tests.conftest import require_root, require_tool

T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_decision(
    id: int,
    target: str,
    *,
    action: str = "ban",
    scenario: str = "ssh-bruteforce",
    issued_at: float = T0 - 10,
    ttl: float = 4 * 3600,
    recommended: bool = False,
    applies_to: tuple[str, ...] = (),
) -> Decision:
    scope = "range" if "/" in target else "ip"
    return Decision(
        id=id,
        target=target,
        scope=scope,  # type: ignore[arg-type]
        action=action,  # type: ignore[arg-type]
        scenario=scenario,
        clause="art5.quorum",
        members=("alpha", "bravo"),
        issued_at=issued_at,
        expires_at=issued_at + ttl,
        recommended=recommended,
        applies_to=applies_to,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def source() -> MemorySource:
    return MemorySource([Member("alpha", T0 - 86400), Member("bravo", T0 - 3600)])


@pytest.fixture
def keys() -> MemoryBouncerKeys:
    return MemoryBouncerKeys()


@pytest.fixture
def decide() -> Callable[..., Decision]:
    return make_decision


@pytest.fixture
def hub_dir(tmp_path: Path) -> Path:
    """A hub data directory made by ``init_hub``, with one member, "alpha"."""
    data = tmp_path / "hub"
    init_hub(data, template_text("nato"), "nato")
    store = SQLiteStore(data / "hub.sqlite3")
    with store.transaction():
        store.add_member("alpha", "shieldwall-ed25519-public:AAAA", ["192.0.2.10"], T0)
    store.close()
    return data


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh, empty network namespace, deleted afterwards."""
    require_root()
    require_tool("ip")
    name = f"sw-test-{secrets.token_hex(4)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def in_netns(ns: str, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload]
        ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, **kw
    )


@pytest.fixture
def run_in_netns() -> Callable[..., subprocess.CompletedProcess[str]]:
    return in_netns


# -- TAXII in-process ---------------------------------------------------------------

READER, WRITER = "reader-secret-0123456789", "writer-secret-0123456789"
COL = f"/taxii2/api/collections/{COLLECTION_ID}"


@pytest.fixture
def tokens() -> MemoryPartners:
    t = MemoryPartners()
    t.add("misp-east", READER)
    t.add("opencti-west", WRITER, can_write=True)
    return t


@pytest.fixture
def taxii_app(source: MemorySource, tokens: MemoryPartners, clock: Clock) -> Starlette:
    return Starlette(routes=taxii_routes(source, tokens, clock=clock))


def taxii_call(
    app: Starlette,
    method: str,
    url: str,
    *,
    secret: str | None = READER,
    accept: str | None = TAXII_MEDIA,
    **kw: Any,
) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    if accept is not None:
        headers["Accept"] = accept

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            return await c.request(method, url, headers=headers, **kw)

    return asyncio.run(go())


def wait_for(what: str, probe: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll ``probe`` until it holds; fail naming ``what`` after a generous deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.25)
    pytest.fail(f"gave up waiting for {what}")


def taxii_indicators(
    url: str, user: str, password: str, per_request: int
) -> tuple[Collection, list[dict[str, Any]]]:
    """A read-only partner's view through taxii2-client: the collection, and every
    indicator in it, paged; each parses with ``stix2`` and passes our own checks."""
    server = Server(f"{url}/taxii2/", user=user, password=password)
    (root,) = server.api_roots
    (collection,) = root.collections
    assert collection.id == COLLECTION_ID and collection.can_read and not collection.can_write
    found = []
    for envelope in as_pages(collection.get_objects, per_request=per_request, type="indicator"):
        for obj in envelope.get("objects", []):
            parsed = stix2.parse(obj, version="2.1")
            assert isinstance(parsed.confidence, int) and 0 <= parsed.confidence <= 100
            assert pattern_targets(obj["pattern"]), "plain address comparisons only"
            found.append(obj)
    return collection, found


def partner_bundle(target: str) -> stix2.Bundle:
    """A bundle as a partner platform would send: one indicator of ``target``."""
    return stix2.Bundle(
        stix2.Indicator(
            pattern=f"[ipv4-addr:value = '{target}']",
            pattern_type="stix",
            valid_from="2024-01-01T00:00:00Z",
            indicator_types=["malicious-activity"],
            confidence=80,
        )
    )


# -- a real hub process ------------------------------------------------------------


@dataclass
class RealHub:
    data: Path
    url: str
    token: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1])
        self.proc = start_hub(self.data, port, self.log)

    def stop(self) -> None:
        stop(self.proc)
        self.proc = None

    def admin(self) -> HubClient:
        return HubClient(self.url, admin_token=self.token, timeout=30)


def enrol(
    hub: RealHub, *who: tuple[str, str], keys: dict[str, SigningKey] | None = None
) -> list[HubClient]:
    """Members ``(name, address)`` joined and approved; their clients (close them)."""
    clients = []
    with hub.admin() as admin:
        for name, address in who:
            key = (keys or {}).get(name) or SigningKey.generate()
            client = HubClient(hub.url, name=name, key=key, timeout=30)
            client.join([address])
            admin.approve(name)
            clients.append(client)
    return clients


@pytest.fixture
def real_hub(tmp_path: Path) -> Iterator[RealHub]:
    data = tmp_path / "hub"
    token = init_hub(data, template_text("nato"), "nato")
    hub = RealHub(data, f"http://127.0.0.1:{free_port()}", token, tmp_path / "hub.log")
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def members(real_hub: RealHub) -> Iterator[tuple[HubClient, HubClient]]:
    clients = enrol(real_hub, ("alpha", "192.0.2.10"), ("bravo", "192.0.2.20"))
    try:
        yield clients[0], clients[1]
    finally:
        for c in clients:
            c.close()


def report(*clients: HubClient, targets: list[str]) -> list[int]:
    """Each client reports every target; the decisions the last batch produced."""
    decided: list[int] = []
    for c in clients:
        signals = [{"target": t, "scenario": "ssh-bruteforce", "at": time.time()} for t in targets]
        decided = c.submit(signals)["decisions"]
    return decided
