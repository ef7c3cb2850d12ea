"""Admission at the hub's edge: join limits, single-use stream stamps, stream slots,
replays that take turns, the open-file plan, and the secretariat's rejection."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest

from shieldwall.client import HubError
from shieldwall.hub.admission import JoinLimiter, StampBook, StreamSlots
from shieldwall.hub.app import open_secretariat
from shieldwall.hub.server import FD_RESERVE, plan_connections
from shieldwall.hub.settings import settings_from
from shieldwall.hub.stream import Broadcaster, Event
from shieldwall.signing import SigningKey

from .conftest import Hub

# -- the join bucket ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([0.0] * 3, [0.0, 0.0, 0.0], id="within-burst"),
        pytest.param([0.0] * 4, [0.0, 0.0, 0.0, 60.0], id="burst-spent-waits-one-refill"),
        pytest.param([0.0, 0.0, 0.0, 30.0], [0.0, 0.0, 0.0, 30.0], id="half-refilled"),
        pytest.param([0.0, 0.0, 0.0, 60.0], [0.0, 0.0, 0.0, 0.0], id="one-token-back"),
        pytest.param(
            [0.0, 0.0, 0.0, 1e6, 1e6, 1e6, 1e6], [0.0] * 6 + [60.0], id="never-over-burst"
        ),
    ],
)
def test_join_bucket(steps: list[float], expected: list[float]) -> None:
    limiter = JoinLimiter()
    got = [limiter.take("192.0.2.1", at, burst=3, refill=60.0) for at in steps]
    assert got == pytest.approx(expected)


def test_join_bucket_is_per_source_and_bounded() -> None:
    limiter = JoinLimiter(max_sources=2)
    assert limiter.take("192.0.2.1", 0.0, burst=1, refill=60.0) == 0.0
    assert limiter.take("192.0.2.1", 0.0, burst=1, refill=60.0) > 0  # spent
    assert limiter.take("192.0.2.2", 0.0, burst=1, refill=60.0) == 0.0  # another source
    limiter.take("192.0.2.3", 0.0, burst=1, refill=60.0)
    assert len(limiter) == 2  # the least recently seen source was forgotten


# -- single-use stamps ---------------------------------------------------------------------


def test_a_stamp_opens_one_connection_until_it_is_stale() -> None:
    book = StampBook()
    assert book.use("alpha", "GET /v1/stream 100.0", 100.0, now=100.0, skew=300.0) == ""
    assert book.use("alpha", "GET /v1/stream 100.0", 100.0, now=150.0, skew=300.0) == "used"
    assert book.use("bravo", "GET /v1/stream 100.0", 100.0, now=150.0, skew=300.0) == ""
    # Past 100 + 300 the hub refuses the stamp as stale anyway: the book forgets it.
    book.use("alpha", "GET /v1/stream 500.0", 500.0, now=500.0, skew=300.0)
    assert len(book) == 1


def test_stamps_per_member_are_bounded() -> None:
    book = StampBook(per_member=2)
    assert book.use("alpha", "a", 100.0, now=100.0, skew=300.0) == ""
    assert book.use("alpha", "b", 100.0, now=100.0, skew=300.0) == ""
    assert book.use("alpha", "c", 100.0, now=100.0, skew=300.0) == "full"
    assert book.use("bravo", "c", 100.0, now=100.0, skew=300.0) == ""


def test_stream_slots() -> None:
    slots = StreamSlots()
    assert [slots.acquire("alpha", 2) for _ in range(3)] == [True, True, False]
    slots.release("alpha")
    assert slots.held("alpha") == 1
    assert slots.acquire("alpha", 2)
    slots.release("alpha")
    slots.release("alpha")
    assert slots.held("alpha") == 0


# -- replays take turns --------------------------------------------------------------------


def test_a_replay_comes_in_batches_and_lets_the_loop_run_between_them() -> None:
    events = [Event(i, float(i), "decision", "{}") for i in range(1, 1001)]

    def backfill(after: int, limit: int) -> list[Event]:
        return events[after : after + limit]

    async def main() -> tuple[list[list[int]], list[int]]:
        stream = Broadcaster(backfill, last_id=1000, chunk=100, turns=1)
        ticks = 0

        async def other_work() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        worker = asyncio.create_task(other_work())
        await asyncio.sleep(0)
        batches: list[list[int]] = []
        seen_ticks: list[int] = []
        async for batch in stream.follow(0, heartbeat=60):
            assert batch is not None
            batches.append([e.id for e in batch])
            seen_ticks.append(ticks)
            if batch[-1].id == 1000:
                break
        worker.cancel()
        return batches, seen_ticks

    batches, seen_ticks = asyncio.run(main())
    assert [i for batch in batches for i in batch] == list(range(1, 1001))  # dense, in order
    assert all(len(batch) <= 100 for batch in batches)
    # Between two batches of the replay the other task ran (the last batch, no more
    # than a chunk behind, is sent as live events are).
    assert len(batches) == 10
    assert all(b > a for a, b in itertools.pairwise(seen_ticks[:-1]))


# -- the open-file plan --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "soft", "fits", "warns"),
    [
        pytest.param(4096, 20000, 4096, False, id="limit-enough"),
        pytest.param(4096, 4096 + FD_RESERVE, 4096, False, id="limit-exact"),
        pytest.param(4096, 1024, 1024 - FD_RESERVE, True, id="limit-too-low"),
    ],
)
def test_connections_fit_the_open_file_limit(
    wanted: int, soft: int, fits: int, warns: bool
) -> None:
    plan = plan_connections(wanted, soft, soft)
    assert plan.connections == fits
    assert bool(plan.warning) == warns
    if warns:
        assert f"open-file limit {soft}" in plan.warning
        assert f"max_connections {wanted}" in plan.warning
        assert f"at most {fits} connections" in plan.warning


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"max_streams_per_member": 0}, "above zero", id="streams-zero"),
        pytest.param({"header_timeout": "10"}, "must be a float", id="timeout-text"),
        pytest.param({"join_burts": 3}, "did you mean 'join_burst'", id="typo"),
    ],
)
def test_admission_settings_are_checked(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings_from(data, "hub.toml")


# -- joins, in process ---------------------------------------------------------------------


def test_one_source_cannot_fill_the_applicant_queue(hub: Hub) -> None:
    burst = hub.sec.settings.join_burst
    for i in range(burst):
        hub.client(f"applicant{i}", SigningKey.generate()).join([f"198.51.100.{i + 1}"])
    with pytest.raises(HubError) as refused:
        hub.client("one-more", SigningKey.generate()).join(["203.0.113.1"])
    assert refused.value.status == 429
    assert refused.value.code == "too_many_joins"
    assert f"sent {burst} join requests" in str(refused.value)
    assert "try again in 60s" in str(refused.value)
    hub.clock.advance(hub.sec.settings.join_refill)
    hub.client("one-more", SigningKey.generate()).join(["203.0.113.1"])


# -- the secretariat rejects an applicant --------------------------------------------------


def test_rejection_is_a_recorded_input(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub("nato")
    hub.member("spam", "198.51.100.7", approve=False)
    result = hub.admin().reject("spam")
    assert result["status"] == "rejected"
    hub.sec.store.close()
    reopened = open_secretariat(hub.data, clock=hub.clock)
    try:
        member = reopened.council.member("spam")
        assert member is not None
        assert member.status == "rejected"
    finally:
        reopened.store.close()


@pytest.mark.parametrize(
    ("setup", "status", "code", "words"),
    [
        pytest.param("active", 409, "not_applicable", "only applicants", id="already-member"),
        pytest.param("rejected", 409, "not_applicable", "is rejected", id="twice"),
        pytest.param("unknown", 404, "unknown_member", "no member named", id="unknown"),
        pytest.param("wrong-token", 401, "unauthorized", "admin token", id="not-secretariat"),
    ],
)
def test_rejection_refused(hub: Hub, setup: str, status: int, code: str, words: str) -> None:
    if setup == "active":
        hub.member("applicant", "198.51.100.8")
    elif setup in ("rejected", "wrong-token"):
        hub.member("applicant", "198.51.100.8", approve=False)
    if setup == "rejected":
        hub.admin().reject("applicant")
    token = "not-the-token" if setup == "wrong-token" else hub.token
    response = hub.http.post(
        "/v1/members/applicant/reject", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert words in error["message"]


def test_the_queue_frees_once_applicants_are_rejected(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub("nato")
    hub.sec.settings = replace(hub.sec.settings, max_pending_applicants=2)
    for i, name in enumerate(("spam-1", "spam-2")):
        hub.member(name, f"198.51.100.{i + 1}", approve=False)
    with pytest.raises(HubError, match="await approval"):
        hub.client("real", SigningKey.generate()).join(["192.0.2.77"])
    hub.admin().reject("spam-1")
    hub.client("real", SigningKey.generate()).join(["192.0.2.77"])
