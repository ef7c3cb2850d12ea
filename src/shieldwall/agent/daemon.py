"""The member agent: watch logs, report offences, enforce the alliance's decisions.

One asyncio loop runs four kinds of task:

* a watcher per log source: new lines -> detector (the built-in scenarios, or a
  fail2ban jail's filter) -> offences, stored in the outbox together with the
  source's position (one transaction);
* the sender: outbox -> signed batches -> hub, with backoff while the hub is away;
* the follower: full resynchronisation at start, then the live decision stream,
  resumed from the last event id after any disconnect; each decision passes the
  local policy before it reaches the enforcer;
* the expirer, for enforcers without kernel timeouts.

Blocking work (HTTP, SQLite, firewall commands) runs in worker threads so the loop
stays responsive. A task that fails unexpectedly is reported and started again, so no
input (a log, the hub's answers) can silently stop detection or enforcement.
Progress is reported through ``on_event`` as small dicts (the demo and ``--json``
print them as JSON lines).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from shieldwall import wire
from shieldwall.agent import alerts, watch
from shieldwall.agent.config import AgentConfig, SourceConfig, hub_addresses
from shieldwall.agent.detect.buckets import Offence
from shieldwall.agent.detect.engine import DetectionEngine
from shieldwall.agent.detect.fail2ban import FilterDetector
from shieldwall.agent.enforce.base import Enforcer, Entry
from shieldwall.agent.evidence import Reporter
from shieldwall.agent.outbox import Outbox
from shieldwall.agent.sender import Backoff, Sender
from shieldwall.client import HubClient, HubError
from shieldwall.client.sse import EventReader
from shieldwall.core.addresses import normalise, parse_network

log = logging.getLogger("shieldwall.agent")
Listener = Callable[[dict[str, Any]], None]


class ResyncRequested(Exception):
    """The hub no longer holds the history this agent asked for: resynchronise."""


class Detector(Protocol):
    def feed(self, chunk: bytes, now: float) -> list[Offence]: ...


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
        stream_client: Callable[[], HubClient] | None = None,
        resolve: Callable[[str], tuple[str, ...]] = hub_addresses,
    ) -> None:
        self.config = config
        self.client = client
        self.enforcer = enforcer
        self.outbox = outbox
        self.clock = clock
        self.policy = config.policy  # the hub's addresses are refreshed as it is reached
        self._stream_client = stream_client or self._new_stream_client
        self._resolve = resolve
        self._emit = on_event or (lambda event: None)
        self.sender = Sender(outbox, client, config.batch_size, self.emit, self._give_up)
        self.fatal: HubError | None = None  # the hub refused this member for good
        self._stop: asyncio.Event | None = None
        self._policy_changed = asyncio.Event()
        self._entries: dict[int, Entry] = {}
        self._failed_sources: set[str] = set()  # read whole once readable (appeared later)
        self._local_id = 0
        self._enforce_lock = threading.Lock()
        self.last_event_id: int | None = None
        self.evidence = Reporter(client, config.evidence_interval, self.emit, self._give_up)
        detect = config.detect  # alerts tune detection only: never the firewall
        self.alerts = alerts.AlertTable(
            config.name,
            clock=clock,
            floor=detect.alert_maxretry_min,
            ceiling=detect.alert_maxretry_max,
        )

    def _new_stream_client(self) -> HubClient:
        # its own connection, closed to end a blocked read
        c = self.client
        return HubClient(c.url, name=c.name, key=c.key, ca=c.ca, nodes=c.nodes)

    def emit(self, kind: str, **fields: Any) -> None:
        self._emit({"event": kind, "member": self.config.name, "t": self.clock(), **fields})

    def _give_up(self, exc: HubError) -> None:
        """The hub refused this member for good (wrong key, unknown, suspended): stop.

        Retrying cannot help, so the agent ends and its command exits non-zero with
        the hub's message; transient refusals never come here.
        """
        if self.fatal is None:
            self.fatal = exc
        if self._stop is not None:
            self._stop.set()

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        work: list[tuple[str, Callable[[], Awaitable[None]], str | None]] = [
            (f"source {s.label}", functools.partial(self._watch, s), s.label)
            for s in self.config.sources
        ]
        work += [
            ("sender", self.sender.run, None),
            ("follower", functools.partial(self._follow_loop, stop), None),
            ("expirer", self._expire_loop, None),
            ("policy", self._report_policy, None),
            ("evidence", self.evidence.run, None),
        ]
        tasks = [asyncio.create_task(self._supervise(*w)) for w in work]
        self.emit("started", sources=[s.label for s in self.config.sources])
        if not self.policy.hubs:
            self.emit("hub_unresolved", hub=self.config.hub)
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _supervise(
        self, name: str, work: Callable[[], Awaitable[None]], source: str | None = None
    ) -> None:
        """Run ``work``; if it fails, report it and start it again after a pause."""
        backoff = Backoff(1.0, 30.0)
        while True:
            try:
                await work()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("%s failed; starting it again", name)
                error = f"{type(exc).__name__}: {exc}"[:300]
                if source is not None:
                    self._failed_sources.add(source)
                    self.emit("source_error", source=source, error=error)
                else:
                    self.emit("task_error", task=name, error=error)
                await asyncio.sleep(backoff.next())

    # -- detection -------------------------------------------------------------------

    def _detector(self, source: SourceConfig) -> Detector:
        detector: FilterDetector | DetectionEngine
        if source.rule is not None:
            detector = FilterDetector(source.rule, max_buckets=self.config.detect.max_buckets)
        else:
            detector = DetectionEngine(self.config.detect)
        if self.config.detect.alerts:
            detector.watch_alerts(self.alerts.maxretry)
        return detector

    async def _watch(self, source: SourceConfig) -> None:
        detector = self._detector(source)
        ban = None if source.rule is None else source.rule.ban_seconds

        async def detected(chunk: bytes, positions: dict[str, Any]) -> None:
            await self._detected(detector, chunk, positions, ban)

        if source.journald is not None:
            await watch.follow_journal(source, self.outbox.get_json, self.emit, detected)
            return
        # A log this watcher could not read before has never been read: like a file that
        # appears later, it is read from its start (unless a saved position says where).
        await watch.follow_file(
            source,
            self.outbox.get_json,
            self.emit,
            detected,
            from_start=source.from_start or source.label in self._failed_sources,
            poll=self.config.poll_interval,
        )

    async def _detected(
        self, detector: Detector, chunk: bytes, positions: dict[str, Any], ban: float | None
    ) -> None:
        offences = detector.feed(chunk, self.clock())
        self.evidence.counter.feed(chunk, caught=len(offences))
        signals = [o.to_signal(self.config.name) for o in offences]
        await asyncio.to_thread(self.outbox.add, signals, positions)
        for o in offences:
            self.alerts.discharge(o.source)  # caught here: the alert has served
            self.emit("detected", target=o.source, scenario=o.scenario, events=o.events)
        if signals:
            self.sender.wake()
            await asyncio.to_thread(self._defend, [o.source for o in offences], ban)

    def _defend(self, targets: list[str], ban: float | None = None) -> None:
        """Local self-defence: ban what this member caught at once, alliance or not.

        ``ban`` is the length of the ban (a fail2ban jail's bantime); None: the
        policy's ``self_defence_ban``.
        """
        now = self.clock()
        entries = []
        for target in dict.fromkeys(targets):
            self._local_id -= 1
            verdict = self.policy.defend(target, now, self._local_id, ban)
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

    async def _report_policy(self) -> None:
        """Tell the hub this member's policy at start, and again whenever it changes."""
        backoff = Backoff(1.0, 30.0)
        while True:
            policy = self.policy
            try:
                await asyncio.to_thread(self.client.put_policy, policy.describe())
            except HubError as exc:
                if exc.fatal:
                    self._give_up(exc)
                    return
                # An applicant reports its policy once it is admitted: keep trying.
                if exc.status not in (400, 401, 403) or exc.code == "not_approved":
                    await asyncio.sleep(backoff.next())
                    continue
                self.emit("policy_refused", error=str(exc))
            backoff.reset()
            if self.policy is policy:
                self._policy_changed.clear()
                await self._policy_changed.wait()

    async def _refresh_hub(self) -> None:
        """Resolve the hub's name again: whatever it now points at is never blocked."""
        resolved = await asyncio.to_thread(self._resolve, self.config.hub)
        known = set(self.policy.hubs)
        for address in resolved:
            with contextlib.suppress(ValueError):
                known.add(normalise(parse_network(address))[0])
        if known != set(self.policy.hubs):
            self.policy = dataclasses.replace(self.policy, hubs=tuple(sorted(known)))
            self._policy_changed.set()
            self.emit("hub_addresses", addresses=sorted(known))
            # Lifted here, not at the next resynchronisation: a ban on the hub's new
            # address would keep this member from ever reaching the hub to resync.
            await asyncio.to_thread(self._lift_protected)

    def _lift_protected(self) -> None:
        """Lift every entry held that now touches what the policy protects."""
        policy = self.policy
        with self._enforce_lock:
            lift = [e for e in self._entries.values() if policy.protecting(e.target) is not None]
            if not lift:
                return
            self.enforcer.apply([], lift)
            for entry in lift:
                del self._entries[entry.decision_id]
        for entry in lift:
            self.emit("lifted", **_lifted(entry), reason="protected")

    # -- enforcement -------------------------------------------------------------------

    async def _follow_loop(self, stop: asyncio.Event) -> None:
        backoff = Backoff()
        loop = asyncio.get_running_loop()
        resync_at = time.monotonic() + self.config.resync_interval
        while not stop.is_set():
            queue: asyncio.Queue[Any] = asyncio.Queue()
            stream = self._stream_client()
            try:
                await self._refresh_hub()  # before anything from the hub is enforced
                if self.last_event_id is None:
                    await asyncio.to_thread(self._resync)
                    resync_at = time.monotonic() + self.config.resync_interval
                # A daemon thread: a blocked read never holds up the agent's exit.
                threading.Thread(
                    target=self._read_stream, args=(stream, queue, loop), daemon=True, name="stream"
                ).start()
                while True:
                    try:
                        # asyncio.timeout, not wait_for: Python 3.11's wait_for can
                        # swallow a cancellation that arrives with an event.
                        async with asyncio.timeout(max(0.0, resync_at - time.monotonic())):
                            first = await queue.get()
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
            except ResyncRequested as exc:
                # Retention pruned the events after our cursor: start again as a new
                # member does, from the decision list (no backoff: the hub is fine).
                self.emit("resync_requested", reason=str(exc)[:300])
                self.last_event_id = None
            except HubError as exc:
                if exc.fatal:
                    self._give_up(exc)
                    return
                self.emit("stream_lost", error=str(exc), last_event_id=self.last_event_id)
                await asyncio.sleep(backoff.next())
            except Exception as exc:
                # The firewall or the hub's data surprised us (EnforcerError,
                # ValueError, anything): start again from a full resynchronisation
                # rather than guess what the firewall holds.
                log.exception("enforcement failed; resynchronising")
                self.emit("enforce_error", error=f"{type(exc).__name__}: {exc}"[:300])
                self.last_event_id = None
                await asyncio.sleep(backoff.next())
            finally:
                stream.close()

    def _resync(self) -> None:
        result = self.client.decisions(member=self.config.name)
        items = result.get("decisions") if isinstance(result, dict) else None
        cursor = result.get("cursor") if isinstance(result, dict) else None
        if (
            not isinstance(items, list)
            or not isinstance(cursor, int)
            or isinstance(cursor, bool)
            or not 0 <= cursor < 1 << 62
        ):
            raise ValueError("the hub's decision list has no 'decisions' list or 'cursor' number")
        decisions = []
        malformed = 0
        for item in items:
            try:
                decisions.append(wire.decision_from(item))
            except ValueError:
                malformed += 1
        now = self.clock()
        policy = self.policy
        entries, refused = policy.filter(decisions, now)
        with self._enforce_lock:
            # This member's own bans stay, unless they now touch what it protects.
            local = [
                e
                for e in self._entries.values()
                if e.decision_id < 0 and e.expires_at > now and policy.protecting(e.target) is None
            ]
            self.enforcer.sync(entries + local)
            self._entries = {e.decision_id: e for e in entries + local}
        held, bad = alerts.resync(self.alerts, self.client)
        self.last_event_id = cursor
        self.emit(
            "resynced",
            enforced=len(entries),
            refused=len(refused) + malformed + bad,
            cursor=self.last_event_id,
            alerts=held,
        )

    def _read_stream(
        self, stream: HubClient, queue: asyncio.Queue[Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        try:
            events = stream.stream(
                after=self.last_event_id,
                reader=EventReader(),
                timeout=self.config.stream_timeout,  # a silent node: reconnect elsewhere
            )
            for event in events:
                loop.call_soon_threadsafe(queue.put_nowait, event)
            raise HubError("the hub closed the stream")
        except BaseException as exc:  # handed to the loop, which reconnects
            with contextlib.suppress(RuntimeError):  # the loop may be gone at exit
                loop.call_soon_threadsafe(queue.put_nowait, exc)

    def _apply_events(self, events: list[Any]) -> None:
        """Apply a batch of stream events; a malformed one is skipped, the rest applied,
        and then ValueError asks for a full resynchronisation."""
        add: list[Entry] = []
        remove: list[Entry] = []
        now = self.clock()
        applied: list[tuple[str, dict[str, Any]]] = []  # events to emit once enforced
        malformed: list[str] = []
        resync = ""
        for event in events:
            if event.id is not None:
                self.last_event_id = event.id
            try:
                if event.kind == "resync":  # the hub pruned what we asked for
                    # Our own words, not the hub's: whatever it sent, we resynchronise.
                    resync = f"the hub no longer holds the events after {self.last_event_id}"
                    break
                if event.kind == "decision":
                    decision = wire.decision_from(json.loads(event.data))
                    verdict = self.policy.decide(decision, now)
                    fields: dict[str, Any] = {"target": verdict.target, "decision": decision.id}
                    if isinstance(verdict, Entry):
                        add.append(verdict)
                        self._entries[decision.id] = verdict
                        applied.append(("enforced", fields))
                    else:
                        applied.append(("declined", {**fields, "reason": verdict.reason}))
                elif event.kind == "alert":  # detection only: never the enforcer
                    watch = self.alerts.apply(wire.alert_from(json.loads(event.data)))
                    if watch is not None:
                        fields = {"target": watch.target.text, "alert": watch.alert}
                        applied.append(("alerted", {**fields, "maxretry": watch.maxretry}))
                elif event.kind == "revocation":
                    entry = self._entries.pop(wire.revoked_id(event.data), None)
                    if entry is not None:
                        remove.append(entry)
                        applied.append(("lifted", _lifted(entry)))
            except ValueError as exc:  # json, wire or _revoked: all say what was wrong
                malformed.append(str(exc)[:300])
        if add or remove:
            with self._enforce_lock:
                self.enforcer.apply(add, remove)
        for kind, fields in applied:
            self.emit(kind, **fields)
        if malformed:
            raise ValueError(f"{len(malformed)} malformed event(s) from the hub: {malformed[0]}")
        if resync:
            raise ResyncRequested(resync)

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            expired = await asyncio.to_thread(self._expire)
            if expired:
                self.emit("expired", count=expired)

    def _expire(self) -> int:
        with self._enforce_lock:
            expired = self.enforcer.expire()
            self.alerts.expire()
            now = self.clock()
            self._entries = {k: e for k, e in self._entries.items() if e.expires_at > now}
        return expired


def _lifted(entry: Entry) -> dict[str, Any]:
    return {"target": entry.target, "decision": entry.decision_id}
