"""Reporting benign evidence and exposure to the hub, every ``evidence_interval``.

Each period the agent sends what :class:`~shieldwall.agent.benign.BenignCounter`
gathered (``POST /v1/evidence``, at most :data:`PER_REQUEST` sources a request).
The first report is sent even when empty (exposure 0: nobody attacked this member,
so it is no free rider); later empty ones are not. A report the hub could not take now
(unreachable, busy, member not yet admitted) goes back into the counter and travels
with the next period's; one it refuses as invalid is dropped and named.
This runs in its own task: it never holds up detection, enforcement or the outbox.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from shieldwall.agent.benign import BenignCounter
from shieldwall.client import HubClient, HubError

PER_REQUEST = 1000  # the hub's limit of sources in one report


def send(counter: BenignCounter, client: HubClient) -> tuple[int, int]:
    """Send what the counter holds; returns (attacks, sources) the hub took.

    Raises :class:`HubError`; what was not taken is back in the counter then.
    """
    attacks, counts = counter.take()
    items = sorted(counts.items(), key=lambda kv: -kv[1])  # most evidence first
    parts = [dict(items[i : i + PER_REQUEST]) for i in range(0, len(items), PER_REQUEST)]
    sent = 0
    for n, part in enumerate(parts or [{}]):
        try:
            client.evidence(attacks if n == 0 else None, part)
        except HubError as exc:
            transient = exc.status in (0, 409, 429) or exc.status >= 500
            if not exc.fatal and (transient or exc.code == "not_approved"):
                rest = dict(itertools.chain.from_iterable(p.items() for p in parts[n:]))
                counter.give_back(attacks if n == 0 else 0, rest)
            raise
        sent += len(part)
    return attacks, sent


class Reporter:
    """The counter the agent feeds, and the task that reports it."""

    def __init__(
        self,
        client: HubClient,
        interval: float,
        emit: Callable[..., None],
        give_up: Callable[[HubError], None],
    ) -> None:
        self.counter = BenignCounter()
        self.client = client
        self.interval = interval
        self.emit = emit
        self.give_up = give_up
        self.reported = False  # once exposure is known to the hub, nothing new: no report

    async def run(self) -> None:
        """Every ``interval`` seconds, send the evidence; retry what failed next period."""
        while True:
            await asyncio.sleep(self.interval)
            await self.report()

    async def report(self) -> bool:
        """Send the evidence now; False if the hub did not take it."""
        counter = self.counter
        if self.reported and not counter.attacks and not counter.counts:
            return True  # every report is a recorded input: an empty one would add nothing
        dropped, counter.dropped = counter.dropped, 0
        try:
            attacks, sources = await asyncio.to_thread(send, counter, self.client)
        except HubError as exc:
            if exc.fatal:
                self.give_up(exc)
            else:
                self.emit("evidence_failed", error=str(exc), status=exc.status)
            return False
        fields: dict[str, Any] = {"attacks": attacks, "sources": sources}
        if dropped:
            fields["dropped"] = dropped
        self.reported = True
        self.emit("evidence_sent", **fields)
        return True
