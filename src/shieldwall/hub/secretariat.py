"""The hub's one owner of state: council, store and stream, kept consistent.

Every change follows the same path, inside one store transaction: the input is
recorded, the council computes the outcome, everything it produced is recorded;
only after the commit are the new events published and the caller answered
(``hub/commits.py``, which also commits signal batches apart on PostgreSQL). On
start the council's state is rebuilt by replaying the recorded inputs in order with
their recorded times, from the newest checkpoint that loads (``hub/checkpoints.py``);
the council is deterministic, so the rebuilt state is the one that was lost.

A store that refuses a change costs that one change, not the hub. Values the store
could refuse (integers past 64 bits, NaN, unpaired surrogates) are refused at the
API's edge; and because the input is written before the council sees it, whatever
the store still refuses about the input rolls back with the council untouched
(signal batches committed apart excepted: see ``hub/commits.py``).
Only a failure after the council changed (writing the outcome, or the commit: a
disk that fills up mid-transaction) leaves memory ahead of the store; the council
is then rebuilt from the store once for that failure (``hub/recovery.py``). A copy or an undo log of the
council on every input would cost more on every request than this rare rebuild. A
store that stays down answers 503 on its first write without touching the council,
and a rebuild that could not read it is retried before the next change.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shieldwall import wire
from shieldwall.core.council import Council
from shieldwall.core.model import Decision, Outcome, Signal
from shieldwall.core.treaty import Treaty, load_treaty
from shieldwall.hub import checkpoints
from shieldwall.hub.bookkeeping import (
    REPLICA_INPUT,
    REPLICA_OF,
    REPLICA_POSITION,
    Identity,
    Stats,
    SubmitResult,
    token_digest,
)
from shieldwall.hub.commits import Committing, EventRow, Pending
from shieldwall.hub.inputs import apply_input
from shieldwall.hub.recovery import Recovery
from shieldwall.hub.replica_inputs import ReplicaInputs
from shieldwall.hub.settings import HubSettings
from shieldwall.hub.stream import Broadcaster, Event
from shieldwall.signing import parse_public
from shieldwall.store.base import Store

log = logging.getLogger("shieldwall.hub")

Listener = Callable[[list[Event]], None]


class Secretariat(Committing, Recovery, ReplicaInputs):
    """Applies the treaty to everything the hub accepts; the only writer."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        settings: HubSettings | None = None,
        archives: Path | None = None,
    ) -> None:
        self.store = store
        # Where retention's archive files are: a replay reads pruned inputs back from them
        # when no checkpoint loads.
        self.archives = archives
        self.clock = clock
        self.settings = settings or HubSettings()
        text = store.get_meta("treaty")
        if text is None:
            raise ValueError(
                f"the store {str(store.path)!r} has no treaty: "
                "run 'shieldwall hub init --data DIR --template nato' first"
            )
        # The treaty the alliance was founded on; amendments are recorded inputs.
        self.founding: Treaty = load_treaty(text, "stored treaty")
        self.council = Council(self.founding)
        self.identities: dict[str, Identity] = {}
        self.stats = Stats()
        self._received: dict[str, int] = {}
        # External partners (TAXII): council members without a key; they never log in.
        self.externals: set[str] = set(store.external_members())
        # Called with each batch of events after it is committed and streamed.
        self.listeners: list[Listener] = []
        # Called after every commit (the bus pump waits on it).
        self.commit_hooks: list[Callable[[], None]] = []
        self._admin_digest = store.get_meta("admin_token_sha256") or ""
        # A replica applies the primary's inputs from the bus and records none itself.
        self.replica_of = store.get_meta(REPLICA_OF)
        self.replica_seq = int(store.get_meta(REPLICA_INPUT) or 0)
        self.replica_position = int(store.get_meta(REPLICA_POSITION) or 0)
        self._replicating = False
        # A standby node on PostgreSQL (hub/leadership.py) records nothing until it leads.
        self.standby = False
        self._stale = False  # the council is ahead of the store: rebuild (hub/recovery.py)
        self._recovery: asyncio.Task[None] | None = None
        self._pendings: deque[Pending] = deque()  # inputs being committed (hub/commits.py)
        self._broken = False
        # The bus pump (primary) or follower (replica), for health and metrics.
        self.replication: Any = None
        self._replay()
        self.stream = Broadcaster(
            self._backfill,
            store.last_event_id(),
            window=self.settings.stream_window,
            chunk=self.settings.replay_chunk,
        )

    # -- start-up -----------------------------------------------------------------

    @property
    def treaty(self) -> Treaty:
        """The treaty in force: the founding one as amended by the recorded inputs."""
        return self.council.treaty

    def _replay(self) -> None:
        """The council from the newest valid checkpoint and the inputs recorded after it."""
        for name, public, addresses, _at, last_seq, policy in self.store.member_rows():
            self.identities[name] = Identity(
                name, parse_public(public), public, addresses, last_seq, policy
            )
        rebuilt = checkpoints.rebuild(self.store, self.founding, archives=self.archives)
        self.council = rebuilt.council
        if rebuilt.checkpoint is None:
            log.info("replayed %d recorded inputs", rebuilt.replayed)
        else:
            log.info(
                "loaded the checkpoint at input %d and replayed %d recorded inputs after it",
                rebuilt.checkpoint,
                rebuilt.replayed,
            )

    def _backfill(self, after: int, limit: int) -> list[Event]:
        events = []
        for i, at, kind, body in self.store.events_after(after, limit):
            audience: tuple[str, ...] = ()
            if kind == "decision":
                audience = tuple(json.loads(body).get("applies_to", ()))
            events.append(Event(i, at, kind, body, audience))
        return events

    # -- the one path for every change ---------------------------------------------

    def _apply(
        self, kind: str, p: dict[str, Any], now: float, signals: Sequence[Signal]
    ) -> Outcome:
        return apply_input(self.council, kind, p, now, signals)

    def _rebuild(self) -> None:
        """The council, identities and partners again from the store (it never saw the input).

        All or nothing: if the store cannot be read, the hub keeps what it had (members
        can still be recognised) and the rebuild is retried before the next change.
        """
        self._stale = True
        self.stats.council_rebuilds += 1
        kept = self.council, self.identities, self.externals
        try:
            self.identities = {}
            self.externals = set(self.store.external_members())
            self._replay()
        except Exception:
            self.council, self.identities, self.externals = kept
            raise
        self._publish_landed()  # if the store fails here, the rebuild is tried again
        self._stale = False

    def _publish_landed(self) -> None:
        """Stream what a commit whose answer was lost had recorded all the same.

        A connection cut just after the server committed fails the input on the hub's
        side while its events are in the store: the rebuilt council holds them, and so
        must the stream and the interop indexes, or members would never be told.
        """
        stream = self.stream
        landed = 0
        while events := self._backfill(stream.last_id, stream.chunk):
            self._announce(events)
            landed += len(events)
        if landed:
            log.warning(
                "a commit reported as failed had been recorded: its %d events are published",
                landed,
            )

    def _store_outcome(self, outcome: Outcome, consultations: list[str]) -> list[int]:
        s = self.store
        if outcome.decisions:
            s.put_decisions(outcome.decisions)
        if outcome.revocations:
            s.put_revocations(outcome.revocations)
        if outcome.consultations:
            s.put_consultations(outcome.consultations, consultations)
        return s.add_disputes(outcome.disputes) if outcome.disputes else []

    def _events(self, outcome: Outcome, consultations: list[str]) -> list[EventRow]:
        events = [
            ("decision", wire.dumps(wire.decision(d)), d.applies_to) for d in outcome.decisions
        ]
        for r in outcome.revocations:
            original = self.council.decision(r.decision_id)
            audience = original.applies_to if original is not None else ()
            events.append(("revocation", wire.dumps(wire.revocation(r)), audience))
        events += [("consultation", body, ()) for body in consultations]
        # Alerts: raised readiness for members' detectors, streamed to every member.
        events += [("alert", wire.dumps(wire.alert(a)), ()) for a in outcome.alerts]
        return events

    def _publish(self, now: float, events: list[EventRow]) -> list[Event]:
        """Store the stream events (inside the caller's transaction); returns them with ids."""
        ids = self.store.add_events(now, [(k, b) for k, b, _ in events])
        return [Event(i, now, k, b, a) for i, (k, b, a) in zip(ids, events, strict=True)]

    def _announce(self, events: list[Event]) -> None:
        """Stream the committed events, then tell the listeners (interop indexes)."""
        self.stream.publish(events)
        for hook in self.commit_hooks:
            hook()
        if not events:
            return
        for listener in self.listeners:
            try:
                listener(events)
            except Exception:  # a listener's bug must not undo a committed change
                log.exception("stream listener %r failed", listener)

    def _count(self, outcome: Outcome) -> None:
        st = self.stats
        st.decisions_issued += len(outcome.decisions)
        st.revocations += len(outcome.revocations)
        st.disputes += len(outcome.disputes)
        st.consultations_opened += sum(1 for c in outcome.consultations if c.status == "open")

    # -- operations the API exposes ------------------------------------------------

    def check_admin(self, token: str) -> bool:
        if not self._admin_digest or not token:
            return False
        return hmac.compare_digest(token_digest(token), self._admin_digest)

    def join(self, name: str, public_key: str, addresses: list[str]) -> Outcome:
        if name in self.externals:
            raise ValueError(
                f"member name {name!r} belongs to an external partner: choose another --name"
            )
        if name in self.identities:
            raise ValueError(f"member name {name!r} is taken: choose another --name")
        for other in self.identities.values():
            if other.public_text == public_key:
                raise ValueError(
                    f"this public key already belongs to member {other.name!r}: "
                    "every member needs its own key ('shieldwall keygen')"
                )
        now = self.clock()
        key = parse_public(public_key)

        def add_identity() -> None:
            self.store.add_member(name, public_key, addresses, now)

        outcome, _ = self._record(
            "apply", {"name": name, "addresses": addresses}, now, before=add_identity
        )
        self._remember(name, public_key, key, addresses)
        return outcome

    def _remember(
        self, name: str, public_text: str, key: Ed25519PublicKey | None, addresses: list[str]
    ) -> None:
        """Keep a newly recorded member's identity (no key: an external partner)."""
        if key is None:
            self.externals.add(name)
        else:
            self.identities[name] = Identity(name, key, public_text, list(addresses))

    def approve(self, name: str, by: str) -> Outcome:
        return self._record("approve", {"name": name, "by": by}, self.clock())[0]

    def reject(self, name: str, by: str) -> Outcome:
        return self._record("reject", {"name": name, "by": by}, self.clock())[0]

    def vote(self, applicant: str, voter: str, approve: bool, seq: int) -> Outcome:
        payload = {"applicant": applicant, "voter": voter, "approve": approve}
        return self._record("vote", payload, self.clock(), member_seq=(voter, seq))[0]

    def submit(self, member: str, seq: int, signals: Sequence[Signal]) -> SubmitResult:
        return self._submitted(self._begin_submit(member, seq, signals, False), len(signals))

    async def submit_async(self, member: str, seq: int, signals: Sequence[Signal]) -> SubmitResult:
        """:meth:`submit`, committed apart on a store that can (``hub/commits.py``): the
        hub serves other requests while the store commits."""
        pending = self._begin_submit(member, seq, signals, True)
        await pending.committed()
        return self._submitted(pending, len(signals))

    def _begin_submit(
        self, member: str, seq: int, signals: Sequence[Signal], apart: bool
    ) -> Pending:
        payload = {"member": member, "seq": seq}
        now = self.clock()
        return self._begin("signals", payload, now, signals, member_seq=(member, seq), apart=apart)

    def _submitted(self, pending: Pending, accepted: int) -> SubmitResult:
        outcome, dispute_ids = self._settled(pending)
        self.stats.signals_accepted += accepted
        self.stats.batches_accepted += 1
        disputes = [
            {"id": i, **wire.dispute(d)} for i, d in zip(dispute_ids, outcome.disputes, strict=True)
        ]
        return SubmitResult(
            accepted=accepted,
            decisions=[d.id for d in outcome.decisions],
            consultations=[c.id for c in outcome.consultations],
            disputes=disputes,
            no_action=[{"target": n.target, "reason": n.reason} for n in outcome.no_action],
        )

    def submit_external(self, partner: str, signals: Sequence[Signal]) -> SubmitResult:
        """Signals from an external partner (TAXII), as a member of its own.

        The first time, the partner applies without addresses and without a key and
        is approved by the secretariat, through the same recorded inputs as any
        member, so a restart rebuilds it. Partners never log in: they have no key.
        """
        if partner in self.identities:
            raise ValueError(
                f"partner name {partner!r} is a member's name: give the partner another name"
            )
        if partner not in self.externals:
            now = self.clock()

            def add_partner() -> None:
                self.store.add_member(partner, "", [], now, external=True)

            self._record("apply", {"name": partner, "addresses": []}, now, before=add_partner)
            self._remember(partner, "", None, [])
            self._record("approve", {"name": partner, "by": "secretariat"}, self.clock())
        state = self.council.member(partner)
        status = getattr(state, "status", "unknown")
        if status != "active":
            how = self.treaty.accession
            hint = "ask the members to vote on it" if how != "admin" else "ask the secretariat"
            raise ValueError(f"partner {partner!r} is {status}, not active: {hint}")
        batch = [
            s if s.member == partner else Signal(partner, s.target, s.scenario, s.at, s.events)
            for s in signals
        ]
        now = self.clock()
        outcome, _ = self._record("signals", {"member": partner, "external": True}, now, batch)
        self.stats.signals_accepted += len(batch)
        self.stats.batches_accepted += 1
        return SubmitResult(
            accepted=len(batch),
            decisions=[d.id for d in outcome.decisions],
            consultations=[c.id for c in outcome.consultations],
            disputes=[wire.dispute(d) for d in outcome.disputes],
            no_action=[{"target": n.target, "reason": n.reason} for n in outcome.no_action],
        )

    def revoke(self, decision_id: int, by: str, reason: str, appeal: bool) -> Outcome:
        payload = {"id": decision_id, "by": by, "reason": reason, "appeal": appeal}
        return self._record("revoke", payload, self.clock())[0]

    def veto(self, member: str, decision_id: int, seq: int) -> Outcome:
        payload = {"member": member, "id": decision_id}
        return self._record("veto", payload, self.clock(), member_seq=(member, seq))[0]

    def invoke(self, member: str, seq: int) -> Outcome:
        return self._record("invoke", {"member": member}, self.clock(), member_seq=(member, seq))[0]

    def suspend(self, name: str, reason: str) -> Outcome:
        return self._record("suspend", {"name": name, "reason": reason}, self.clock())[0]

    def amend(self, text: str) -> Treaty:
        """The secretariat amends the treaty; returns the treaty now in force.

        ValueError (naming the key or value) for an invalid treaty or one whose
        version is not above the version in force; nothing is recorded then.
        """
        treaty = load_treaty(text, "the amended treaty")
        payload = {"text": treaty.text, "label": treaty.label, "digest": treaty.digest}
        self._record("amend", payload, self.clock())
        return self.treaty

    def tick(self) -> Outcome:
        """Advance the council's clock; recorded only when it changed something."""
        if self.replica_of is not None or self.standby:
            return Outcome()  # the primary's (leader's) ticks arrive as recorded inputs
        self.settle()
        self._catch_up()
        now = self.clock()
        probe = self.council.tick(now)
        if probe:
            self._settled(self._begin("tick", {}, now, applied=probe))
        return probe

    def note_received(self, member: str) -> None:
        self._received[member] = self._received.get(member, 0) + 1

    def flush_received(self) -> None:
        """Record in the ledger the decisions streamed to each member since last time."""
        if self.replica_of is not None:
            return  # a replica sends its counts to the primary as receipts (take_received)
        if self.standby:
            return  # kept until this node leads
        pending, self._received = self._received, {}
        for member, count in sorted(pending.items()):
            self._record("received", {"member": member, "count": count}, self.clock())

    def stream_delay(self, member: str, event_at: float) -> float:
        """Seconds to hold an event back from a member the treaty delays (free riders)."""
        if self.council.standing(member, self.clock()) != "delayed":
            return 0.0
        return event_at + self.treaty.burden.delay - self.clock()

    def set_policy(self, member: str, policy: dict[str, Any], seq: int) -> None:
        def store_policy() -> None:
            self.store.set_policy(member, policy)

        payload = {"member": member, "policy": policy}
        self._record("policy", payload, self.clock(), before=store_policy, member_seq=(member, seq))
        self.identities[member].policy = policy

    def evidence(self, member: str, seq: int, exposure: int | None, benign: dict[str, int]) -> None:
        """``member`` reports its exposure and the benign events it saw per source."""
        payload = {"member": member, "exposure": exposure, "benign": benign}
        self._record("evidence", payload, self.clock(), member_seq=(member, seq))

    # -- views ----------------------------------------------------------------------

    def active(self, now: float) -> list[Decision]:
        return self.council.active(now)
