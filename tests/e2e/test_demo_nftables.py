"""``shieldwall demo --nftables``: members in network namespaces, real nftables, TCP attacks.

Runs for real as root with ``ip`` and ``nft`` (as in CI); skipped with the reason
elsewhere, and failing under CI=true.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from shieldwall.demo.alliance import Member
from shieldwall.demo.network import ATTACKER_ADDRESS, DemoNetwork, NetworkError, member_address
from shieldwall.demo.sweep import Tally, attempt
from tests.conftest import require_root, require_tool

from .conftest import cli

pytestmark = [pytest.mark.netns, pytest.mark.e2e]

DROP_ATTACKER = """
table inet swtest {
  chain input {
    type filter hook input priority -10; policy accept;
    ip saddr 10.231.255.66 drop
  }
}
"""


def _namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def test_nftables_demo_drops_the_attacker_on_every_member_and_cleans_up() -> None:
    require_root()
    require_tool("ip")
    require_tool("nft")
    result = cli("demo", "--nftables", "--members", "3", "--no-live", timeout=240)
    out = result.stdout
    prefix = re.search(
        r"creating network namespaces (swd\d+)-atk \(attacker 10\.231\.255\.66\)", out
    )
    assert prefix, out
    for i in range(1, 4):
        assert f"member{i}   enforced  10.231.255.66" in out, out
    assert "alliance decision" in out
    enforced = re.search(r"first detection → enforced on every member │ \+([\d,]+) ms", out)
    assert enforced, out
    reached = re.search(r"attack attempts that reached a member\s+│\s+(\d+)", out)
    dropped = re.search(r"attempts dropped before reaching a member\s+│\s+(\d+)", out)
    assert reached and int(reached.group(1)) > 0, out
    assert dropped and int(dropped.group(1)) > 0, out
    assert f"network namespaces {prefix.group(1)}-* removed" in out
    assert [ns for ns in _namespaces() if ns.startswith(prefix.group(1) + "-")] == []


def _wait_lines(log: Path, lines: int) -> None:
    deadline = time.monotonic() + 60  # generous: the machine may be loaded
    while log.read_text().count("\n") < lines:
        assert time.monotonic() < deadline, f"{log} has fewer than {lines} lines"
        time.sleep(0.02)


def test_tcp_attempts_reach_the_listener_until_nftables_drops_them(tmp_path: Path) -> None:
    require_root()
    require_tool("ip")
    require_tool("nft")
    prefix = f"swdt{os.getpid() % 100000}"
    network = DemoNetwork(2, prefix=prefix, real_sshd=False)  # the TCP stand-in
    members = [
        Member(f"member{i}", member_address(i), tmp_path / f"member{i}", index=i) for i in (1, 2)
    ]
    for member in members:
        member.root.mkdir()
        member.log.touch()
    try:
        network.create()
        with pytest.raises(
            NetworkError, match=f"namespaces {prefix}-atk, {prefix}-m1, {prefix}-m2 already exist"
        ):
            DemoNetwork(2, prefix=prefix).create()
        network.start_listeners(members)
        network.start_attacker(tmp_path / "attacker.err")
        tally = Tally()
        assert attempt(members[0], ATTACKER_ADDRESS, 0, tally, network.attempt) is False
        assert attempt(members[1], ATTACKER_ADDRESS, 1, tally, network.attempt) is False
        subprocess.run(
            ["ip", "netns", "exec", network.member_ns(1), "nft", "-f", "-"],
            input=DROP_ATTACKER,
            text=True,
            check=True,
        )
        assert attempt(members[0], ATTACKER_ADDRESS, 2, tally, network.attempt) is True
        assert attempt(members[1], ATTACKER_ADDRESS, 3, tally, network.attempt) is False
        assert (tally.reached, tally.blocked) == ({"member1": 1, "member2": 2}, {"member1": 1})
        _wait_lines(members[0].log, 1)
        _wait_lines(members[1].log, 2)
        assert members[0].log.read_text().count("Failed password") == 1
        assert "Failed password for root from 10.231.255.66 port " in members[0].log.read_text()
    finally:
        network.close()
    assert network.leftovers() == []
