"""What each member's decision stream carries: free riders get events late, and another
member's act of self-defence is an ``event: skip`` that keeps ids dense.

The stream's event source is read in-process. Its waits run on the hub's clock: a wait
of N seconds moves the hub clock N seconds on at once, so the test sees exactly how
long each member was held back, without sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from shieldwall.core.treaty import template_text
from shieldwall.hub.decisions import _events

from .conftest import Hub

ATTACKER = "203.0.113.9"
DELAY = 3600.0


def _report(client, target: str = ATTACKER) -> dict:
    return client.submit([{"target": target, "scenario": "ssh-bruteforce", "at": client._clock()}])


def _edited(template: str, *changes: tuple[str, str]) -> str:
    text = template_text(template)
    for old, new in changes:
        assert old in text, f"template {template} has no line {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture
def virtual_sleep(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Hub], list[float]]]:
    """Make asyncio's sleep advance a hub's clock instead of waiting; record each wait."""
    real_sleep = asyncio.sleep

    def install(hub: Hub) -> list[float]:
        seen: list[float] = []

        async def sleep(seconds: float, result: object = None) -> object:
            if seconds > 0:
                seen.append(seconds)
                hub.clock.advance(seconds)
            return await real_sleep(0, result)

        monkeypatch.setattr(asyncio, "sleep", sleep)
        return seen

    yield install


def _read(hub: Hub, member: str | None, after: int, until_id: int) -> list[tuple[str, float]]:
    """SSE chunks from ``member``'s stream after ``after`` up to event ``until_id``, each
    with the hub's clock when it was sent."""

    async def run() -> list[tuple[str, float]]:
        got: list[tuple[str, float]] = []
        source = _events(hub.sec, member, after)
        try:
            # A generous deadline for a stream that never sends the event (a failure).
            async with asyncio.timeout(30):
                async for chunk in source:
                    got.append((chunk.decode(), hub.clock()))
                    if f"id: {until_id}\n" in chunk.decode():
                        return got
        except TimeoutError:
            raise AssertionError(f"event {until_id} never came; got {got}") from None
        finally:
            await source.aclose()
        raise AssertionError("the stream ended")

    return asyncio.run(run())


def _frames(chunks: list[tuple[str, float]]) -> list[tuple[int, str, float]]:
    """(id, event kind, clock when sent) per SSE frame."""
    out = []
    for text, at in chunks:
        for frame in text.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
            if "id" in fields:
                out.append((int(fields["id"]), fields["event"], at))
    return out


@pytest.mark.parametrize(
    ("delay", "seconds"),
    [
        pytest.param("1h", DELAY, id="an-hour"),
        pytest.param("1s", 1.0, id="one-second"),
    ],
)
def test_a_free_rider_gets_each_event_the_treaty_delay_late(
    make_hub: Callable[..., Hub],
    virtual_sleep: Callable[[Hub], list[float]],
    delay: str,
    seconds: float,
) -> None:
    hub = make_hub(
        "nato",
        _edited(
            "nato",
            ('policy = "warn"', 'policy = "delay"'),
            ('grace = "14d"', 'grace = "1s"'),
            ('delay = "30s"', f'delay = "{delay}"'),
        ),
    )
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    hub.member("charlie", "192.0.2.30")
    for _ in range(5):  # charlie consumes and never contributes
        hub.sec.note_received("charlie")
    hub.sec.flush_received()
    hub.clock.advance(2)
    assert hub.sec.council.standing("charlie", hub.clock()) == "delayed"
    assert hub.sec.council.standing("alpha", hub.clock()) == "ok"

    after = hub.sec.stream.last_id
    _report(alpha)
    _report(bravo)
    decided_at = hub.clock()
    last = hub.sec.stream.last_id
    waits = virtual_sleep(hub)

    on_time = _frames(_read(hub, "alpha", after, last))
    assert "decision" in [kind for _, kind, _ in on_time]
    assert waits == [] and all(at == decided_at for _, _, at in on_time)

    late = _frames(_read(hub, "charlie", after, last))
    assert [(i, kind) for i, kind, _ in late] == [(i, kind) for i, kind, _ in on_time]
    assert waits == [pytest.approx(seconds)], "held back once, until the first event is due"
    assert all(at >= decided_at + seconds for _, _, at in late)
    hub.sec.flush_received()  # what the late stream carried still counts as received
    consumption = {e.member: e.consumption for e in hub.sec.council.ledger(hub.clock())}
    assert consumption["charlie"] == 5 + 1


@pytest.mark.parametrize(
    "reader",
    [
        pytest.param("bravo", id="another-member"),
        pytest.param(None, id="secretariat"),
    ],
)
def test_another_members_self_defence_is_a_skip_with_its_id(
    make_hub: Callable[..., Hub], reader: str | None
) -> None:
    hub = make_hub("unilateral")
    alpha = hub.member("alpha", "192.0.2.10")
    hub.member("bravo", "192.0.2.20")
    after = hub.sec.stream.last_id
    decision = _report(alpha)["decisions"][0]
    last = hub.sec.stream.last_id

    own = _frames(_read(hub, "alpha", after, last))
    other = _frames(_read(hub, reader, after, last))
    ids = list(range(after + 1, last + 1))
    assert [i for i, _, _ in own] == [i for i, _, _ in other] == ids, "ids stay dense"
    assert ("decision" in [k for _, k, _ in own]) and decision
    decision_ids = [i for i, k, _ in own if k == "decision"]
    seen_by_other = {i: k for i, k, _ in other}
    expected = "skip" if reader else "decision"
    assert [seen_by_other[i] for i in decision_ids] == [expected]


def test_only_decisions_streamed_to_a_member_count_as_received(
    make_hub: Callable[..., Hub],
) -> None:
    """Burden sharing counts the decisions a member's stream carried: not consultations,
    not another member's self-defence (a skip), not what the secretariat reads."""
    hub = make_hub("nato")
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    hub.member("charlie", "192.0.2.30")
    after = hub.sec.stream.last_id
    _report(alpha)  # a consultation, then a decision and the consultation closed
    _report(bravo)
    _report(alpha, "203.0.113.10")  # one more consultation
    last = hub.sec.stream.last_id
    _read(hub, "charlie", after, last)
    _read(hub, None, after, last)
    hub.sec.flush_received()
    consumption = {e.member: e.consumption for e in hub.sec.council.ledger(hub.clock())}
    assert consumption == {"alpha": 0, "bravo": 0, "charlie": 1}
