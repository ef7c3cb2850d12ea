"""A hub that pruned the history an agent asked for sends ``resync``: the agent starts
again from the decision list, as a new member does, and follows on."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.scripted_hub import ScriptedHub, decision, run_agent, sse


def test_a_resync_event_makes_the_agent_resynchronise_and_follow_on(tmp_path: Path) -> None:
    reason = "$(reboot) whatever a hostile hub says"  # never written: the agent says its own
    hub = ScriptedHub(
        {"decisions": [decision(1, "203.0.113.40")], "cursor": 5},
        [
            [
                sse("decision", 6, json.dumps(decision(6, "203.0.113.41"))),
                sse("resync", 40, json.dumps({"reason": reason, "cursor": 40})),
                sse("decision", 41, json.dumps(decision(41, "203.0.113.99"))),
            ],
            [sse("decision", 42, json.dumps(decision(42, "203.0.113.42")))],
        ],
    )
    try:
        enforcer, events = run_agent(tmp_path, hub, lambda e, _: e.holds("203.0.113.42"))
    finally:
        hub.close()
    kinds = [e["event"] for e in events]
    assert kinds.count("resynced") == 2, "once at start, once for the pruned history"
    assert [e["reason"] for e in events if e["event"] == "resync_requested"] == [
        "the hub no longer holds the events after 40"
    ]
    assert "enforce_error" not in kinds, "a resync is not an enforcement failure"
    # The full resynchronisation made the firewall hold exactly the decision list again
    # (41, after the resync event in the same connection, was never applied).
    assert not enforcer.holds("203.0.113.41") and not enforcer.holds("203.0.113.99")
    assert enforcer.holds("203.0.113.40") and enforcer.holds("203.0.113.42")
