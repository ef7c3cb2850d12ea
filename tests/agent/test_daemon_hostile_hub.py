"""The agent against a hostile hub: malformed, huge and bogus answers never stop it
enforcing, and never make it block what it protects.

The "hub" here is an HTTP server on loopback scripted to misbehave (it stands in for an
attacker, not for our hub). The agent is the real daemon with an in-memory enforcer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.scripted_hub import OWN, ScriptedHub, decision, run_agent, sse


@pytest.fixture
def hostile() -> Iterator[Callable[..., ScriptedHub]]:
    hubs: list[ScriptedHub] = []

    def make(resync: Any, streams: list[list[bytes]]) -> ScriptedHub:
        hubs.append(ScriptedHub(resync, streams))
        return hubs[-1]

    yield make
    for hub in hubs:
        hub.close()


def test_hostile_stream_never_stops_enforcement(
    tmp_path: Path, hostile: Callable[..., ScriptedHub]
) -> None:
    huge = decision(90, "203.0.113.90", scenario="x" * (2 << 20))
    hub = hostile(
        {
            "decisions": [
                decision(1, "203.0.113.40"),
                decision(2, "0.0.0.0/0"),
                {"id": "not a number"},
                "junk",
                decision(3, OWN),
            ],
            "cursor": 5,
        },
        [
            [
                sse("decision", 6, json.dumps(decision(6, "0.0.0.0/0"))),
                sse("decision", 7, json.dumps(decision(7, "192.0.2.0/24"))),
                sse("decision", 8, json.dumps(decision(8, "198.51.100.77"))),
                sse("decision", 9, json.dumps(decision(9, "::/0"))),
                sse("decision", 90, json.dumps(huge)),
                b"id: \xff\xfe\ndata: \xc3\x28\n\n",
                sse("decision", 10, json.dumps(decision(10, "203.0.113.41", action=["ban"]))),
                sse("decision", 11, json.dumps(decision(11, "203.0.113.42", id=-1))),
                sse("revocation", 12, "[]"),
            ],
            [sse("decision", 13, json.dumps(decision(13, "203.0.113.50")))],
        ],
    )
    enforcer, events = run_agent(
        tmp_path, hub, lambda e, _: e.holds("203.0.113.50") and bool(hub.policies)
    )
    held = enforcer.held()
    assert set(held) == {"203.0.113.40", "203.0.113.50"}
    for address in (OWN, "192.0.2.99", "198.51.100.77", "8.8.8.8", "2001:db8::1"):
        assert not enforcer.holds(address), address
    declined = {e["decision"]: e["reason"] for e in events if e["event"] == "declined"}
    assert "unspecified address or everything" in declined[6]
    assert "this member's own address" in declined[7]
    assert "the allowlist" in declined[8]
    assert "not a decision type" in declined[10] and "not a positive number" in declined[-1]
    resyncs = [e for e in events if e["event"] == "resynced"]
    assert resyncs[0]["enforced"] == 1 and resyncs[0]["refused"] == 4
    assert any(e["event"] == "enforce_error" for e in events), "the bad revocation was noticed"
    assert hub.policies and hub.policies[0]["own_addresses"] == [OWN]  # policy reported


def test_garbage_decision_list_is_retried_not_fatal(
    tmp_path: Path, hostile: Callable[..., ScriptedHub]
) -> None:
    hub = hostile(["not", "a", "list", "object"], [[]])
    _, events = run_agent(
        tmp_path, hub, lambda _, ev: sum(e["event"] == "enforce_error" for e in ev) >= 2
    )
    assert (
        "no 'decisions' list" in next(e for e in events if e["event"] == "enforce_error")["error"]
    )


def test_a_hub_name_resolving_later_is_protected(
    tmp_path: Path, hostile: Callable[..., ScriptedHub]
) -> None:
    """The hub's URL names a host; what it resolves to is never blocked, even when the
    name did not resolve at start, and the policy the hub sees says so."""
    answers = iter([(), ("192.0.2.99",)])

    def resolve(url: str) -> tuple[str, ...]:
        return next(answers, ("192.0.2.99",))

    hub = hostile(
        {"decisions": [], "cursor": 0},
        [
            [b": the first connection ends at once\n\n"],
            [
                sse("decision", 1, json.dumps(decision(1, "192.0.2.99"))),
                sse("decision", 2, json.dumps(decision(2, "203.0.113.60"))),
            ],
        ],
    )
    enforcer, events = run_agent(
        tmp_path,
        hub,
        lambda e, _: (
            e.holds("203.0.113.60") and any("192.0.2.99" in p["hubs"] for p in hub.policies)
        ),
        resolve=resolve,
    )
    assert not enforcer.holds("192.0.2.99")
    declined = [e for e in events if e["event"] == "declined"]
    assert [e["decision"] for e in declined] == [1]
    assert "the hub's address" in declined[0]["reason"]
    assert any(e["event"] == "hub_addresses" for e in events)


def test_a_ban_on_the_hub_s_new_address_is_lifted_at_once(
    tmp_path: Path, hostile: Callable[..., ScriptedHub]
) -> None:
    """A ban already held on an address the hub's name comes to resolve to is lifted as
    soon as the agent learns it, without waiting for a resynchronisation (which the ban
    could keep from ever reaching the hub)."""
    answers = iter([(), ("192.0.2.99",)])

    def resolve(url: str) -> tuple[str, ...]:
        return next(answers, ("192.0.2.99",))

    hub = hostile(
        {"decisions": [], "cursor": 0},
        [
            [sse("decision", 1, json.dumps(decision(1, "192.0.2.96/28")))],  # then it ends
            [sse("decision", 2, json.dumps(decision(2, "203.0.113.61")))],
        ],
    )
    enforcer, events = run_agent(
        tmp_path,
        hub,
        lambda e, ev: e.holds("203.0.113.61") and any(x["event"] == "lifted" for x in ev),
        resolve=resolve,
    )
    assert [e["decision"] for e in events if e["event"] == "enforced"] == [1, 2]
    lifted = next(e for e in events if e["event"] == "lifted")
    assert (lifted["target"], lifted["decision"], lifted["reason"]) == (
        "192.0.2.96/28",
        1,
        "protected",
    )
    assert not enforcer.holds("192.0.2.99")
    assert [e["cursor"] for e in events if e["event"] == "resynced"] == [0]  # no resync needed
