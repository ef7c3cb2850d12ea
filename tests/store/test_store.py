"""The store's behaviour, the same on SQLite and PostgreSQL (see conftest: every test
runs once per store)."""

from __future__ import annotations

import pytest

from shieldwall.core.model import Consultation, Decision, Dispute, Revocation, Signal
from shieldwall.store import pg_schema, schema
from shieldwall.store.sqlite import StoreError

from .conftest import AnyStore, Stores

T0 = 1_800_000_000.0
DECISION_COLUMNS = [
    "id",
    "target",
    "scope",
    "action",
    "scenario",
    "clause",
    "members",
    "issued_at",
    "expires_at",
    "offence",
    "recommended",
    "treaty",
    "applies_to",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
    "revoke_clause",
]


def _decision(i: int, target: str, issued: float = T0, ttl: float = 3600.0) -> Decision:
    return Decision(
        id=i,
        target=target,
        scope="ip",
        action="ban",
        scenario="ssh-bruteforce",
        clause="art5.quorum",
        members=("alpha", "bravo"),
        issued_at=issued,
        expires_at=issued + ttl,
        offence=1,
        recommended=False,
        treaty="nato@1",
        applies_to=(),
    )


def test_migrations_bring_a_new_store_to_the_latest_version(stores: Stores) -> None:
    store = stores.open()
    expected = len(schema.MIGRATIONS) if stores.kind == "sqlite" else len(pg_schema.MIGRATIONS)
    shared = len(pg_schema.MIGRATIONS) - len(pg_schema.OWN)
    assert shared == len(schema.MIGRATIONS), "one PostgreSQL migration per SQLite migration"
    assert store.schema_version == expected
    store.set_meta("treaty", "text")
    store.close()
    again = stores.open()
    assert again.schema_version == expected, "reopening runs no migration twice"
    assert again.get_meta("treaty") == "text"


def test_a_store_newer_than_the_program_is_refused(stores: Stores) -> None:
    store = stores.open()
    with store.transaction() as db:
        if stores.kind == "sqlite":
            db.execute("PRAGMA user_version=99")
        else:
            db.execute("UPDATE shieldwall_schema SET version = 99")
    store.close()
    with pytest.raises(StoreError, match=r"schema version 99, newer than .*: upgrade shieldwall"):
        stores.open()


def test_meta_is_set_and_replaced(store: AnyStore) -> None:
    assert store.get_meta("treaty") is None
    store.set_meta("treaty", "one")
    store.set_meta("treaty", "two")
    assert store.get_meta("treaty") == "two"


def test_inputs_and_signals_round_trip(store: AnyStore) -> None:
    signals = [
        Signal("alpha", f"203.0.113.{i}", "ssh-bruteforce", T0 + i, i + 1) for i in range(40)
    ]
    with store.transaction():
        first = store.add_input(T0, "signals", {"member": "alpha", "seq": 7})
        store.add_signals(first, signals, T0 + 1)  # a large batch (COPY on PostgreSQL)
    with store.transaction():
        second = store.add_input(T0 + 2, "signals", {"member": "bravo", "seq": 1})
        store.add_signals(second, signals[:2], T0 + 2)  # a small one
    third = store.add_input(T0 + 3, "tick", {})
    assert first < second < third
    assert list(store.inputs()) == [
        (first, T0, "signals", {"member": "alpha", "seq": 7}),
        (second, T0 + 2, "signals", {"member": "bravo", "seq": 1}),
        (third, T0 + 3, "tick", {}),
    ]
    grouped = store.signals_by_input()
    assert grouped == {first: signals, second: signals[:2]}
    assert store.signals_of_input(second) == signals[:2]
    assert store.signals_since(T0 + 38) == [signals[38], signals[39]]
    assert store.count("signals") == 42
    assert store.count("inputs") == 3
    after = [store.signals_after(seq, 100) for seq in (0, first, second)]
    assert after == [42, 2, 0]
    assert store.signals_after(0, 10) == 10, "counted up to the bound only"


def test_a_failed_transaction_stores_nothing(store: AnyStore) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.transaction():
        seq = store.add_input(T0, "signals", {"member": "alpha"})
        store.add_signals(seq, [Signal("alpha", "203.0.113.1", "s", T0)], T0)
        store.add_events(T0, [("decision", '{"id":1}')])
        raise RuntimeError("boom")
    assert list(store.inputs()) == []
    assert store.signals_by_input() == {}
    assert store.last_event_id() == 0
    assert store.add_events(T0, [("decision", '{"id":1}')]) == [1], "no gap after a rollback"


def test_decisions_and_revocations(store: AnyStore) -> None:
    one, two = _decision(1, "203.0.113.1"), _decision(2, "203.0.113.2", issued=T0 + 10, ttl=60)
    store.put_decisions([one, two])
    store.put_decisions([_decision(1, "198.51.100.1")])  # an id already stored is kept
    assert store.decision(1) == one
    assert store.decision(3) is None
    assert store.decisions_issued_since(T0 + 5) == [two]
    assert store.decisions_expired_between(T0 + 10, T0 + 70) == [two]
    assert store.decisions_expired_between(T0 + 70, T0 + 100) == []

    revoked = Revocation(1, "203.0.113.1", T0 + 20, "secretariat", "false alarm", "appeal")
    store.put_revocations([revoked])
    later = Revocation(1, "203.0.113.1", T0 + 30, "someone", "again", "admin")
    store.put_revocations([later])  # the first revocation stands
    assert store.revocation(1) == revoked
    assert store.revocation(2) is None
    assert store.revocations_since(T0) == [revoked]
    assert store.revocations_since(T0 + 21) == []
    assert store.decisions_expired_between(T0, T0 + 7200) == [two], "revoked: not expired"

    row = store.decision_row(1)
    assert row is not None and list(row) == DECISION_COLUMNS
    assert row["members"] == '["alpha","bravo"]'
    assert (row["revoked_at"], row["revoke_reason"], row["recommended"]) == (
        T0 + 20,
        "false alarm",
        0,
    )
    assert store.decision_row(99) is None


def test_consultations_and_disputes(store: AnyStore) -> None:
    open_ = Consultation(5, "203.0.113.9", "scan", T0, T0 + 60, ("alpha",))
    store.put_consultations([open_], ['{"status":"open"}'])
    closed = Consultation(5, "203.0.113.9", "scan", T0, T0 + 60, ("alpha",), "expired")
    store.put_consultations([closed], ['{"status":"expired"}'])  # updated in place
    disputes = [
        Dispute("alpha", "127.0.0.1", "scan", T0, "loopback", "protected asset"),
        Dispute("bravo", "192.0.2.1", "scan", T0 + 1, "bravo", "a member's own address"),
    ]
    ids = store.add_disputes(disputes)
    assert len(ids) == 2 and ids[0] < ids[1]
    listed = store.disputes()
    assert [d["id"] for d in listed] == ids[::-1], "newest first"
    assert listed[1] == {
        "id": ids[0],
        "member": "alpha",
        "target": "127.0.0.1",
        "scenario": "scan",
        "at": T0,
        "protected": "loopback",
        "reason": "protected asset",
    }
    assert store.disputes(limit=1)[0]["member"] == "bravo"


def test_events_are_dense_and_read_back_in_order(store: AnyStore) -> None:
    assert store.last_event_id() == 0
    assert store.events_after(0) == []
    ids = store.add_events(T0, [("decision", '{"id":7}'), ("consultation", '{"id":1}')])
    more = store.add_events(T0 + 1, [("revocation", '{"decision_id":7}')])
    assert store.add_events(T0 + 2, []) == []
    assert ids + more == [1, 2, 3]
    assert store.last_event_id() == 3
    assert store.events_after(1) == [
        (2, T0, "consultation", '{"id":1}'),
        (3, T0 + 1, "revocation", '{"decision_id":7}'),
    ]
    assert [e[0] for e in store.events_after(0, limit=2)] == [1, 2]
    assert store.decision_event_refs(0, 3) == [(1, "decision", 7), (3, "revocation", 7)]
    assert store.decision_event_refs(1, 2) == []


def test_many_events_and_consultations_at_once(store: AnyStore) -> None:
    """Large batches take PostgreSQL's bulk paths (COPY, arrays): the same results."""
    bodies = [f'{{"n":{i},"text":"quote \\" back\\\\ tab\\t é"}}' for i in range(40)]
    ids = store.add_events(T0, [("consultation", b) for b in bodies])
    assert ids == list(range(1, 41))
    assert store.events_after(0) == [
        (i, T0, "consultation", b) for i, b in zip(ids, bodies, strict=True)
    ]
    opened = [Consultation(i, f"203.0.113.{i}", "scan", T0, T0 + 60, ("a",)) for i in range(40)]
    store.put_consultations(opened, bodies)
    closed = [
        Consultation(i, f"203.0.113.{i}", "scan", T0, T0 + 60, ("a",), "expired") for i in range(40)
    ]
    store.put_consultations(closed, bodies)  # updated in place
    assert sorted(store.stored_targets("consultations")) == [
        (i, f"203.0.113.{i}") for i in range(40)
    ]


@pytest.mark.parametrize(
    "odd",
    [
        pytest.param("line\nbreak", id="line-break"),
        pytest.param("nul\x00byte", id="nul-byte"),
        pytest.param("", id="empty"),
    ],
)
def test_bulk_rows_keep_every_value_and_their_order(store: AnyStore, odd: str) -> None:
    """Large batches go in one statement on PostgreSQL (values joined by line breaks,
    or JSON when a value holds one): values, order and ids are those of row by row."""
    signals = [
        Signal(
            f"m{i}" if i % 7 else odd, f"203.0.113.{i}", odd if i == 3 else "scan", T0 + i / 3, i
        )
        for i in range(40)
    ]
    with store.transaction():
        seq = store.add_input(T0, "signals", {"member": "m1", "seq": 1})
        store.add_signals(seq, signals, T0)

    def nul(text: str) -> str:  # PostgreSQL text cannot hold NUL: kept as U+FFFD
        return text.replace("\x00", "\ufffd")

    kept = [Signal(nul(s.member), s.target, nul(s.scenario), s.at, s.events) for s in signals]
    assert store.signals_of_input(seq) in (signals, kept)
    bodies = [odd if i % 5 == 0 else f'{{"n":{i}}}' for i in range(40)]
    ids = store.add_events(
        T0, [("consultation" if i % 2 else odd, b) for i, b in enumerate(bodies)]
    )
    assert ids == list(range(1, 41))
    back = [(i, kind, body) for i, _at, kind, body in store.events_after(0)]
    written = [
        (i, "consultation" if i % 2 == 0 else odd, b) for i, b in zip(ids, bodies, strict=True)
    ]
    assert back in (
        written,
        [(i, nul(k), nul(b)) for i, k, b in written],
    )
    decisions = [_decision(i, f"203.0.113.{i}") for i in range(1, 41)]
    store.put_decisions(decisions)
    store.put_decisions(decisions[:20])  # an id already stored is skipped
    assert [store.decision(i) for i in range(1, 41)] == decisions


def test_members_last_seq_policy_and_external_partners(store: AnyStore) -> None:
    store.add_member("alpha", "ed25519:AAAA", ["192.0.2.10"], T0)
    store.add_member("partner", "", [], T0, external=True)
    store.set_last_seq("alpha", 1_800_000_000_123_456)  # microseconds: a 64-bit value
    store.set_policy("alpha", {"scopes": ["ip"], "max_ban": 3600})
    assert store.member_rows() == [
        (
            "alpha",
            "ed25519:AAAA",
            ["192.0.2.10"],
            T0,
            1_800_000_000_123_456,
            {"scopes": ["ip"], "max_ban": 3600},
        )
    ]
    assert store.external_members() == ["partner"]
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        store.add_member("alpha", "ed25519:BBBB", [], T0)


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("quotes ' \" and ; DROP TABLE decisions; --", id="sql-metacharacters"),
        pytest.param("ünïcødé ✓ 攻撃", id="unicode"),
        pytest.param("nul\x00byte", id="nul-byte"),
    ],
)
def test_hostile_text_is_stored_without_harm(store: AnyStore, reason: str) -> None:
    store.put_decisions([_decision(1, "203.0.113.1")])
    store.put_revocations([Revocation(1, "203.0.113.1", T0, "secretariat", reason, "admin")])
    revocation = store.revocation(1)
    assert revocation is not None
    # PostgreSQL text cannot hold NUL: it is kept as U+FFFD.
    assert revocation.reason in (reason, reason.replace("\x00", "\ufffd"))
    assert store.decision(1) == _decision(1, "203.0.113.1")
