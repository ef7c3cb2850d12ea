"""The agent's sender: outbox -> signed batches -> hub, with backoff while it is away.

Rows leave the outbox only when the hub acknowledges them. What the hub says decides
what happens to a refused batch:

* one signal refused for good (the hub's message names ``signals[INDEX]`` with a code
  of :data:`REFUSED_FOR_GOOD`, e.g. older than it accepts): that signal is logged and
  dropped, so it cannot block everything behind it;
* the batch too large (413): batches are halved, for good;
* anything else (unreachable, the member's clock off, the member not yet approved):
  the signals stay and the batch is tried again with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Callable
from typing import Any

from shieldwall.agent.outbox import Outbox
from shieldwall.client import HubClient, HubError, next_seq

log = logging.getLogger("shieldwall.agent")
REFUSED_FOR_GOOD = {"invalid_address", "bad_request", "stale"}
_SIGNAL_INDEX = re.compile(r"signals\[(\d+)\]")


class Backoff:
    def __init__(self, first: float = 0.2, most: float = 5.0) -> None:
        self.first, self.most, self.current = first, most, first

    def next(self) -> float:
        delay = self.current * (0.5 + random.random())
        self.current = min(self.most, self.current * 2)
        return delay

    def reset(self) -> None:
        self.current = self.first


def refused_signal(exc: HubError, count: int) -> int | None:
    """Index of the signal the hub refused for good in a batch of ``count``, if any."""
    if exc.code not in REFUSED_FOR_GOOD:
        return None
    m = _SIGNAL_INDEX.match(str(exc))
    if m is None or int(m.group(1)) >= count:
        return None
    return int(m.group(1))


class Sender:
    def __init__(
        self,
        outbox: Outbox,
        client: HubClient,
        batch_size: int,
        emit: Callable[..., None],
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.batch_size = batch_size  # lowered for good if the hub finds batches too large
        self._emit = emit
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New rows are in the outbox: send now rather than at the next check."""
        self._wake.set()

    async def run(self) -> None:
        backoff = Backoff()
        while True:
            rows = await asyncio.to_thread(self.outbox.pending, self.batch_size)
            if not rows:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):  # never wait_for: see daemon.py
                        await self._wake.wait()
                continue
            try:
                result = await asyncio.to_thread(self._send, rows)
            except HubError as exc:
                if await self._refused(exc, rows):
                    continue
                kind = "hub_refused" if exc.status else "hub_unreachable"
                self._emit(kind, error=str(exc), pending=len(rows))
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
            await asyncio.to_thread(self.outbox.acknowledge, [r[0] for r in rows])
            if not isinstance(result, dict):
                result = {}
            disputes = result.get("disputes")
            self._emit(
                "reported",
                targets=sorted({str(r[1]["target"]) for r in rows}),
                accepted=result.get("accepted"),
                decisions=result.get("decisions", []),
                disputes=len(disputes) if isinstance(disputes, list) else 0,
            )

    async def _refused(self, exc: HubError, rows: list[tuple[int, dict[str, object]]]) -> bool:
        """Act on a refusal that is not the hub being away; False: retry with backoff."""
        bad = refused_signal(exc, len(rows))
        if bad is not None:
            row_id, signal = rows[bad]
            log.warning("hub refused signal %s for good: %s", signal, exc)
            self._emit("refused", signal=signal, error=str(exc))
            await asyncio.to_thread(self.outbox.acknowledge, [row_id])
            return True
        if exc.status == 413 and len(rows) > 1:
            self.batch_size = max(1, len(rows) // 2)
            return True
        return False

    def _send(self, rows: list[tuple[int, dict[str, object]]]) -> Any:
        seq = next_seq(self.outbox.last_seq())
        self.outbox.remember_seq(seq)
        return self.client.submit([r[1] for r in rows], seq=seq)
