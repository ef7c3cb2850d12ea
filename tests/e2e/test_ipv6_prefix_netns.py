"""An IPv6 attacker rotating through the addresses of its /64 against two members.

Real processes: a hub (nato), two agents following the logs of two sshd stand-ins,
each stand-in in its member's network namespace, and an attacker namespace that never
connects twice from the same address. Each agent counts the attempts per /64 as well
as per address, reports the /64, and both members end up dropping the whole /64 with
ONE nftables interval (read from the set inside each member's namespace); a fresh
address of the /64 is dropped at both.

Runs as root with ``ip`` and ``nft`` (as in CI); skipped with the reason elsewhere,
and failing under CI=true.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from shieldwall.client import HubClient
from shieldwall.demo.alliance import Alliance
from tests.conftest import require_root, require_tool
from tests.waiting import wait

pytestmark = [pytest.mark.netns, pytest.mark.e2e]

PREFIX = "2001:db8:66:1::/64"  # the attacker's /64 (documentation space)
PORT = 22


def attacker_address(n: int) -> str:
    return f"2001:db8:66:1::{n:x}"


def member_address(i: int) -> str:
    return f"2001:db8:1:{i}::1"


def gateway(i: int) -> str:
    return f"2001:db8:1:{i}::2"


def ip(*argv: str, batch: str | None = None) -> None:
    command = ["ip", *argv] if batch is None else ["ip", *argv, "-batch", "-"]
    done = subprocess.run(command, input=batch, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr}"


class Network:
    """An attacker namespace joined to each member's namespace by a veth pair (IPv6 only,
    ``nodad`` addresses); the attacker's addresses sit on its loopback, each member
    routes the /64 back over its veth."""

    def __init__(self, tag: str, members: int) -> None:
        self.tag = tag
        self.attacker = f"{tag}-atk"
        self.members = [f"{tag}-m{i}" for i in range(1, members + 1)]
        self.created: list[str] = []
        self.procs: list[subprocess.Popen[str]] = []

    def add(self, ns: str) -> None:
        ip("netns", "add", ns)
        self.created.append(ns)
        for conf in ("all", "default"):  # no duplicate address detection: usable at once
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw",
                            f"net.ipv6.conf.{conf}.accept_dad=0"], check=True, timeout=30)  # fmt: skip

    def create(self, attackers: list[str]) -> None:
        self.add(self.attacker)
        batch = ["link set lo up", *(f"addr add {a}/128 dev lo nodad" for a in attackers)]
        for i, ns in enumerate(self.members, start=1):
            self.add(ns)
            m_if, a_if = f"{self.tag}m{i}", f"{self.tag}a{i}"
            ip("link", "add", m_if, "netns", ns, "type", "veth", "peer", "name", a_if,
               "netns", self.attacker)  # fmt: skip
            ip("-n", ns, batch=f"link set lo up\naddr add {member_address(i)}/64 dev {m_if} nodad\n"
               f"link set {m_if} up\nroute add {PREFIX} via {gateway(i)} dev {m_if}\n")  # fmt: skip
            batch += [f"addr add {gateway(i)}/64 dev {a_if} nodad", f"link set {a_if} up"]
        ip("-n", self.attacker, batch="\n".join(batch) + "\n")

    def listen(self, i: int, log: Path) -> None:
        """The sshd stand-in of member ``i``: one failed login logged per connection."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.members[i - 1], sys.executable, "-m",
             "shieldwall.demo.listener", "--address", member_address(i), "--port", str(PORT),
             "--log", str(log), "--host", f"member{i}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.procs.append(proc)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("ready"), f"listener of member{i}: {first!r} {proc.stderr}"

    def knock(self, source: str, i: int) -> str:
        """One TCP connection from ``source`` to member ``i``: 'reached …' or 'dropped …'."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.attacker, sys.executable, "-m",
             "shieldwall.demo.attacker", "--source", source, "--timeout", "2"],
            input=f"{member_address(i)} {PORT}\n", capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        answer = (
            done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        )  # after "ready"
        assert answer.startswith(("reached", "dropped")), f"{answer!r} {done.stderr}"
        return answer

    def banned_ranges(self, i: int) -> list[str]:
        """The elements of the member's nftables set of banned IPv6 ranges."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.members[i - 1], "nft", "-j", "list", "set", "inet",
             "shieldwall", "ranges6"], capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        if done.returncode != 0:
            return []  # the agent has not made its table yet
        out = []
        for item in json.loads(done.stdout)["nftables"]:
            for elem in item.get("set", {}).get("elem", []):
                value = elem["elem"]["val"] if isinstance(elem, dict) and "elem" in elem else elem
                if isinstance(value, dict) and "prefix" in value:
                    value = f"{value['prefix']['addr']}/{value['prefix']['len']}"
                elif isinstance(value, dict) and "range" in value:
                    value = "-".join(value["range"])
                out.append(str(value))
        return out

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


@pytest.fixture
def network() -> Iterator[Network]:
    require_root()
    require_tool("ip")
    require_tool("nft")
    require_tool("sysctl")
    tag = f"sw6{os.getpid() % 100000}"
    net = Network(tag, 2)
    try:
        net.create([attacker_address(n) for n in range(1, 0x100)])
        yield net
    finally:
        net.close()


def test_a_rotating_ipv6_attacker_is_dropped_by_one_interval_at_both_members(
    network: Network, tmp_path: Path
) -> None:
    alliance = Alliance(
        tmp_path,
        2,
        "nato",
        enforcer=f'backend = "nftables"\nnetns = "{network.tag}-m{{index}}"',
        address_of=member_address,
    )
    try:
        alliance.start()
        for member in alliance.members:
            network.listen(member.index, member.log.resolve())
        fresh = iter(range(1, 0x100))
        for member in alliance.members:
            # each attempt from an address of the /64 never used before, until five got
            # through or the member bans the /64 (the alliance's alert may make it sooner)
            reached = 0
            for _ in range(20):  # a bound: a dropped attempt leaves no line
                if reached == 5 or network.banned_ranges(member.index):
                    break
                answer = network.knock(attacker_address(next(fresh)), member.index)
                reached += answer.startswith("reached")
        for member in alliance.members:
            wait(only_the_prefix(network, member.index), what=f"{PREFIX} alone in "
                 f"{member.name}'s set", show=partial(network.banned_ranges, member.index))  # fmt: skip
        with HubClient(alliance.url, admin_token=alliance.token) as admin:
            wait(lambda: PREFIX in _decided(admin), what=f"the alliance's decision on {PREFIX}",
                 show=lambda: _decided(admin))  # fmt: skip
        for member in alliance.members:
            answer = network.knock(attacker_address(next(fresh)), member.index)
            assert answer.startswith("dropped"), f"{member.name}: {answer}"
            assert network.banned_ranges(member.index) == [PREFIX]
    finally:
        alliance.stop()


def only_the_prefix(network: Network, i: int) -> Callable[[], bool]:
    return lambda: network.banned_ranges(i) == [PREFIX]


def _decided(admin: HubClient) -> list[str]:
    return [str(d["target"]) for d in admin.decisions()["decisions"]]
