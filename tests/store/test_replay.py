"""The secretariat over either store: a hub rebuilt from its records after a close has
the same state (decisions, consultations, cursors) as the one that wrote them."""

from __future__ import annotations

from shieldwall.core.model import Signal
from shieldwall.core.treaty import template_text
from shieldwall.hub.bookkeeping import token_digest
from shieldwall.hub.secretariat import Secretariat
from shieldwall.signing import SigningKey
from tests.hub.conftest import Clock

from .conftest import Stores

ATTACKER = "203.0.113.9"


def _secretariat(stores: Stores, clock: Clock, fresh: bool = False) -> Secretariat:
    store = stores.open()
    if fresh:
        with store.transaction():
            store.set_meta("treaty", template_text("nato"))
            store.set_meta("admin_token_sha256", token_digest("swa_test"))
    return Secretariat(store, clock)


def _member(sec: Secretariat, name: str, address: str) -> None:
    sec.join(name, SigningKey.generate().public_key, [address])
    sec.approve(name, by="secretariat")


def test_a_rebuilt_secretariat_has_the_same_state(stores: Stores) -> None:
    clock = Clock()
    sec = _secretariat(stores, clock, fresh=True)
    for i, name in enumerate(("alpha", "bravo", "charlie")):
        _member(sec, name, f"192.0.2.{10 + i}")
    seq = 1_800_000_000_000_000
    first = sec.submit("alpha", seq, [Signal("alpha", ATTACKER, "ssh-bruteforce", clock(), 6)])
    assert first.decisions == [] and first.consultations
    clock.advance(5)
    decided = sec.submit("bravo", seq, [Signal("bravo", ATTACKER, "ssh-bruteforce", clock(), 6)])
    assert len(decided.decisions) == 1
    clock.advance(5)
    sec.submit("alpha", seq + 1, [Signal("alpha", "203.0.113.50", "http-scan", clock(), 3)])
    disputed = sec.submit("charlie", seq, [Signal("charlie", "127.0.0.1", "scan", clock(), 3)])
    assert disputed.disputes
    lone = sec.submit(
        "alpha", seq + 2, [Signal("alpha", "203.0.113.60", "ssh-bruteforce", clock(), 6)]
    )
    clock.advance(1)
    deciding = sec.submit(
        "bravo", seq + 1, [Signal("bravo", "203.0.113.60", "ssh-bruteforce", clock(), 6)]
    )
    assert lone.decisions == [] and len(deciding.decisions) == 1
    sec.revoke(deciding.decisions[0], by="secretariat", reason="false alarm", appeal=False)

    now = clock()
    active = [d.id for d in sec.active(now)]
    consultations = [c.id for c in sec.council.consultations(now)]
    last_event = sec.stream.last_id
    assert active == decided.decisions and consultations
    sec.store.close()

    rebuilt = _secretariat(stores, clock)
    assert [d.id for d in rebuilt.active(now)] == active
    assert rebuilt.active(now) == sec.active(now)
    assert [c.id for c in rebuilt.council.consultations(now)] == consultations
    assert rebuilt.stream.last_id == last_event
    assert rebuilt.identities["alpha"].last_seq == seq + 2
    assert rebuilt.check_admin("swa_test")
    assert [e.id for e in rebuilt.stream.since(0)] == list(range(1, last_event + 1))

    # The rebuilt hub carries on: the next decision gets the next id.
    clock.advance(1)
    rebuilt.submit("alpha", seq + 3, [Signal("alpha", "203.0.113.70", "ssh-bruteforce", now, 6)])
    more = rebuilt.submit(
        "bravo", seq + 3, [Signal("bravo", "203.0.113.70", "ssh-bruteforce", now, 6)]
    )
    assert more.decisions and more.decisions[0] > max(active + deciding.decisions)
    assert rebuilt.stream.last_id > last_event
