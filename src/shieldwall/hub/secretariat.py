"""The hub's one owner of state: council, store and stream, kept consistent.

Every change follows the same path: the council computes the outcome, one store
transaction records the input and everything it produced, and only then are the
new events published and the caller answered. On start the council's state is
rebuilt by replaying the recorded inputs in order with their recorded times; the
council is deterministic, so the rebuilt state is the one that was lost.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shieldwall import wire
from shieldwall.bus.records import Charter, InputRecord, Receipt
from shieldwall.core.council import Council
from shieldwall.core.model import Decision, Outcome, Signal
from shieldwall.core.treaty import Treaty, load_treaty
from shieldwall.hub.bookkeeping import (
    RECEIPTS_POSITION,
    REPLICA_INPUT,
    REPLICA_OF,
    REPLICA_POSITION,
    Identity,
    ReadOnly,
    ReplicationError,
    Stats,
    StoreFailure,
    SubmitResult,
    token_digest,
)
from shieldwall.hub.inputs import apply_input, check_input
from shieldwall.hub.settings import HubSettings
from shieldwall.hub.stream import Broadcaster, Event
from shieldwall.signing import parse_public
from shieldwall.store.base import Store

log = logging.getLogger("shieldwall.hub")


Listener = Callable[[list[Event]], None]


class Secretariat:
    """Applies the treaty to everything the hub accepts; the only writer."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        settings: HubSettings | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings or HubSettings()
        text = store.get_meta("treaty")
        if text is None:
            raise ValueError(
                f"the store {str(store.path)!r} has no treaty: "
                "run 'shieldwall hub init --data DIR --template nato' first"
            )
        self.treaty: Treaty = load_treaty(text, "stored treaty")
        self.council = Council(self.treaty)
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
        # The bus pump (primary) or follower (replica), for health and metrics.
        self.replication: Any = None
        self._replay()
        self.stream = Broadcaster(
            self._backfill, store.last_event_id(), window=self.settings.stream_window
        )

    # -- start-up -----------------------------------------------------------------

    def _replay(self) -> None:
        for name, public, addresses, _at, last_seq, policy in self.store.member_rows():
            self.identities[name] = Identity(
                name, parse_public(public), public, addresses, last_seq, policy
            )
        signals = self.store.signals_by_input()
        replayed = 0
        for seq, at, kind, payload in self.store.inputs():
            self._apply(kind, payload, at, signals.get(seq, []))
            replayed += 1
        log.info("replayed %d recorded inputs", replayed)

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

    def _record(
        self,
        kind: str,
        payload: dict[str, Any],
        now: float,
        signals: Sequence[Signal] = (),
        before: Callable[[], None] | None = None,
        member_seq: tuple[str, int] | None = None,
    ) -> tuple[Outcome, list[int]]:
        if self.replica_of is not None and not self._replicating:
            raise ReadOnly(
                f"this hub is a replica of {self.replica_of!r}: send changes to the primary"
            )
        outcome = self._apply(kind, payload, now, signals)
        events = self._events(outcome)
        with self._committing():
            input_seq = self.store.add_input(now, kind, payload)
            if signals:
                self.store.add_signals(input_seq, signals, now)
            if before is not None:
                before()
            if member_seq is not None:
                self.store.set_last_seq(*member_seq)
            dispute_ids = self._store_outcome(outcome)
            committed = self._publish(now, events)
        if member_seq is not None:
            self.identities[member_seq[0]].last_seq = member_seq[1]
        self._announce(committed)
        self._count(outcome)
        return outcome, dispute_ids

    @contextlib.contextmanager
    def _committing(self) -> Iterator[None]:
        """One store transaction for what the council just did.

        The council has already applied the input in memory; if the store cannot
        commit it, memory and store disagree. The council is then rebuilt from the
        store, which never saw the input, and the caller gets :class:`StoreFailure`:
        the member is told to resend and nothing half-done remains.
        """
        try:
            with self.store.transaction():
                yield
        except Exception as exc:
            log.exception("store commit failed; rebuilding the council from the store")
            self.council = Council(self.treaty)
            self.identities = {}
            self.externals = set(self.store.external_members())
            self._replay()
            raise StoreFailure(
                "the hub could not record this request and has undone it: resend it later"
            ) from exc

    def _store_outcome(self, outcome: Outcome) -> list[int]:
        s = self.store
        if outcome.decisions:
            s.put_decisions(outcome.decisions)
        if outcome.revocations:
            s.put_revocations(outcome.revocations)
        if outcome.consultations:
            s.put_consultations(
                outcome.consultations,
                [wire.dumps(wire.consultation(c)) for c in outcome.consultations],
            )
        return s.add_disputes(outcome.disputes) if outcome.disputes else []

    def _events(self, outcome: Outcome) -> list[tuple[str, str, tuple[str, ...]]]:
        events = [
            ("decision", wire.dumps(wire.decision(d)), d.applies_to) for d in outcome.decisions
        ]
        for r in outcome.revocations:
            original = self.council.decision(r.decision_id)
            audience = original.applies_to if original is not None else ()
            events.append(("revocation", wire.dumps(wire.revocation(r)), audience))
        events += [
            ("consultation", wire.dumps(wire.consultation(c)), ()) for c in outcome.consultations
        ]
        return events

    def _publish(self, now: float, events: list[tuple[str, str, tuple[str, ...]]]) -> list[Event]:
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

    def vote(self, applicant: str, voter: str, approve: bool, seq: int) -> Outcome:
        payload = {"applicant": applicant, "voter": voter, "approve": approve}
        return self._record("vote", payload, self.clock(), member_seq=(voter, seq))[0]

    def submit(self, member: str, seq: int, signals: Sequence[Signal]) -> SubmitResult:
        now = self.clock()
        outcome, dispute_ids = self._record(
            "signals", {"member": member, "seq": seq}, now, signals, member_seq=(member, seq)
        )
        self.stats.signals_accepted += len(signals)
        self.stats.batches_accepted += 1
        disputes = [
            {"id": i, **wire.dispute(d)} for i, d in zip(dispute_ids, outcome.disputes, strict=True)
        ]
        return SubmitResult(
            accepted=len(signals),
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

    def tick(self) -> Outcome:
        """Advance the council's clock; recorded only when it changed something."""
        if self.replica_of is not None:
            return Outcome()  # the primary's ticks arrive as recorded inputs
        now = self.clock()
        probe = self.council.tick(now)
        if not probe:
            return probe
        events = self._events(probe)
        with self._committing():
            self.store.add_input(now, "tick", {})
            self._store_outcome(probe)
            committed = self._publish(now, events)
        self._announce(committed)
        self._count(probe)
        return probe

    def note_received(self, member: str) -> None:
        self._received[member] = self._received.get(member, 0) + 1

    def flush_received(self) -> None:
        """Record in the ledger the decisions streamed to each member since last time."""
        if self.replica_of is not None:
            return  # a replica sends its counts to the primary as receipts (take_received)
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

    # -- replication ----------------------------------------------------------------

    def charter(self) -> Charter:
        return Charter(self.treaty.text, self._admin_digest, self.treaty.digest)

    def replicate(self, record: InputRecord, position: int) -> bool:
        """A replica applies one of the primary's inputs; False if it had it already.

        The same council path at the primary's recorded time gives the same outcome
        and the same stream ids. The primary's input number and the bus position are
        stored in the same transaction, so a restart resumes exactly after it.
        """
        if self.replica_of is None:
            raise ReplicationError("this hub is a primary: only a replica applies bus inputs")
        if record.seq <= self.replica_seq:
            return False
        if record.prev != self.replica_seq:
            raise ReplicationError(
                f"the bus skips from input {self.replica_seq} to {record.seq} (it expected "
                f"{record.prev} first): the stream was purged or belongs to another hub; "
                "rebuild this replica from an empty --data directory"
            )
        p, at, kind = record.payload, record.at, record.kind
        public_text, external = record.member or ("", True)
        try:
            check_input(kind, p)
            # A key the replica could not read back at its next start is refused now.
            key = parse_public(public_text) if kind == "apply" and not external else None
        except ValueError as exc:
            raise ReplicationError(f"input {record.seq}: {exc}") from None

        def marks() -> None:
            s = self.store
            if kind == "apply":
                s.add_member(p["name"], public_text, p["addresses"], at, external=external)
            elif kind == "policy":
                s.set_policy(p["member"], p["policy"])
            s.set_meta(REPLICA_INPUT, str(record.seq))
            s.set_meta(REPLICA_POSITION, str(position))

        seq = p.get("seq")
        member_seq = (p["member"], seq) if kind == "signals" and isinstance(seq, int) else None
        self._replicating = True
        try:
            self._record(kind, p, at, record.signals, before=marks, member_seq=member_seq)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ReplicationError(
                f"input {record.seq} ({kind}) is malformed ({type(exc).__name__}: {exc}): "
                "the primary and this replica must run the same shieldwall version"
            ) from None
        finally:
            self._replicating = False
        self.replica_seq, self.replica_position = record.seq, position
        if kind == "apply":
            self._remember(p["name"], public_text, key, p["addresses"])
        elif kind == "policy" and p["member"] in self.identities:
            self.identities[p["member"]].policy = p["policy"]
        return True

    def apply_receipt(self, receipt: Receipt, position: int) -> bool:
        """The primary records a replica's receipt once; False for one it already has."""
        key = f"receipt:{receipt.replica}"
        if receipt.n <= int(self.store.get_meta(key) or 0):
            self.store.set_meta(RECEIPTS_POSITION, str(position))
            return False

        def marks() -> None:
            self.store.set_meta(key, str(receipt.n))
            self.store.set_meta(RECEIPTS_POSITION, str(position))

        payload = {"replica": receipt.replica, "n": receipt.n, "counts": receipt.counts}
        self._record("receipts", payload, self.clock(), before=marks)
        return True

    def take_received(self) -> dict[str, int]:
        """A replica's counts of decisions streamed to each member since last asked."""
        taken, self._received = self._received, {}
        return taken

    # -- views ----------------------------------------------------------------------

    def active(self, now: float) -> list[Decision]:
        return self.council.active(now)
