"""The hub as a :class:`~shieldwall.interop.source.DecisionSource`.

Current state comes from the council (in memory); history (TAXII, old cursors,
expiries) from the store. Bouncers poll every few seconds, so ``changes`` must be
cheap: the source keeps a bounded in-memory index of recent decision and revocation
events by stream event id, fed by the secretariat after each commit, and reads the
store's event log only for a cursor older than that index.

Everything here runs on the hub's event loop, like the secretariat: the store has
one owner.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence

from shieldwall.core.model import Decision, Revocation, Signal
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.stream import Event
from shieldwall.interop.source import Changes, Member, Submission

INDEX_SIZE = 200_000  # recent decision/revocation events kept for bouncer deltas
_SCENARIO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")  # as hub.validate
_DECISION, _REVOCATION = 0, 1


class HubSource:
    """Decisions, revocations, signals and members of a running hub."""

    def __init__(self, sec: Secretariat, index_size: int = INDEX_SIZE) -> None:
        if index_size < 1:
            raise ValueError(f"index_size {index_size} must be at least 1")
        self.sec = sec
        self._size = index_size
        self._lock = threading.Lock()
        self._ids: list[int] = []  # stream event ids, increasing
        self._refs: list[tuple[int, int]] = []  # (kind, decision id), parallel to _ids
        # The index holds every decision/revocation event with an id above _floor.
        self._floor = sec.stream.last_id
        self._watchers: list[Callable[[Sequence[Decision]], None]] = []
        sec.listeners.append(self._on_events)

    # -- the index ------------------------------------------------------------------

    def _on_events(self, events: list[Event]) -> None:
        issued: list[int] = []
        with self._lock:
            for e in events:
                if e.kind == "decision":
                    kind, key = _DECISION, "id"
                elif e.kind == "revocation":
                    kind, key = _REVOCATION, "decision_id"
                else:
                    continue
                decision_id = int(json.loads(e.body)[key])
                self._ids.append(e.id)
                self._refs.append((kind, decision_id))
                if kind == _DECISION:
                    issued.append(decision_id)
            excess = len(self._ids) - self._size
            if excess > self._size // 2:  # trim in halves: amortised O(1) per event
                self._floor = self._ids[excess - 1]
                del self._ids[:excess]
                del self._refs[:excess]
        if issued and self._watchers:
            council = self.sec.council
            decisions = [d for d in map(council.decision, issued) if d is not None]
            for callback in self._watchers:
                callback(decisions)

    def _refs_after(self, since_seq: int, upto: int) -> list[tuple[int, int]]:
        """(kind, decision id) of decision/revocation events in ``(since_seq, upto]``."""
        with self._lock:
            floor = self._floor
            start = bisect.bisect_right(self._ids, max(since_seq, floor))
            end = bisect.bisect_right(self._ids, upto)
            recent = self._refs[start:end]
        if since_seq >= floor:
            return recent
        older = self.sec.store.decision_event_refs(since_seq, min(floor, upto))
        kinds = {"decision": _DECISION, "revocation": _REVOCATION}
        return [(kinds[k], d) for _, k, d in older] + recent

    # -- DecisionSource -------------------------------------------------------------

    def active(self, now: float) -> list[Decision]:
        return self.sec.council.active(now)

    def active_on(self, values: Iterable[str], now: float) -> list[Decision]:
        return self.sec.council.active_on(values, now)

    def seq(self) -> int:
        return self.sec.stream.last_id

    def changes(self, since_seq: int, since: float, now: float) -> Changes:
        council = self.sec.council
        seq = self.seq()
        if since_seq > seq or (
            since_seq < self._floor and since_seq < self.sec.store.pruned_event()
        ):
            # A cursor from the future (the hub's data was replaced), or from before the
            # history retention kept (hub/upkeep.py): start over, as a new bouncer does.
            return Changes(tuple(self.active(now)), (), (), seq)
        new: list[Decision] = []
        revoked: list[Revocation] = []
        for kind, decision_id in self._refs_after(since_seq, seq):
            if kind == _DECISION:
                d = council.decision(decision_id)  # None: expired long ago
                if d is not None and d.active(now) and council.revocation(decision_id) is None:
                    new.append(d)
            else:
                r = council.revocation(decision_id) or self.sec.store.revocation(decision_id)
                if r is not None:
                    revoked.append(r)
        expired = self.sec.store.decisions_expired_between(since, now) if since < now else []
        return Changes(tuple(new), tuple(revoked), tuple(expired), seq)

    def decision(self, decision_id: int) -> Decision | None:
        return self.sec.council.decision(decision_id) or self.sec.store.decision(decision_id)

    def decisions_since(self, since: float) -> list[Decision]:
        return self.sec.store.decisions_issued_since(since)

    def revocations_since(self, since: float) -> list[Revocation]:
        return self.sec.store.revocations_since(since)

    def signals_since(self, since: float) -> list[Signal]:
        return self.sec.store.signals_since(since)

    def members(self) -> list[Member]:
        externals = self.sec.externals
        return [
            Member(
                m.name,
                m.joined_at if m.joined_at is not None else m.applied_at,
                m.status,
                m.name in externals,
            )
            for m in self.sec.council.members()
        ]

    def watch(self, callback: Callable[[Sequence[Decision]], None]) -> None:
        self._watchers.append(callback)

    def submit_external(self, partner: str, signals: Sequence[Signal], now: float) -> Submission:
        """Checks each signal as the member API would, then hands the rest to the council.

        ``now`` is the caller's view of the time; the secretariat records the inputs
        at its own clock, as it does for members. A signal naming something the treaty
        protects is recorded as a dispute, as a member's would be, and reported back
        as refused.
        """
        treaty = self.sec.treaty
        rejected: list[tuple[int, str]] = []
        good: list[tuple[int, Signal]] = []
        for i, s in enumerate(signals):
            try:
                target = treaty.check_target(s.target).text
            except ValueError as exc:
                rejected.append((i, str(exc)))  # it names the target
                continue
            if not _SCENARIO.match(s.scenario):
                rejected.append(
                    (
                        i,
                        f"scenario {s.scenario[:80]!r} of {s.target} is not valid: use letters, "
                        "digits and ._:/@+- (at most 128)",
                    )
                )
                continue
            events = min(max(s.events, 1), 1_000_000)
            good.append((i, Signal(partner, target, s.scenario, s.at, events)))
        limit = self.sec.settings.max_signals_per_batch
        accepted = 0
        for start in range(0, len(good), limit):
            batch = good[start : start + limit]
            try:
                result = self.sec.submit_external(partner, [s for _, s in batch])
            except ValueError as exc:
                rejected.extend((i, str(exc)) for i, _ in good[start:])
                break
            protected = {
                d["target"]: f"{d['target']} is protected ({d['reason']}): "
                "recorded as a dispute, not counted"
                for d in result.disputes
            }
            for i, s in batch:
                if s.target in protected:
                    rejected.append((i, protected[s.target]))
                else:
                    accepted += 1
        return Submission(accepted, tuple(sorted(rejected)))
