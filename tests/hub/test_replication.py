"""A primary and its replica over the in-process bus: same state, same stream, read-only.

The pump and follower here are the ones ``hub serve --bus`` and ``hub replica`` run;
only the bus is the in-process one (tests/bus/ and tests/e2e/ use NATS JetStream).
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Awaitable
from pathlib import Path

import httpx
import pytest
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from shieldwall.bus.base import BusError
from shieldwall.bus.records import InputRecord, encode_input
from shieldwall.client import HubClient
from shieldwall.core.model import Signal
from shieldwall.core.treaty import template_text
from shieldwall.hub.app import create_app, open_secretariat
from shieldwall.hub.bookkeeping import ReadOnly
from shieldwall.hub.forward import ForwardWrites
from shieldwall.hub.roles import prepare_replica
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.setup import init_hub
from shieldwall.signing import SigningKey

from .replicas import ATTACKER, Pair, events, state, stop, until


@pytest.fixture
def pair(tmp_path: Path):
    p = Pair(tmp_path)
    yield p
    p.close()


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_replica_holds_the_primary_state_and_stream(pair: Pair) -> None:
    async def scenario() -> None:
        pump = pair.start("alpha", "bravo", "charlie")
        await pair.published()
        replica, follow = await pair.follow()
        pair.report("alpha")  # a consultation
        pair.report("bravo")  # quorum: a decision
        pair.report("alpha", "192.0.2.30")  # a dispute
        pair.primary.set_policy(
            "charlie", {"max_ban": 3600}, pair.primary.identities["charlie"].last_seq + 1
        )
        pair.primary.submit_external(
            "partner-cti", [Signal("partner-cti", "198.51.100.99", "stix", pair.clock(), 1)]
        )
        [decision] = pair.primary.active(pair.clock())
        pair.primary.revoke(decision.id, "secretariat", "false alarm", appeal=True)
        pair.report("charlie", "203.0.113.50")
        pair.clock.advance(7200)  # the consultation window closes
        assert pair.primary.tick(), "the tick changed something: it is a recorded input"
        await until(pair.synced)
        assert state(replica) == state(pair.primary)
        assert [k for _, k, _ in events(replica)].count("decision") == 1
        assert replica.store.disputes() == pair.primary.store.disputes()
        assert pair.follower.status()["state"] == "following"
        assert pair.pump.status()["published_input"] == pair.primary.store.last_input_seq()
        await stop(pump, follow)

    run(scenario())


def test_replica_restarts_where_it_stopped(pair: Pair) -> None:
    async def scenario() -> None:
        pump = pair.start("alpha", "bravo")
        await until(lambda: pair.pump.published > 0)
        _, follow = await pair.follow()
        pair.report("alpha")
        await until(pair.synced)
        await stop(follow)
        before = events(pair.replica)  # type: ignore[arg-type]
        pair.close_replica()
        pair.report("bravo")  # decided while the replica is down
        replica = await pair.open_replica()
        assert events(replica) == before, "reopened from its own store"
        follow = asyncio.create_task(pair.follower.run())
        await until(pair.synced)
        assert state(replica) == state(pair.primary)
        ids = [i for i, _, _ in events(replica)]
        assert ids == list(range(1, len(ids) + 1)), "no gap, no duplicate"
        await stop(pump, follow)

    run(scenario())


def test_pump_retries_a_failing_bus_and_loses_nothing(pair: Pair) -> None:
    async def scenario() -> None:
        pair.bus.fail_next = 3
        pump = pair.start("alpha", "bravo")
        pair.report("alpha")
        pair.report("bravo")
        await pair.published(30)
        _, follow = await pair.follow()
        await until(pair.synced)
        assert state(pair.replica) == state(pair.primary)  # type: ignore[arg-type]
        await stop(pump, follow)

    run(scenario())


def test_a_resent_input_is_applied_once(pair: Pair) -> None:
    async def scenario() -> None:
        pump = pair.start("alpha")
        await pair.published()
        # A pump that died after publishing but before the bus acknowledged resends;
        # past JetStream's duplicate window the bus holds the input twice.
        again = pair.bus.messages[-1][1]
        pair.bus.append_raw(again)
        pair.report("alpha")
        replica, follow = await pair.follow()
        await until(pair.synced)
        assert state(replica) == state(pair.primary)
        await stop(pump, follow)

    run(scenario())


def bad(record: dict[str, object]) -> bytes:
    return zlib.compress(json.dumps(record).encode())


BAD_MESSAGES = [
    pytest.param(b"\x00garbage", "not a shieldwall bus record", id="not-zlib"),
    pytest.param(zlib.compress(b"[1, 2]"), "not a JSON object", id="not-an-object"),
    pytest.param(bad({"v": 99, "seq": 3}), "format 99", id="newer-format"),
    pytest.param(
        bad({"v": 1, "seq": 3, "prev": 2, "at": 1.0, "kind": "coup", "payload": {}}),
        "input kind 'coup' is unknown",
        id="unknown-kind",
    ),
    pytest.param(
        bad({"v": 1, "seq": 3, "prev": 2, "at": 1.0, "kind": "veto", "payload": {"member": "x"}}),
        "needs id",
        id="missing-key",
    ),
    pytest.param(
        bad({"v": 1, "seq": 3, "prev": 5, "at": 1.0, "kind": "tick", "payload": {}}),
        "prev 5 must be below seq 3",
        id="prev-after-seq",
    ),
    pytest.param(
        bad({"v": 1, "seq": 3, "prev": 2, "at": "noon", "kind": "tick", "payload": {}}),
        "at 'noon' must be a Unix time",
        id="bad-time",
    ),
    pytest.param(
        bad(
            {
                "v": 1,
                "seq": 3,
                "prev": 2,
                "at": 1.0,
                "kind": "signals",
                "payload": {"member": "a"},
                "signals": [["a", "203.0.113.9", "ssh", 1.0, 0]],
            }
        ),
        "events 0 must be an integer >= 1",
        id="bad-signal",
    ),
    pytest.param(
        bad(
            {
                "v": 1,
                "seq": 3,
                "prev": 2,
                "at": 1.0,
                "kind": "apply",
                "payload": {"name": "x", "addresses": []},
            }
        ),
        "carries the applicant's key",
        id="accession-without-key",
    ),
    pytest.param(
        bad(
            {
                "v": 1,
                "seq": 3,
                "prev": 2,
                "at": 1.0,
                "kind": "apply",
                "payload": {"name": "x", "addresses": []},
                "member": ["not-a-key", False],
            }
        ),
        "input 3: public key 'not-a-key' is not a base64 Ed25519 public key",
        id="accession-with-a-bad-key",
    ),
    pytest.param(
        encode_input(InputRecord(9, 7, 1.0, "tick", {})),
        "skips from input 2 to 9",
        id="gap",
    ),
]


@pytest.mark.parametrize(("message", "reason"), BAD_MESSAGES)
def test_a_bad_bus_message_halts_the_replica_with_a_reason(
    pair: Pair, message: bytes, reason: str
) -> None:
    async def scenario() -> None:
        pump = pair.start("alpha")  # inputs 1 (apply) and 2 (approve)
        await until(lambda: pair.pump.published == 2)
        await stop(pump)
        pair.bus.append_raw(message)
        replica = await pair.open_replica()
        assert pair.follower is not None
        await asyncio.wait_for(pair.follower.run(), 10)  # returns: halted
        status = pair.follower.status()
        assert status["state"] == "halted"
        assert reason in status["error"]
        assert replica.replica_seq == 2, "everything before the bad message was applied"
        replica.replication = pair.follower
        http = TestClient(create_app(replica, ticker=False))
        health = http.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "halted"
        assert reason in health.json()["bus"]["error"]
        http.close()

    run(scenario())


def test_pump_refuses_a_bus_of_another_alliance(pair: Pair, tmp_path: Path) -> None:
    async def scenario() -> None:
        other = tmp_path / "other"
        init_hub(other, template_text("league"), "league")
        sec = open_secretariat(other)
        await pair.bus.publish_charter(sec.charter())
        sec.store.close()
        await asyncio.wait_for(pair.pump.run(), 10)
        assert pair.pump.status()["state"] == "stopped"
        assert "another alliance" in pair.pump.status()["error"]

    run(scenario())


def test_pump_refuses_a_bus_ahead_of_its_store(pair: Pair) -> None:
    async def scenario() -> None:
        await pair.bus.publish_charter(pair.primary.charter())
        await pair.bus.publish_input(encode_input(InputRecord(50, 49, 1.0, "tick", {})), 50)
        await asyncio.wait_for(pair.pump.run(), 10)
        error = pair.pump.status()["error"]
        assert "holds input 50 but this hub's records end at 0" in error
        assert "restored from a backup" in error

    run(scenario())


def test_replica_refuses_changes(pair: Pair) -> None:
    async def scenario() -> None:
        pump = pair.start("alpha")
        await pair.published()
        replica = await pair.open_replica()
        with pytest.raises(ReadOnly, match="replica of 'memory': send changes to the primary"):
            replica.join("zulu", SigningKey.generate().public_key, ["192.0.2.99"])
        with pytest.raises(ReadOnly):
            replica.approve("alpha", "secretariat")
        assert not replica.tick()
        await stop(pump)

    run(scenario())


def test_prepare_replica_refusals(pair: Pair, tmp_path: Path) -> None:
    async def scenario() -> None:
        with pytest.raises(ValueError, match="has no charter yet: start the primary"):
            prepare_replica(tmp_path / "r1", None, "memory")
        with pytest.raises(ValueError, match="holds a primary hub: give the replica its own"):
            prepare_replica(tmp_path / "primary", pair.primary.charter(), "memory")
        prepare_replica(tmp_path / "r2", pair.primary.charter(), "memory")
        with pytest.raises(ValueError, match="is a replica of bus stream 'memory', not 'other'"):
            prepare_replica(tmp_path / "r2", pair.primary.charter(), "other")
        other = tmp_path / "other"
        init_hub(other, template_text("un"), "un")
        sec = open_secretariat(other)
        with pytest.raises(ValueError, match="now carries another treaty"):
            prepare_replica(tmp_path / "r2", sec.charter(), "memory")
        sec.store.close()
        assert (tmp_path / "r2").stat().st_mode & 0o777 == 0o700

    run(scenario())


def test_changes_sent_to_a_replica_reach_the_primary(pair: Pair) -> None:
    """Over HTTP, in-process: the replica app forwards writes to the primary app."""

    async def scenario() -> None:
        primary_app = create_app(pair.primary, ticker=False)
        pump = pair.start("alpha")
        await pair.published()
        replica, follow = await pair.follow()
        to_primary = httpx.AsyncClient(transport=httpx.ASGITransport(app=primary_app))
        replica_app = create_app(
            replica,
            ticker=False,
            middleware=[
                Middleware(
                    ForwardWrites,
                    primary="http://primary.test",
                    client=to_primary,
                    max_body=1 << 20,
                )
            ],
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=replica_app), base_url="http://replica.test"
        ) as http:
            key = SigningKey.generate()
            body = json.dumps(
                {"name": "bravo", "public_key": key.public_key, "addresses": ["192.0.2.20"]}
            ).encode()
            joined = await http.post(
                "/v1/members", content=body, headers={"X-Shieldwall-Signature": key.sign(body)}
            )
            assert joined.status_code == 201, joined.text
            assert "bravo" in pair.primary.identities
            approved = await http.post(
                "/v1/members/bravo/approve", headers={"Authorization": f"Bearer {pair.token}"}
            )
            assert approved.status_code == 200, approved.text
            refused = await http.post(
                "/v1/members/bravo/approve", headers={"Authorization": "Bearer wrong"}
            )
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "unauthorized", "the primary's answer"
            await until(pair.synced)
            admin = {"Authorization": f"Bearer {pair.token}"}
            listed = (await http.get("/v1/members", headers=admin)).json()["members"]
            assert [m["name"] for m in listed] == ["alpha", "bravo"], "read from the replica"
        await to_primary.aclose()
        await stop(pump, follow)

    run(scenario())


def test_an_unreachable_primary_is_a_clear_503(pair: Pair) -> None:
    async def scenario() -> None:
        await pair.bus.publish_charter(pair.primary.charter())
        replica = await pair.open_replica()

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        dead = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
        app = create_app(
            replica,
            ticker=False,
            middleware=[
                Middleware(ForwardWrites, primary="http://10.0.0.1:8470", client=dead, max_body=64)
            ],
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://replica.test"
        ) as http:
            answer = await http.post("/v1/signals", content=b"{}")
            assert answer.status_code == 503
            error = answer.json()["error"]
            assert error["code"] == "primary_unreachable"
            assert "http://10.0.0.1:8470" in error["message"] and "resend later" in error["message"]
            big = await http.post("/v1/signals", content=b"x" * 100)
            assert big.status_code == 413
            assert (await http.get("/healthz")).status_code == 200, "reads still served"
        await dead.aclose()

    run(scenario())


def test_hub_client_against_replica_reads(pair: Pair) -> None:
    """The member's own client reads decisions from a replica like from the primary."""

    async def scenario() -> None:
        pump = pair.start("alpha", "bravo")
        pair.report("alpha")
        pair.report("bravo")
        await until(lambda: pair.pump.published > 0)
        replica, follow = await pair.follow()
        await until(pair.synced)
        await stop(pump, follow)
        http = TestClient(create_app(replica, ticker=False), base_url="http://replica.test")
        client = HubClient(
            "http://replica.test", admin_token=pair.token, http=http, clock=pair.clock
        )
        assert [d["target"] for d in client.decisions()["decisions"]] == [ATTACKER]
        http.close()

    run(scenario())


def consumption(sec: Secretariat) -> dict[str, int]:
    return {e.member: e.consumption for e in sec.council.ledger(sec.clock())}


def test_decisions_streamed_by_a_replica_count_at_the_primary(pair: Pair) -> None:
    """Burden sharing sees what members received from replicas, once per receipt."""

    async def scenario() -> None:
        pump = pair.start("alpha", "bravo")
        await until(lambda: pair.pump.published > 0)
        replica, follow = await pair.follow()
        await until(pair.synced)
        for _ in range(3):
            replica.note_received("alpha")  # what the replica's stream endpoint counts
        replica.note_received("ghost")  # a name the alliance does not know: ignored
        await pair.follower.send_receipt(pair.bus)
        await until(lambda: consumption(pair.primary).get("alpha") == 3)
        await until(pair.synced)
        assert consumption(replica) == consumption(pair.primary) == {"alpha": 3, "bravo": 0}
        # The same receipt again (a replica that resent after a lost acknowledgement,
        # past JetStream's duplicate window) and a garbage one: neither counts.
        first = next(m for m in pair.bus.messages if m[0] == "receipts")
        pair.bus.messages.append(first)
        pair.bus.messages.append(("receipts", b"\x00not a receipt"))
        replica.note_received("bravo")
        await pair.follower.send_receipt(pair.bus)
        await until(lambda: consumption(pair.primary).get("bravo") == 1)
        assert consumption(pair.primary)["alpha"] == 3
        assert pair.pump.status()["state"] == "publishing", "a bad receipt never stops the pump"
        await stop(pump, follow)

    run(scenario())


def test_a_receipt_the_bus_refused_is_sent_again_unchanged(pair: Pair) -> None:
    async def scenario() -> None:
        pump = pair.start("alpha")
        await until(lambda: pair.pump.published > 0)
        replica = await pair.open_replica()
        assert pair.follower is not None
        replica.note_received("alpha")
        pair.bus.fail_next = 1
        with pytest.raises(BusError):
            await pair.follower.send_receipt(pair.bus)
        replica.note_received("alpha")  # counted for the next receipt, not this one
        await pair.follower.send_receipt(pair.bus)
        await until(lambda: consumption(pair.primary).get("alpha") == 1)
        await pair.follower.send_receipt(pair.bus)
        await until(lambda: consumption(pair.primary).get("alpha") == 2)
        await stop(pump)

    run(scenario())
