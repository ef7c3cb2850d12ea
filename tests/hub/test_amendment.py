"""Treaty amendments: a recorded input; later decisions follow and cite the new version."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from shieldwall.client import HubError
from shieldwall.core.treaty import load_treaty, template_text
from shieldwall.hub.app import open_secretariat

from .conftest import Hub
from .replicas import ATTACKER, Pair, state, stop, until


def amended(version: int = 2, quorum: int = 3, text: str | None = None) -> str:
    base = text or template_text("nato")
    out = base.replace("version = 1", f"version = {version}", 1)
    return out.replace("quorum = 2", f"quorum = {quorum}", 1)


def _report(client, target: str = ATTACKER) -> dict:
    return client.submit(
        [{"target": target, "scenario": "ssh-bruteforce", "at": client._clock(), "events": 6}]
    )


def test_amendment_takes_effect_for_later_inputs(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    charlie = hub.member("charlie", "192.0.2.30")
    _report(alpha, "203.0.113.1")
    [before] = _report(bravo, "203.0.113.1")["decisions"]

    answer = hub.admin().amend(amended(quorum=3))
    assert (answer["previous"], answer["label"]) == ("nato@1", "nato@2")
    assert answer["digest"] == load_treaty(amended(quorum=3)).digest

    _report(alpha)
    assert _report(bravo)["decisions"] == [], "quorum is 3 from now on"
    [after] = _report(charlie)["decisions"]
    cited = {d["id"]: d["treaty"] for d in hub.client(admin=True).decisions()["decisions"]}
    assert cited == {before: "nato@1", after: "nato@2"}

    view = hub.client(admin=True).treaty()
    assert view["version"] == 2
    assert [(h["label"], h["digest"]) for h in view["history"]] == [
        ("nato@1", load_treaty(template_text("nato")).digest),
        ("nato@2", answer["digest"]),
    ]
    assert view["history"][0]["since"] is None
    assert view["history"][1]["since"] == hub.clock()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(amended(version=1), "set version = 2", id="same-version"),
        pytest.param(amended(version=0), "treaty.version = 0 is out of range", id="bad-version"),
        pytest.param(
            amended().replace('name = "nato"', 'name = "other"'),
            "keep name = 'nato'",
            id="renamed",
        ),
        pytest.param(amended().replace("quorum = 3", "quorum = -1"), "quorum", id="bad-value"),
        pytest.param("[treaty\n", "TOML", id="not-toml"),
    ],
)
def test_refused_amendments_change_nothing(hub: Hub, text: str, message: str) -> None:
    before = hub.sec.store.last_input_seq()
    with pytest.raises(HubError, match=message) as caught:
        hub.admin().amend(text)
    assert caught.value.status == 422
    assert hub.sec.treaty.label == "nato@1"
    assert hub.sec.store.last_input_seq() == before
    assert len(hub.sec.council.history) == 1


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, "this needs the admin token", id="no-token"),
        pytest.param(
            {"Authorization": "Bearer wrong"},
            "this admin token is not the secretariat's",
            id="wrong",
        ),
    ],
)
def test_amending_needs_the_admin_token(hub: Hub, headers: dict[str, str], message: str) -> None:
    answer = hub.http.post("/v1/treaty/amendments", json={"text": amended()}, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.json()["error"]["message"].startswith(message)
    assert hub.sec.treaty.label == "nato@1"


def test_restart_replays_the_amendment(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub("nato")
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    hub.admin().amend(amended(quorum=3))
    _report(alpha)
    assert _report(bravo)["decisions"] == []
    hub.sec.store.close()

    reopened = open_secretariat(hub.data, clock=hub.clock)
    try:
        assert reopened.treaty.label == "nato@2"
        assert reopened.treaty.quorum == 3
        assert [t.label for _, t in reopened.council.history] == ["nato@1", "nato@2"]
        assert reopened.charter().treaty_digest == load_treaty(template_text("nato")).digest
    finally:
        reopened.store.close()


def test_a_replica_follows_the_amendment(tmp_path: Path) -> None:
    pair = Pair(tmp_path)

    async def scenario() -> None:
        pump = pair.start("alpha", "bravo", "charlie")
        await pair.published()
        replica, follow = await pair.follow()
        pair.primary.amend(amended(quorum=3))
        pair.report("alpha")
        pair.report("bravo")
        pair.report("charlie")
        await until(pair.synced)
        assert replica.treaty.label == "nato@2"
        assert state(replica) == state(pair.primary)
        assert [d.treaty for d in replica.active(pair.clock())] == ["nato@2"]
        await stop(pump, follow)

    try:
        asyncio.run(scenario())
    finally:
        pair.close()
