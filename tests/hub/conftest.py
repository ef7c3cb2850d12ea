"""An in-process hub with a controllable clock, and member clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shieldwall.client import HubClient
from shieldwall.core.treaty import template_text
from shieldwall.hub.app import create_app, open_secretariat
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.setup import init_hub
from shieldwall.hub.viewers import SQLiteViewers, new_token, viewers_path
from shieldwall.signing import SigningKey


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Hub:
    data: Path
    token: str
    clock: Clock
    sec: Secretariat
    http: TestClient
    read_token: str = ""

    def client(
        self, name: str | None = None, key: SigningKey | None = None, admin: bool = False
    ) -> HubClient:
        return HubClient(
            "http://hub.test",
            name=name,
            key=key,
            admin_token=self.token if admin else None,
            http=self.http,
            clock=self.clock,
        )

    def admin(self) -> HubClient:
        return self.client(admin=True)

    def viewer(self) -> HubClient:
        """A client with a read token (``shieldwall viewers add``): it reads, nothing more."""
        return HubClient(
            "http://hub.test", read_token=self.read_token, http=self.http, clock=self.clock
        )

    def member(self, name: str, address: str, approve: bool = True) -> HubClient:
        key = SigningKey.generate()
        client = self.client(name, key)
        client.join([address])
        if approve:
            self.admin().approve(name)
        return client


@pytest.fixture
def make_hub(tmp_path: Path) -> Iterator[Callable[..., Hub]]:
    hubs: list[Hub] = []
    closing: list[SQLiteViewers] = []

    def make(template: str = "nato", text: str | None = None) -> Hub:
        data = tmp_path / f"hub{len(hubs)}"
        token = init_hub(data, text or template_text(template), template)
        clock = Clock()
        sec = open_secretariat(data, clock=clock)
        viewers = SQLiteViewers(viewers_path(data))
        read_token = new_token()
        viewers.add("tester", read_token, clock())
        app = create_app(sec, ticker=False, viewers=viewers)
        http = TestClient(app, base_url="http://hub.test")
        hub = Hub(data, token, clock, sec, http, read_token)
        hubs.append(hub)
        closing.append(viewers)
        return hub

    yield make
    for hub in hubs:
        hub.http.close()
        hub.sec.store.close()
    for viewers in closing:
        viewers.close()


@pytest.fixture
def hub(make_hub: Callable[..., Hub]) -> Hub:
    return make_hub("nato")
