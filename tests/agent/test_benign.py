"""The agent's benign evidence counter: what counts, what does not, and its bound."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from shieldwall.agent.benign import MAX_COUNT, BenignCounter
from shieldwall.agent.config import parse_config
from shieldwall.agent.daemon import Agent
from shieldwall.agent.enforce.memory import MemoryEnforcer
from shieldwall.agent.outbox import Outbox
from shieldwall.client import HubClient
from shieldwall.signing import SigningKey
from tests.agent.scripted_hub import ScriptedHub
from tests.waiting import until

SSH_OK = "Mar  9 10:00:01 web sshd[41]: Accepted {how} for alice from {ip} port 50022 ssh2\n"
NGINX = '{ip} - - [09/Mar/2026:10:00:01 +0000] "GET /a HTTP/1.1" {status} 512 "-" "curl/8"\n'


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            SSH_OK.format(how="password", ip="198.18.0.7"), {"198.18.0.7": 1}, id="ssh-password"
        ),
        pytest.param(
            SSH_OK.format(how="publickey", ip="2001:db8::0:1"), {"2001:db8::1": 1}, id="ssh-key-v6"
        ),
        pytest.param(
            "Mar  9 10:00:01 web sshd-session[7]: Accepted keyboard-interactive/pam for bob "
            "from 198.18.0.8 port 2 ssh2\n",
            {"198.18.0.8": 1},
            id="ssh-session-pam",
        ),
        pytest.param(NGINX.format(ip="198.18.0.9", status=200), {"198.18.0.9": 1}, id="http-200"),
        pytest.param(NGINX.format(ip="198.18.0.9", status=204), {"198.18.0.9": 1}, id="http-204"),
        pytest.param(NGINX.format(ip="198.18.0.9", status=404), {}, id="http-404"),
        pytest.param(NGINX.format(ip="198.18.0.9", status=301), {}, id="http-301"),
        pytest.param(
            "Mar  9 10:00:01 web sshd[1]: Failed password for root from 198.18.0.7 port 22 ssh2\n",
            {},
            id="ssh-failed",
        ),
        pytest.param(SSH_OK.format(how="password", ip="999.1.1.1"), {}, id="not-an-address"),
        pytest.param(
            'Mar  9 10:00:01 web app[3]: user said "Accepted password for x from 1.2.3.4"\n',
            {},
            id="quoted-in-another-program",
        ),
    ],
)
def test_what_counts_as_benign(line: str, expected: dict[str, int]) -> None:
    counter = BenignCounter()
    counter.feed(line.encode())
    assert counter.take() == (0, expected)


def test_counts_add_up_per_source_and_take_starts_again() -> None:
    counter = BenignCounter()
    chunk = (
        SSH_OK.format(how="password", ip="198.18.0.7")
        + NGINX.format(ip="198.18.0.7", status=200) * 3
        + NGINX.format(ip="203.0.113.5", status=200)
    )
    counter.feed(chunk.encode(), caught=2)
    counter.feed(b"", caught=1)
    assert counter.take() == (3, {"198.18.0.7": 4, "203.0.113.5": 1})
    assert counter.take() == (0, {})


def test_the_table_is_bounded() -> None:
    counter = BenignCounter(max_sources=2)
    lines = "".join(NGINX.format(ip=f"198.18.0.{i}", status=200) for i in (1, 2, 3, 4, 1))
    counter.feed(lines.encode())
    assert counter.counts == {"198.18.0.1": 2, "198.18.0.2": 1}
    assert counter.dropped == 2


def test_given_back_counts_merge_into_the_next_report() -> None:
    counter = BenignCounter(max_sources=2)
    counter.feed(NGINX.format(ip="198.18.0.1", status=200).encode(), caught=1)
    attacks, counts = counter.take()
    counter.feed(NGINX.format(ip="198.18.0.2", status=200).encode(), caught=2)
    counter.give_back(attacks, {**counts, "198.18.0.3": 5})
    assert counter.take() == (3, {"198.18.0.2": 1, "198.18.0.1": 1})
    assert counter.dropped == 5


def test_counts_stop_at_the_hubs_bound() -> None:
    counter = BenignCounter()
    counter.counts["198.18.0.1"] = MAX_COUNT
    counter.feed(NGINX.format(ip="198.18.0.1", status=200).encode())
    counter.give_back(0, {"198.18.0.1": 7})
    assert counter.counts == {"198.18.0.1": MAX_COUNT}


def test_the_agent_reports_what_its_sources_show(tmp_path: Path) -> None:
    """The real daemon: the lines its detectors see feed the counter, the report goes out."""
    log = tmp_path / "auth.log"
    fail = "Mar  9 10:00:01 web sshd[1]: Failed password for root from 203.0.113.9 port 22 ssh2\n"
    log.write_text(
        SSH_OK.format(how="publickey", ip="198.18.0.7")
        + NGINX.format(ip="198.18.0.7", status=200) * 2
        + fail * 8
    )
    hub = ScriptedHub({"decisions": [], "cursor": 0}, [])
    config = parse_config(
        {
            "agent": {
                "name": "m1",
                "hub": hub.url,
                "key": "k",
                "data": "d",
                "addresses": ["192.0.2.10"],
                "poll_interval": 0.02,
                "evidence_interval": 1,
            },
            "sources": [{"path": str(log), "from_start": True}],
        },
        "agent.toml",
        tmp_path,
    )
    client = HubClient(hub.url, name="m1", key=SigningKey.generate())
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    events: list[dict[str, Any]] = []
    agent = Agent(
        config, client=client, enforcer=MemoryEnforcer(), outbox=outbox, on_event=events.append
    )

    def reported() -> bool:
        benign: dict[str, int] = {}
        for body in hub.evidence:
            for source, n in body.get("benign", {}).items():
                benign[source] = benign.get(source, 0) + n
        attacks = sum(b.get("exposure", {}).get("attacks", 0) for b in hub.evidence)
        return benign == {"198.18.0.7": 3} and attacks == 1

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            await until(reported, show=lambda: (hub.evidence, events[-6:]))
        finally:
            stop.set()
            await task

    try:
        asyncio.run(main())
    finally:
        client.close()
        outbox.close()
        hub.close()
    assert all(set(b) <= {"member", "seq", "sent_at", "exposure", "benign"} for b in hub.evidence)
