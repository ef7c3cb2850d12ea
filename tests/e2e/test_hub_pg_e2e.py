"""A real hub process on PostgreSQL: ``hub init --store URL``, ``hub serve``, two
members' reports make a decision, a second hub on the same database starts as a warm
standby, and a ``kill -9`` followed by a restart loses nothing that was acknowledged."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from shieldwall.client import HubClient
from shieldwall.procs import free_port
from shieldwall.signing import SigningKey
from shieldwall.store.pg_schema import MIGRATIONS
from tests.conftest import require_env
from tests.store.pg import scratch_schema
from tests.waiting import wait

from .conftest import HubProcess, cli, cli_json

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
ATTACKER = "203.0.113.9"


@pytest.fixture
def pg_hub(tmp_path: Path) -> Iterator[tuple[HubProcess, str]]:
    server = require_env("SHIELDWALL_TEST_PG")
    with scratch_schema(server, prefix="sw_e2e") as url:
        data = tmp_path / "hub"
        made = cli_json("hub", "init", "--data", str(data), "--template", "nato", "--store", url)
        assert made["store"] == url
        assert not (data / "hub.sqlite3").exists()
        hub = HubProcess(data, free_port(), made["admin_token"], tmp_path / "hub.log")
        hub.start()
        try:
            yield hub, url
        finally:
            hub.stop()


def _signal(target: str, scenario: str = "ssh-bruteforce") -> dict[str, object]:
    return {"target": target, "scenario": scenario, "at": time.time(), "events": 6}


def test_pg_hub_decides_keeps_a_standby_and_survives_kill9(
    pg_hub: tuple[HubProcess, str],
) -> None:
    hub, url = pg_hub
    clients = {}
    with HubClient(hub.url, admin_token=hub.token) as admin:
        for i, name in enumerate(("alpha", "bravo")):
            client = HubClient(hub.url, name=name, key=SigningKey.generate(), timeout=10)
            client.join([f"192.0.2.{10 + i}"])
            admin.approve(name)
            clients[name] = client
    try:
        assert clients["alpha"].submit([_signal(ATTACKER)])["decisions"] == []
        decided = clients["bravo"].submit([_signal(ATTACKER)])["decisions"]
        assert len(decided) == 1
        accepted = 2
        for i in range(20):  # batches large enough to go through COPY
            batch = [_signal(f"198.51.100.{(i * 10 + j) % 250 + 1}", "scan") for j in range(50)]
            accepted += clients["alpha"].submit(batch)["accepted"]
        with HubClient(hub.url, admin_token=hub.token) as viewer:
            before = viewer.get("/healthz")
            assert [d["id"] for d in viewer.decisions()["decisions"]] == decided

        # A copy of the data directory (its own lock file) names the same database:
        # it starts as a standby with the same state; the same directory is refused.
        other = hub.data.parent / "hub-copy"
        shutil.copytree(hub.data, other, ignore=shutil.ignore_patterns("hub.lock"))
        standby = HubProcess(other, free_port(), hub.token, hub.log.with_name("standby.log"))
        standby.start()
        try:
            with HubClient(standby.url, admin_token=hub.token) as viewer:
                seen = viewer.get("/healthz")
                assert (seen["role"], seen["epoch"]) == ("standby", 0)
                assert seen["last_event_id"] == before["last_event_id"]
                assert seen["members"] == 2
                assert [d["id"] for d in viewer.decisions()["decisions"]] == decided
        finally:
            standby.stop()
        second = cli(
            "hub", "serve", "--data", str(hub.data), "--listen", f"127.0.0.1:{free_port()}",
            check=False,
        )  # fmt: skip
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert second.returncode != 0
        assert len(lines) == 1, second.stderr
        assert f"data directory {str(hub.data)!r} is in use by another hub (pid " in lines[0]

        hub.kill9()
        with psycopg.connect(url) as db:
            row = db.execute("SELECT count(*) FROM signals").fetchone()
            ids = [r[0] for r in db.execute("SELECT id FROM decisions")]
        assert row is not None and row[0] == accepted
        assert ids == decided

        hub.start()  # starts as a standby, and leads once the killed node's lease lapses
        with HubClient(hub.url, admin_token=hub.token) as viewer:
            wait(lambda: viewer.get("/healthz")["role"] == "leader", what="the node to lead")
            after = viewer.get("/healthz")
            assert after["members"] == 2
            assert after["last_event_id"] == before["last_event_id"]
            assert after["schema_version"] == before["schema_version"] == len(MIGRATIONS)
            assert [d["id"] for d in viewer.decisions()["decisions"]] == decided
        assert clients["alpha"].submit([_signal("203.0.113.200")])["accepted"] == 1
    finally:
        for client in clients.values():
            client.close()
