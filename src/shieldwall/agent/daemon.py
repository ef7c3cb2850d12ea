"""The member agent: watch logs, report offences, enforce the alliance's decisions.

One asyncio loop runs four kinds of task:

* a watcher per log source: new lines -> detection engine -> offences, stored in the
  outbox together with the source's position (one transaction);
* the sender: outbox -> signed batches -> hub, with backoff while the hub is away;
* the follower: full resynchronisation at start, then the live decision stream,
  resumed from the last event id after any disconnect; each decision passes the
  local policy before it reaches the enforcer;
* the expirer, for enforcers without kernel timeouts.

Blocking work (HTTP, SQLite, firewall commands) runs in worker threads so the loop
stays responsive. Progress is reported through ``on_event`` as small dicts (the demo
and ``--json`` print them as JSON lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from shieldwall import wire
from shieldwall.agent.config import AgentConfig, SourceConfig
from shieldwall.agent.detect.engine import DetectionEngine
from shieldwall.agent.enforce.base import Enforcer, EnforcerError, Entry
from shieldwall.agent.outbox import Outbox
from shieldwall.agent.sources import FileFollower, JournalSource, Position
from shieldwall.client import HubClient, HubError, next_seq

log = logging.getLogger("shieldwall.agent")
Listener = Callable[[dict[str, Any]], None]
REFUSED_FOR_GOOD = {"invalid_address", "bad_request", "stale"}


class Backoff:
    def __init__(self, first: float = 0.2, most: float = 5.0) -> None:
        self.first, self.most, self.current = first, most, first

    def next(self) -> float:
        delay = self.current * (0.5 + random.random())
        self.current = min(self.most, self.current * 2)
        return delay

    def reset(self) -> None:
        self.current = self.first


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        client: HubClient,
        enforcer: Enforcer,
        outbox: Outbox,
        on_event: Listener | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.client = client
        self.enforcer = enforcer
        self.outbox = outbox
        self.clock = clock
        self._emit = on_event or (lambda event: None)
        self._wake = asyncio.Event()
        self._entries: dict[int, Entry] = {}
        self._local_id = 0
        self._enforce_lock = threading.Lock()
        self.last_event_id: int | None = None

    def emit(self, kind: str, **fields: Any) -> None:
        self._emit({"event": kind, "member": self.config.name, "t": self.clock(), **fields})

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._watch(source)) for source in self.config.sources]
        tasks += [
            asyncio.create_task(self._send_loop()),
            asyncio.create_task(self._follow_loop(stop)),
            asyncio.create_task(self._expire_loop()),
            asyncio.create_task(self._report_policy()),
        ]
        self.emit("started", sources=[s.label for s in self.config.sources])
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- detection -------------------------------------------------------------------

    async def _watch(self, source: SourceConfig) -> None:
        engine = DetectionEngine(self.config.detect)
        if source.journald is not None:
            await self._watch_journal(source, engine)
            return
        assert source.path is not None
        saved = self.outbox.get_json(f"position:{source.label}")
        position = Position(*saved) if isinstance(saved, list) and len(saved) == 2 else None
        follower = FileFollower(source.path, from_start=source.from_start, position=position)
        try:
            while True:
                chunk = await asyncio.to_thread(follower.poll)
                if chunk:
                    pos = follower.position
                    await self._detected(
                        engine, chunk, {f"position:{source.label}": [pos.inode, pos.offset]}
                    )
                else:
                    await asyncio.sleep(self.config.poll_interval)
        finally:
            follower.close()

    async def _watch_journal(self, source: SourceConfig, engine: DetectionEngine) -> None:
        cursor = self.outbox.get_json(f"cursor:{source.label}")
        journal = JournalSource(
            source.journald or (), cursor=cursor if isinstance(cursor, str) else None
        )
        backoff = Backoff(1.0, 30.0)
        while True:
            try:
                async for entry in journal:
                    await self._detected(
                        engine, entry.syslog_line(), {f"cursor:{source.label}": journal.cursor}
                    )
            except FileNotFoundError as exc:
                self.emit("source_error", source=source.label, error=str(exc))
                return
            await asyncio.sleep(backoff.next())

    async def _detected(
        self, engine: DetectionEngine, chunk: bytes, positions: dict[str, Any]
    ) -> None:
        offences = engine.feed(chunk, self.clock())
        signals = [o.to_signal(self.config.name) for o in offences]
        await asyncio.to_thread(self.outbox.add, signals, positions)
        for o in offences:
            self.emit("detected", target=o.source, scenario=o.scenario, events=o.events)
        if signals:
            self._wake.set()
            await asyncio.to_thread(self._defend, [o.source for o in offences])

    def _defend(self, targets: list[str]) -> None:
        """Local self-defence: ban what this member caught at once, alliance or not."""
        now = self.clock()
        entries = []
        for target in dict.fromkeys(targets):
            self._local_id -= 1
            verdict = self.config.policy.defend(target, now, self._local_id)
            if isinstance(verdict, Entry):
                entries.append(verdict)
            elif verdict.rule != "self_defence":
                self.emit("declined", target=target, decision=None, reason=verdict.reason)
        if not entries:
            return
        with self._enforce_lock:
            self.enforcer.apply(entries, [])
            for entry in entries:
                self._entries[entry.decision_id] = entry
        for entry in entries:
            self.emit("defended", target=entry.target, until=entry.expires_at)

    # -- reporting ---------------------------------------------------------------------

    async def _send_loop(self) -> None:
        backoff = Backoff()
        size = self.config.batch_size
        while True:
            rows = await asyncio.to_thread(self.outbox.pending, size)
            if not rows:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                continue
            try:
                result = await asyncio.to_thread(self._send, rows)
            except HubError as exc:
                if exc.code in REFUSED_FOR_GOOD and len(rows) == 1:
                    # A signal the hub will never take (e.g. older than it accepts):
                    # logged and dropped so it cannot block everything behind it.
                    log.warning("hub refused signal %s for good: %s", rows[0][1], exc)
                    self.emit("refused", signal=rows[0][1], error=str(exc))
                    await asyncio.to_thread(self.outbox.acknowledge, [rows[0][0]])
                    continue
                if exc.code in REFUSED_FOR_GOOD:
                    size = max(1, len(rows) // 2)  # narrow down to the refused signal
                    continue
                self.emit("hub_unreachable", error=str(exc), pending=len(rows))
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
            size = self.config.batch_size
            await asyncio.to_thread(self.outbox.acknowledge, [r[0] for r in rows])
            self.emit(
                "reported",
                targets=sorted({str(r[1]["target"]) for r in rows}),
                accepted=result.get("accepted"),
                decisions=result.get("decisions", []),
                disputes=len(result.get("disputes", [])),
            )

    def _send(self, rows: list[tuple[int, dict[str, object]]]) -> Any:
        seq = next_seq(self.outbox.last_seq())
        self.outbox.remember_seq(seq)
        return self.client.submit([r[1] for r in rows], seq=seq)

    async def _report_policy(self) -> None:
        backoff = Backoff(1.0, 30.0)
        while True:
            try:
                await asyncio.to_thread(self.client.put_policy, self.config.policy.describe())
                return
            except HubError as exc:
                if exc.status in (400, 401, 403):
                    self.emit("policy_refused", error=str(exc))
                    return
                await asyncio.sleep(backoff.next())

    # -- enforcement -------------------------------------------------------------------

    async def _follow_loop(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        loop = asyncio.get_running_loop()
        resync_at = time.monotonic() + self.config.resync_interval
        while not stop.is_set():
            queue: asyncio.Queue[Any] = asyncio.Queue()
            stream = HubClient(
                self.client.url, name=self.client.name, key=self.client.key, ca=self.client.ca
            )
            try:
                if self.last_event_id is None:
                    await asyncio.to_thread(self._resync)
                    resync_at = time.monotonic() + self.config.resync_interval
                # A daemon thread: a blocked read never holds up the agent's exit.
                threading.Thread(
                    target=self._read_stream, args=(stream, queue, loop), daemon=True, name="stream"
                ).start()
                while True:
                    try:
                        first = await asyncio.wait_for(
                            queue.get(), max(0.0, resync_at - time.monotonic())
                        )
                    except TimeoutError:
                        # Now and then the firewall is made to hold exactly what the
                        # alliance has in force: drift, or bans longer than a
                        # backend's own timeout limit, cannot outlive this.
                        self.last_event_id = None
                        break
                    batch = [first]
                    while not queue.empty():
                        batch.append(queue.get_nowait())
                    failure = next((i for i in batch if isinstance(i, BaseException)), None)
                    events = [i for i in batch if not isinstance(i, BaseException)]
                    if events:
                        await asyncio.to_thread(self._apply_events, events)
                        backoff.reset()
                    if failure is not None:
                        raise failure
            except HubError as exc:
                self.emit("stream_lost", error=str(exc), last_event_id=self.last_event_id)
                await asyncio.sleep(backoff.next())
            except (EnforcerError, ValueError, OSError) as exc:
                # The firewall or the hub's data surprised us: start again from a
                # full resynchronisation rather than guess what the firewall holds.
                log.exception("enforcement failed; resynchronising")
                self.emit("enforce_error", error=str(exc))
                self.last_event_id = None
                await asyncio.sleep(backoff.next())
            finally:
                stream.close()

    def _resync(self) -> None:
        result = self.client.decisions(member=self.config.name)
        decisions = [wire.decision_from(d) for d in result["decisions"]]
        now = self.clock()
        entries, refused = self.config.policy.filter(decisions, now)
        with self._enforce_lock:
            local = [e for e in self._entries.values() if e.decision_id < 0 and e.expires_at > now]
            self.enforcer.sync(entries + local)
            self._entries = {e.decision_id: e for e in entries + local}
        self.last_event_id = int(result["cursor"])
        self.emit(
            "resynced", enforced=len(entries), refused=len(refused), cursor=self.last_event_id
        )

    def _read_stream(
        self, stream: HubClient, queue: asyncio.Queue[Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        try:
            for event in stream.stream(after=self.last_event_id):
                loop.call_soon_threadsafe(queue.put_nowait, event)
            raise HubError("the hub closed the stream")
        except BaseException as exc:  # handed to the loop, which reconnects
            with contextlib.suppress(RuntimeError):  # the loop may be gone at exit
                loop.call_soon_threadsafe(queue.put_nowait, exc)

    def _apply_events(self, events: list[Any]) -> None:
        add: list[Entry] = []
        remove: list[Entry] = []
        now = self.clock()
        applied: list[dict[str, Any]] = []
        for event in events:
            if event.id is not None:
                self.last_event_id = event.id
            if event.kind == "decision":
                decision = wire.decision_from(json.loads(event.data))
                verdict = self.config.policy.decide(decision, now)
                if isinstance(verdict, Entry):
                    add.append(verdict)
                    self._entries[decision.id] = verdict
                    applied.append(
                        {"kind": "enforced", "target": decision.target, "decision": decision.id}
                    )
                else:
                    applied.append(
                        {
                            "kind": "declined",
                            "target": decision.target,
                            "decision": decision.id,
                            "reason": verdict.reason,
                        }
                    )
            elif event.kind == "revocation":
                data = json.loads(event.data)
                entry = self._entries.pop(int(data["decision_id"]), None)
                if entry is not None:
                    remove.append(entry)
                    applied.append(
                        {"kind": "lifted", "target": entry.target, "decision": entry.decision_id}
                    )
        if add or remove:
            with self._enforce_lock:
                self.enforcer.apply(add, remove)
        for item in applied:
            kind = item.pop("kind")
            self.emit(kind, **item)

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            expired = await asyncio.to_thread(self._expire)
            if expired:
                self.emit("expired", count=expired)

    def _expire(self) -> int:
        with self._enforce_lock:
            expired = self.enforcer.expire()
            now = self.clock()
            self._entries = {k: e for k, e in self._entries.items() if e.expires_at > now}
        return expired
