"""Fixtures for the interoperability tests: an in-memory source with a fixed clock."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shieldwall.core.model import Decision
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.interop.keys import MemoryBouncerKeys
from shieldwall.interop.source import Member, MemorySource
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
