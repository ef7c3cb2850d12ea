"""The outbox and the sender: nothing is lost, whatever the hub answers."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from shieldwall.agent.outbox import Outbox
from shieldwall.agent.sender import Sender, refused_signal
from shieldwall.client import HubClient, HubError
from shieldwall.core.model import Signal
from shieldwall.signing import SigningKey
from tests.waiting import until as eventually_holds

NOW = 1_700_000_000.0


def signal(i: int) -> Signal:
    return Signal("m1", f"203.0.113.{i}", "ssh-bruteforce", NOW, 5)


def refusal(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


Handler = Callable[[list[dict[str, Any]]], httpx.Response]


def run_sender(
    tmp_path: Path, count: int, answer: Handler, until: Callable[[Outbox, list[dict]], bool]
) -> tuple[Outbox, list[dict[str, Any]], list[list[str]]]:
    """Send ``count`` signals to a hub answering with ``answer`` until ``until`` holds."""
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add([signal(i) for i in range(count)])
    batches: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["signals"]
        batches.append([s["target"] for s in sent])
        return answer(sent)

    client = HubClient(
        "http://hub.test",
        name="m1",
        key=SigningKey.generate(),
        transport=httpx.MockTransport(handler),
        clock=lambda: NOW,
    )
    emitted: list[dict[str, Any]] = []
    sender = Sender(outbox, client, 1000, lambda kind, **f: emitted.append({"event": kind, **f}))

    async def main() -> None:
        task = asyncio.create_task(sender.run())
        try:
            await eventually_holds(lambda: until(outbox, emitted), show=lambda: emitted[-5:])
        finally:
            task.cancel()

    asyncio.run(main())
    return outbox, emitted, batches


def _reported(emitted: list[dict[str, Any]]) -> int:
    """Signals the sender has reported as acknowledged (after it emptied the outbox)."""
    return sum(len(e["targets"]) for e in emitted if e["event"] == "reported")


def accepted(sent: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(200, json={"accepted": len(sent), "decisions": [], "disputes": []})


def test_a_signal_refused_for_good_is_dropped_alone(tmp_path: Path) -> None:
    def answer(sent: list[dict[str, Any]]) -> httpx.Response:
        for i, s in enumerate(sent):
            if s["target"] == "203.0.113.3":
                return refusal(400, "stale", f"signals[{i}]: 'at' {NOW} is outside the range")
        return accepted(sent)

    _, emitted, batches = run_sender(tmp_path, 6, answer, lambda o, e: _reported(e) == 5)
    assert [e["signal"]["target"] for e in emitted if e["event"] == "refused"] == ["203.0.113.3"]
    reported = {t for e in emitted if e["event"] == "reported" for t in e["targets"]}
    assert reported == {f"203.0.113.{i}" for i in range(6)} - {"203.0.113.3"}
    assert len(batches) == 2  # the hub named the signal: no bisecting


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        pytest.param(400, "stale", "'sent_at' 1 is +99999s from the hub's clock", id="clock-off"),
        pytest.param(400, "bad_request", "'seq' 0 must be a positive integer", id="batch-bad"),
        pytest.param(403, "suspended", "member 'm1' is suspended", id="suspended"),
        pytest.param(503, "store_unavailable", "the store is down", id="hub-trouble"),
    ],
)
def test_a_refusal_of_the_whole_batch_keeps_every_signal(
    tmp_path: Path, status: int, code: str, message: str
) -> None:
    outbox, emitted, batches = run_sender(
        tmp_path,
        4,
        lambda sent: refusal(status, code, message),
        lambda o, e: sum(1 for x in e if x["event"] == "hub_refused") >= 2,
    )
    assert len(outbox) == 4, "nothing is dropped while the hub refuses the batch itself"
    assert not [e for e in emitted if e["event"] == "refused"]
    assert all(len(b) == 4 for b in batches)


def test_too_large_batches_are_halved_until_the_hub_takes_them(tmp_path: Path) -> None:
    def answer(sent: list[dict[str, Any]]) -> httpx.Response:
        if len(sent) > 3:
            return refusal(413, "too_large", f"batch of {len(sent)} signals exceeds 3: split it")
        return accepted(sent)

    _, emitted, batches = run_sender(tmp_path, 10, answer, lambda o, e: _reported(e) == 10)
    assert [len(b) for b in batches] == [10, 5, 2, 2, 2, 2, 2]
    reported = {t for e in emitted if e["event"] == "reported" for t in e["targets"]}
    assert len(reported) == 10


def test_unreachable_hub_keeps_every_signal(tmp_path: Path) -> None:
    def answer(sent: list[dict[str, Any]]) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    outbox, _, _ = run_sender(
        tmp_path, 3, answer, lambda o, e: any(x["event"] == "hub_unreachable" for x in e)
    )
    assert len(outbox) == 3


@pytest.mark.parametrize(
    ("code", "message", "count", "index"),
    [
        pytest.param("stale", "signals[2]: 'at' is outside", 5, 2, id="named"),
        pytest.param("stale", "'sent_at' is far from the hub's clock", 5, None, id="batch"),
        pytest.param("invalid_address", "signals[9]: bad", 5, None, id="index-out-of-range"),
        pytest.param("replayed", "signals[0]: whatever", 5, None, id="other-code"),
    ],
)
def test_refused_signal(code: str, message: str, count: int, index: int | None) -> None:
    assert refused_signal(HubError(message, 400, code), count) == index


def test_outbox_is_safe_from_several_threads(tmp_path: Path) -> None:
    """One watcher thread per log source, and the sender, all at once."""
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(300):
                outbox.add([signal(k)], {f"position:{k}": [1, i]})
                outbox.pending(5)
                outbox.remember_seq(i + 1)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(outbox) == 4 * 300
    assert [outbox.get_json(f"position:{k}") for k in range(4)] == [[1, 299]] * 4


def test_a_batch_whose_answer_was_lost_is_resent_as_it_was_and_recorded_once(
    tmp_path: Path,
) -> None:
    """The hub node recorded the batch and died before answering: the same rows go
    again under the same sequence number, the hub says 'replayed', and they count as
    acknowledged; rows added meanwhile go in the next batch, under a new number."""
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outbox.add([signal(i) for i in range(5)])
    recorded: list[str] = []
    seqs: list[int] = []
    last = 0

    def hub(request: httpx.Request) -> httpx.Response:
        nonlocal last
        payload = json.loads(request.content)
        seqs.append(payload["seq"])
        if payload["seq"] <= last:
            return refusal(409, "replayed", f"sequence number {payload['seq']} is not above")
        last = payload["seq"]
        recorded.extend(s["target"] for s in payload["signals"])
        if len(seqs) == 1:
            outbox.add([signal(i) for i in range(10, 13)])  # arrive while in doubt
            raise httpx.ReadError("the node died before answering", request=request)
        return accepted(payload["signals"])

    client = HubClient(
        "http://a.test,http://b.test",
        name="m1",
        key=SigningKey.generate(),
        transport=httpx.MockTransport(hub),
        clock=lambda: NOW,
    )
    emitted: list[dict[str, Any]] = []
    sender = Sender(outbox, client, 1000, lambda kind, **f: emitted.append({"event": kind, **f}))

    async def main() -> None:
        task = asyncio.create_task(sender.run())
        try:
            await eventually_holds(lambda: len(outbox) == 0, show=lambda: emitted[-5:])
        finally:
            task.cancel()

    asyncio.run(main())
    assert sorted(recorded) == sorted(f"203.0.113.{i}" for i in [*range(5), *range(10, 13)])
    assert len(recorded) == len(set(recorded)), "every signal recorded exactly once"
    assert seqs[0] == seqs[1] < seqs[2], "resent under its number; new rows under a new one"
    assert client.url == "http://b.test", "the client moved to the next node"
