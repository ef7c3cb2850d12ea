"""The agent applies the alliance's alerts to detection, never to the firewall.

The hub is the scripted one of :mod:`tests.agent.scripted_hub` (it stands in for any
hub, hostile included); the agent is the real daemon with an in-memory enforcer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.agent.scripted_hub import ScriptedHub, run_agent, sse

FAIL = "Mar  9 10:00:01 web sshd[1]: Failed password for root from {ip} port 22 ssh2\n"


def alert(id_: int, target: str, **changes: Any) -> dict[str, Any]:
    now = time.time()
    return {
        "id": id_,
        "target": target,
        "scope": "range" if "/" in target else "ip",
        "scenario": "ssh-bruteforce",
        "member": "m0",
        "issued_at": now - 5,
        "expires_at": now + 3600,
        "maxretry": 1,
        "treaty": "",
        "clause": "alert",
        "correlated": [],
        "others_maxretry": 0,
        **changes,
    }


@pytest.fixture
def hub() -> Iterator[ScriptedHub]:
    hub = ScriptedHub(
        {"decisions": [], "cursor": 3},
        [
            [
                sse("alert", 4, json.dumps(alert(2, "203.0.113.20"))),
                sse("alert", 5, json.dumps(alert(3, "203.0.113.21; nft flush ruleset"))),
                sse("alert", 6, json.dumps(alert(4, "198.51.100.0/24"))),
            ]
        ],
    )
    # what the hub holds in force (a resync after the malformed alert reads it again)
    in_force = [alert(1, "203.0.113.10"), {"id": "junk"}, alert(2, "203.0.113.20")]
    hub.alerts = {"cursor": 3, "alerts": [*in_force, alert(4, "198.51.100.0/24")]}
    yield hub
    hub.close()


def test_alerts_tune_detection_and_never_reach_the_firewall(
    tmp_path: Path, hub: ScriptedHub
) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")

    def attacked(enforcer: Any, events: list[dict[str, Any]]) -> bool:
        alerted = {e["target"] for e in events if e["event"] == "alerted"}
        if "203.0.113.20" in alerted and not log.read_text():
            # the first failed login of each source on alert, and of one that is not
            log.write_text(
                "".join(
                    FAIL.format(ip=ip) for ip in ("203.0.113.10", "203.0.113.20", "203.0.113.30")
                )
            )
        defended = {e["target"] for e in events if e["event"] == "defended"}
        return defended >= {"203.0.113.10", "203.0.113.20"} and len(hub.signals) >= 2

    enforcer, events = run_agent(tmp_path, hub, attacked, sources=[{"path": "auth.log"}])
    resynced = next(e for e in events if e["event"] == "resynced")
    assert resynced["alerts"] == 3 and resynced["refused"] == 1  # the junk alert
    alerted = [(e["target"], e["maxretry"]) for e in events if e["event"] == "alerted"]
    assert alerted[0] == ("203.0.113.20", 1)  # the range may come with the next resync
    assert any("malformed alert" in e.get("error", "") for e in events), "named, not applied"
    # An alert blocks nobody: only the first malicious line of a source on alert did.
    assert set(enforcer.held()) == {"203.0.113.10", "203.0.113.20"}
    assert sorted(s["target"] for s in hub.signals) == ["203.0.113.10", "203.0.113.20"]
    assert not any(e["event"] == "detected" and e["target"] == "203.0.113.30" for e in events)
