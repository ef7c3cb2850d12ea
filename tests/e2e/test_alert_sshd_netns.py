"""Early warning with real OpenSSH servers: the second member stops the attacker at once.

Real processes: a hub (nato: quorum 2, alerts on), two agents enforcing with nftables
in their members' network namespaces, a real ``sshd`` in each namespace logging to
the file its agent follows (``shieldwall.demo.sshd``), and an attacker namespace
making real SSH password attempts (``sshpass`` + ``ssh``). The attacker hits member1
until member1's agent bans it locally and reports it: one report puts it on alert.
Then it tries member2, whose agent bans it on its FIRST failed login and reports it,
which completes the quorum: the hub's decision names both members.

Runs as root with ``ip``, ``nft``, ``openssh-server``, ``openssh-client`` and
``sshpass`` (scripts/system-deps.sh, as in CI); skipped with the reason elsewhere,
and failing under CI=true.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from shieldwall.client import HubClient
from shieldwall.demo.alliance import Alliance, Member
from shieldwall.demo.network import ATTACKER_ADDRESS, DemoNetwork, member_address
from shieldwall.demo.sshd import SSHD
from tests.conftest import require_root, require_tool
from tests.waiting import wait

pytestmark = [pytest.mark.netns, pytest.mark.e2e]

FAILED = f"Failed password for invalid user admin from {ATTACKER_ADDRESS} port"
INVALID = f"Invalid user admin from {ATTACKER_ADDRESS} port"


@pytest.fixture
def network() -> Iterator[DemoNetwork]:
    require_root()
    for tool in ("ip", "nft", "ssh", "ssh-keygen", "sshpass", SSHD):
        require_tool(tool)
    net = DemoNetwork(2, prefix=f"swal{os.getpid() % 100000}", real_sshd=True)
    try:
        net.create()
        yield net
    finally:
        net.close()


def banned(network: DemoNetwork, member: Member) -> list[str]:
    """The single addresses in the member's nftables set (read inside its namespace)."""
    done = subprocess.run(
        ["ip", "netns", "exec", network.member_ns(member.index), "nft", "-j", "list", "set",
         "inet", "shieldwall", "hosts4"], capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if done.returncode != 0:
        return []  # the agent has not made its table yet
    out = []
    for item in json.loads(done.stdout)["nftables"]:
        for elem in item.get("set", {}).get("elem", []):
            value = elem["elem"]["val"] if isinstance(elem, dict) and "elem" in elem else elem
            out.append(str(value))
    return out


def attempt(network: DemoNetwork, member: Member) -> bool:
    """One real password login as ``admin`` (no such user): True when dropped."""
    return network.attempt(member, ATTACKER_ADDRESS, 1)  # n = 1: user "admin"


def events(member: Member, kind: str) -> list[dict[str, Any]]:
    return [e for e in list(member.events) if e["event"] == kind]


def on(member: Member, kind: str) -> bool:
    return any(e.get("target") == ATTACKER_ADDRESS for e in events(member, kind))


def decisions(alliance: Alliance) -> list[dict[str, Any]]:
    with HubClient(alliance.url, admin_token=alliance.token) as admin:
        found = admin.decisions(ip=ATTACKER_ADDRESS)["decisions"]
    return [d for d in found if d["target"] == ATTACKER_ADDRESS]


def test_an_attacker_on_alert_is_banned_at_its_first_failed_login(
    network: DemoNetwork, tmp_path: Path
) -> None:
    alliance = Alliance(tmp_path, 2, "nato", enforcer=network.enforcer, address_of=member_address)
    try:
        alliance.start()
        network.start_listeners(alliance.members)
        first, second = alliance.members
        # member1: failed logins until its agent bans the attacker
        for _ in range(12):  # a bound: each dropped attempt waits for ssh's timeout
            if attempt(network, first):
                break
        wait(lambda: on(first, "defended"), what="member1's local ban",
             show=lambda: first.events[-6:])  # fmt: skip
        assert ATTACKER_ADDRESS in banned(network, first)
        # no alert yet: the scenario's own threshold (each login as an unknown user
        # logs two of its events, "Invalid user" and "Failed password"): the fifth event
        # is the third attempt's "Invalid user", and the ban may cut that attempt off
        assert events(first, "detected")[0]["events"] == 5
        assert first.log.read_text().count(INVALID) >= 3
        assert first.log.read_text().count(FAILED) >= 2
        # one report from a member in good standing: member2 is on alert, nothing banned
        wait(lambda: on(second, "alerted"), what="the alert at member2",
             show=lambda: second.events[-6:])  # fmt: skip
        assert decisions(alliance) == []
        assert banned(network, second) == []
        # member2: the first failed login is enough. sshd logs "Invalid user" as the
        # connection opens, before the password: the ban may come into force while sshd
        # is still answering that first attempt (it is then cut off, no "Failed password").
        attempt(network, second)
        wait(lambda: ATTACKER_ADDRESS in banned(network, second), what="member2's ban",
             show=partial(banned, network, second))  # fmt: skip
        detected = [e for e in events(second, "detected") if e["target"] == ATTACKER_ADDRESS]
        assert detected[0]["events"] == 1
        assert second.log.read_text().count(INVALID) == 1, "one attempt reached member2"
        assert second.log.read_text().count(FAILED) <= 1
        wait(lambda: bool(decisions(alliance)), what="the alliance's decision",
             show=partial(decisions, alliance))  # fmt: skip
        [decision] = decisions(alliance)
        assert set(decision["members"]) == {"member1", "member2"}
        assert attempt(network, second) is True, "the next attempt is dropped"
        assert second.log.read_text().count(INVALID) == 1, "it never reached sshd again"
    finally:
        alliance.stop()
