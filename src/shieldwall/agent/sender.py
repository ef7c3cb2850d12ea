"""The agent's sender: outbox -> signed batches -> hub, with backoff while it is away.

Rows leave the outbox only when the hub acknowledges them. What the hub says decides
what happens to a refused batch:

* one signal refused for good (the hub's message names ``signals[INDEX]`` with a code
  of :data:`REFUSED_FOR_GOOD`, e.g. older than it accepts): that signal is logged and
  dropped, so it cannot block everything behind it;
* the batch too large (413): batches are halved, for good;
* the member refused for good (wrong key, unknown or suspended member,
  :attr:`HubError.fatal`): the signals stay and the agent is told to stop;
* anything else (unreachable, the member's clock off, the member not yet approved):
  the signals stay and the batch is tried again with backoff.

A batch in doubt (sent, but no answer came: the hub node died, or the connection
broke) is sent again as it was, the same rows under the same sequence number, to
whichever hub node answers; the outbox remembers it, across restarts too. The hub
records a sequence number once, so a batch it had recorded already is answered
``replayed`` and acknowledged here: each signal is recorded exactly once.
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
IN_FLIGHT = "in_flight"  # outbox meta: {"seq": N, "rows": [ids]} of the batch in doubt
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
        on_fatal: Callable[[HubError], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self._on_fatal = on_fatal  # the hub refused this member for good
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
            rows = await asyncio.to_thread(self._in_doubt, rows)
            try:
                result = await asyncio.to_thread(self._send, rows)
            except HubError as exc:
                if await self._refused(exc, rows):
                    continue
                if exc.fatal and self._on_fatal is not None:
                    self._on_fatal(exc)  # the signals stay in the outbox
                    return
                kind = "hub_refused" if exc.status else "hub_unreachable"
                self._emit(kind, error=str(exc), pending=len(rows))
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
            await asyncio.to_thread(self._acknowledge, [r[0] for r in rows])
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

    def _pinned(self) -> tuple[int, list[int]] | None:
        """(seq, row ids) of the batch in doubt, if any."""
        pin = self.outbox.get_json(IN_FLIGHT)
        if not isinstance(pin, dict):
            return None
        seq, ids = pin.get("seq"), pin.get("rows")
        if not isinstance(seq, int) or not isinstance(ids, list):
            return None
        return seq, [i for i in ids if isinstance(i, int)]

    def _in_doubt(
        self, rows: list[tuple[int, dict[str, object]]]
    ) -> list[tuple[int, dict[str, object]]]:
        """The batch in doubt again, if it is still the oldest pending; else ``rows``."""
        pin = self._pinned()
        if pin is not None and [r[0] for r in rows[: len(pin[1])]] == pin[1]:
            return rows[: len(pin[1])]
        return rows

    def _acknowledge(self, ids: list[int]) -> None:
        self.outbox.acknowledge(ids)
        self.outbox.set_json(IN_FLIGHT, None)

    def _send(self, rows: list[tuple[int, dict[str, object]]]) -> Any:
        ids = [r[0] for r in rows]
        pin = self._pinned()
        if pin is not None and pin[1] == ids:
            seq = pin[0]
        else:
            seq = next_seq(self.outbox.last_seq())
            self.outbox.remember_seq(seq)
            self.outbox.set_json(IN_FLIGHT, {"seq": seq, "rows": ids})
        try:
            return self.client.submit([r[1] for r in rows], seq=seq)
        except HubError as exc:
            if exc.code == "replayed":
                # The hub recorded this batch before its answer was lost (this member's
                # numbers only rise, and a number is only reused for the same rows).
                return {"accepted": len(rows), "replayed": True}
            if 0 < exc.status < 500:
                self.outbox.set_json(IN_FLIGHT, None)  # refused: not recorded
            raise
