"""The queries the console reads (activity, look-up, detail), the same on both stores."""

from __future__ import annotations

from shieldwall.core.model import Decision, Dispute, Signal

from .conftest import AnyStore

T0 = 1_800_000_000.0


def _decision(i: int, target: str, members: tuple[str, ...], issued: float) -> Decision:
    return Decision(
        id=i,
        target=target,
        scope="ip",
        action="ban",
        scenario="ssh-bruteforce",
        clause="art5.quorum",
        members=members,
        issued_at=issued,
        expires_at=issued + 3600.0,
        treaty="nato@1",
    )


def test_newest_first_before_a_time(store: AnyStore) -> None:
    for i in range(3):
        seq = store.add_input(T0 + i, "signals", {"member": "alpha", "seq": i + 1})
        store.add_signals(seq, [Signal("alpha", f"203.0.113.{i}", "ssh", T0 + i, 1)], T0 + i)
    store.add_input(T0 + 3, "tick", {})
    store.add_events(T0 + 1, [("decision", "{}"), ("revocation", "{}")])
    store.add_disputes([Dispute("alpha", "127.0.0.1", "ssh", T0 + 2, "loopback", "protected")])
    inputs = store.inputs_before(T0 + 2, ["signals", "apply"], 10)
    assert [(at, kind) for _, at, kind, _ in inputs] == [(T0 + 1, "signals"), (T0, "signals")]
    assert [kind for _, _, kind, _ in store.events_before(T0 + 5, 1)] == ["revocation"]
    assert [d["target"] for d in store.disputes_before(T0 + 5, 10)] == ["127.0.0.1"]
    assert store.disputes_before(T0 + 2, 10) == []


def test_decisions_and_signals_by_target_and_member(store: AnyStore) -> None:
    store.put_decisions(
        [
            _decision(1, "203.0.113.9", ("alpha", "bravo"), T0),
            _decision(2, "203.0.113.0/24", ("a_b",), T0 + 1),
            _decision(3, "198.51.100.4", ("alphabet",), T0 + 2),
        ]
    )
    on = store.decisions_on(["203.0.113.9", "203.0.113.0/24", "203.0.112.0/23"], 10)
    assert [d.id for d in on] == [2, 1]
    assert [d.id for d in store.decisions_by("alpha", 10)] == [1], "not alphabet"
    assert [d.id for d in store.decisions_by("a_b", 10)] == [2], "_ is no wildcard"
    assert store.decisions_by("a%", 10) == []
    seq = store.add_input(T0, "signals", {"member": "alpha"})
    store.add_signals(
        seq,
        [
            Signal("alpha", "203.0.113.9", "ssh", T0, 3),
            Signal("bravo", "203.0.113.9", "ssh", T0, 1),
        ],
        T0,
    )
    assert [s.member for s in store.signals_on(["203.0.113.9"], 10)] == ["bravo", "alpha"]
    assert [s.events for s in store.signals_by("alpha", 10)] == [3]
    assert store.times_since("signals", T0, 10) == [(T0, "ssh"), (T0, "ssh")]
    assert [t for t, _ in store.times_since("decisions", T0 + 1, 10)] == [T0 + 2, T0 + 1]
