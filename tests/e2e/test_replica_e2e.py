"""A primary hub and a read replica as real processes, over a real NATS JetStream.

Members join, are approved and report through the replica (forwarded to the primary),
and stream from it; the replica's stream carries the primary's events with the same
ids. ``kill -9`` of the primary during a burst and of the replica lose nothing.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shieldwall.bus.jetstream import delete_stream
from shieldwall.client import HubClient
from shieldwall.procs import free_port
from tests.conftest import require_env
from tests.waiting import wait

from .conftest import Burst, HubProcess, cli
from .test_hub_e2e import Watcher, _members, report

pytestmark = [pytest.mark.e2e, pytest.mark.nats]
ATTACKER = "203.0.113.9"


@pytest.fixture
def bus() -> Iterator[tuple[str, str]]:
    url = require_env("SHIELDWALL_TEST_NATS")
    stream = f"swe2e-{uuid.uuid4().hex[:10]}"
    yield url, stream

    asyncio.run(delete_stream(url, stream))


@pytest.fixture
def primary(hub_process: HubProcess, bus: tuple[str, str]) -> HubProcess:
    hub_process.stop()
    hub_process.extra = ("--bus", bus[0], "--bus-stream", bus[1])
    hub_process.start()
    return hub_process


@pytest.fixture
def replica(primary: HubProcess, bus: tuple[str, str], tmp_path: Path) -> Iterator[HubProcess]:
    extra = ("--bus", bus[0], "--bus-stream", bus[1], "--primary", primary.url)
    (tmp_path / "replica").mkdir()
    (tmp_path / "replica" / "hub.toml").write_text("received_flush = 1.0\n")  # quick receipts
    rep = HubProcess(tmp_path / "replica", free_port(), primary.token, tmp_path / "replica.log",
                     extra=extra, action="replica")  # fmt: skip
    rep.start()
    yield rep
    rep.stop()


def health(url: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(url + "/healthz", timeout=5).json()
    return answer


def caught_up(primary: HubProcess, replica: HubProcess) -> bool:
    try:
        recorded = health(primary.url)["bus"]["recorded_input"]
        return bool(health(replica.url)["bus"]["applied_input"] == recorded)
    except (httpx.HTTPError, KeyError):
        return False


def applied(replica: HubProcess) -> int:
    try:
        return int(health(replica.url)["bus"]["applied_input"])
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        return 0


def consumed(url: str, member: str, token: str) -> int:
    with HubClient(url, admin_token=token) as client:
        entries = client.get("/v1/ledger")["ledger"]
    return int(next(e["consumption"] for e in entries if e["member"] == member))


def decisions(url: str, token: str) -> list[tuple[int, str]]:
    with HubClient(url, admin_token=token) as client:
        return [(d["id"], d["target"]) for d in client.decisions()["decisions"]]


def test_members_work_through_a_replica(
    primary: HubProcess, replica: HubProcess, tmp_path: Path
) -> None:
    keys = _members(replica, tmp_path)  # join and approval forwarded to the primary
    with HubClient(primary.url, admin_token=primary.token) as viewer:
        names = [m["name"] for m in viewer.members()["members"]]
    assert names == ["alpha", "bravo", "charlie"], "recorded by the primary"

    on_replica = Watcher(replica, "charlie", keys["charlie"], after=0)
    on_primary = Watcher(primary, "charlie", keys["charlie"], after=0)
    try:
        report(replica, keys, "alpha", ATTACKER, "ssh-bruteforce")
        report(replica, keys, "bravo", ATTACKER, "ssh-bruteforce")
        got = on_replica.wait_for(lambda e: e["event"] == "decision")
        assert got["data"]["target"] == ATTACKER and got["data"]["members"] == ["alpha", "bravo"]
        on_primary.wait_for(lambda e: e["event"] == "decision")
        refused = report(replica, keys, "alpha", "192.0.2.12", "ssh-bruteforce", check=False)
        assert refused.returncode != 0 and "recorded as dispute" in refused.stdout
        cli("decisions", "revoke", str(got["data"]["id"]), "--hub", replica.url,
            "--admin-token", primary.token)  # fmt: skip
        on_replica.wait_for(lambda e: e["event"] == "revocation")
        on_primary.wait_for(lambda e: e["event"] == "revocation")
    finally:
        on_replica.stop()
        on_primary.stop()
    assert [(e["id"], e["event"], e["data"]) for e in on_replica.events] == [
        (e["id"], e["event"], e["data"]) for e in on_primary.events
    ], "the replica streams the primary's events, with the same ids"
    # charlie received the decision twice, once from each hub: the replica's receipt
    # reaches the primary's ledger (burden sharing counts what replicas stream).
    wait(lambda: consumed(primary.url, "charlie", primary.token) == 2, what="charlie's receipts")
    wait(lambda: caught_up(primary, replica), what="replica caught up")
    assert consumed(replica.url, "charlie", primary.token) == 2
    token = primary.token  # the replica keeps the primary's admin token (the charter)
    with (
        HubClient(replica.url, admin_token=token) as r,
        HubClient(primary.url, admin_token=token) as p,
    ):
        assert r.get("/v1/disputes") == p.get("/v1/disputes")
        assert r.consultations(all_=True) == p.consultations(all_=True)
        assert r.get("/v1/ledger") == p.get("/v1/ledger")


def test_kill9_of_primary_and_replica_loses_nothing(
    primary: HubProcess, replica: HubProcess
) -> None:
    burst = Burst(primary, ["m1", "m2", "m3"])
    burst.start()
    try:
        # Kill with batches in flight, once the replica is applying the burst too.
        wait(lambda: burst.busy(acked=30), 120, "30 batches acknowledged and one in flight")
        wait(lambda: applied(replica) > 0, 60, "the replica applying the primary's inputs")
        primary.kill9()
        replica.kill9()
    finally:
        burst.stop()
    decided = burst.decided
    assert decided, "the burst reached the primary before the kill"
    primary.start()
    replica.start()
    wait(lambda: caught_up(primary, replica), 60, "replica caught up after both restarts")
    token = primary.token
    assert decisions(replica.url, token) == decisions(primary.url, token)
    assert decided <= {i for i, _ in decisions(replica.url, token)}
    assert health(replica.url)["last_event_id"] == health(primary.url)["last_event_id"]
    burst.close()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, check=False, timeout=60)


def test_replica_cli_refusals(primary: HubProcess, bus: tuple[str, str], tmp_path: Path) -> None:
    url, stream = bus
    cases = [
        (["--primary", primary.url], "a replica needs the primary's bus: pass --bus"),
        (["--bus", url, "--primary", "ftp://x"], "--primary 'ftp://x' is not a hub URL"),
        (["--bus", "http://x:4222", "--primary", primary.url], "is not a NATS URL"),
        (
            ["--bus", url, "--bus-stream", "a.b", "--primary", primary.url],
            "bus stream 'a.b' is invalid",
        ),
        (["--bus", "nats://127.0.0.1:1", "--primary", primary.url], "cannot reach the NATS server"),
        (
            [
                "--bus",
                url,
                "--bus-stream",
                f"nobody-{uuid.uuid4().hex[:8]}",
                "--primary",
                primary.url,
            ],
            "has no charter yet",
        ),
    ]
    for extra, words in cases:
        result = run_cli("hub", "replica", "--data", str(tmp_path / "r"), *extra)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1 and words in lines[0], (
            extra,
            result.stderr,
        )
    primary_dir = run_cli("hub", "replica", "--data", str(primary.data), "--bus", url,
                          "--bus-stream", stream, "--primary", primary.url)  # fmt: skip
    assert "holds a primary hub: give the replica its own --data" in primary_dir.stderr
    serve = run_cli("hub", "serve", "--data", str(primary.data), "--bus", "redis://x")
    assert serve.returncode == 2 and "is not a NATS URL" in serve.stderr
