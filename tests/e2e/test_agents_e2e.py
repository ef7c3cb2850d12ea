"""Real agent processes and a real hub on loopback: detection on two members ends
with the third member's enforcer holding the address; outages and kills lose nothing;
log rotation is followed; fail2ban jails run unchanged; a member's own addresses and
allowlist are never blocked.

The machine running these may be loaded: every wait is on a condition, with a
generous deadline, never a fixed sleep followed by an assertion."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shieldwall.client import HubClient
from shieldwall.procs import shieldwall_command
from tests.conftest import require_tool
from tests.waiting import wait

from .conftest import HubProcess, cli

WAIT = 60.0  # seconds: deadlines on conditions, generous for a loaded machine
SSHD_FILTERS = Path("/etc/fail2ban/filter.d")

pytestmark = pytest.mark.e2e


def sshd_failures(ip: str, count: int, start: int = 0) -> str:
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime())
    return "".join(
        f"{stamp} web sshd[{4000 + i}]: Failed password for root from {ip} port {40000 + i} ssh2\n"
        for i in range(start, start + count)
    )


class AgentProcess:
    def __init__(
        self,
        hub: HubProcess,
        root: Path,
        name: str,
        address: str,
        agent_extra: str = "",
        sections: str = "",
    ) -> None:
        self.hub, self.name = hub, name
        self.dir = root / name
        self.dir.mkdir()
        self.log = self.dir / "auth.log"
        self.log.touch()
        self.blocklist = self.dir / "blocklist.txt"
        self.key = self.dir / "member.key"
        cli("keygen", str(self.key))
        cli("join", "--hub", hub.url, "--name", name, "--key", str(self.key), "--address", address)
        cli("members", "approve", name, "--hub", hub.url, "--admin-token", hub.token)
        self.config = self.dir / "agent.toml"
        self.config.write_text(
            f"""
[agent]
name = "{name}"
hub = "{hub.url}"
key = "member.key"
data = "state"
addresses = ["{address}"]
poll_interval = 0.05
{agent_extra}

[[sources]]
path = "auth.log"

[enforcer]
backend = "file"
path = "blocklist.txt"
{sections}
"""
        )
        self.events: list[dict] = []
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            shieldwall_command("agent", "run", "--config", str(self.config), "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        proc = self.proc
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        self.wait_for(lambda e: e["event"] == "resynced")

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.events.append(json.loads(line))

    def attack(self, ip: str, count: int = 6, start: int = 0) -> None:
        with open(self.log, "a") as fh:
            fh.write(sshd_failures(ip, count, start))

    def blocked(self) -> set[str]:
        if not self.blocklist.exists():
            return set()
        return {
            line.strip()
            for line in self.blocklist.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = WAIT) -> dict:
        found: list[dict] = []

        def seen() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"agent {self.name} exited: {err}")
            found[:] = [e for e in list(self.events) if predicate(e)][:1]
            return bool(found)

        wait(seen, timeout, f"a matching event from {self.name}", lambda: self.events[-20:])
        return found[0]

    def wait_blocked(self, ip: str, timeout: float = WAIT) -> None:
        wait(lambda: ip in self.blocked(), timeout, f"{self.name} blocking {ip}", self.blocked)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close()

    def _close(self) -> None:
        if self.proc is not None:
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()


@contextlib.contextmanager
def running(*agents: AgentProcess) -> Iterator[None]:
    """Start the agents; stop every one of them however the test ends."""
    try:
        for agent in agents:
            agent.start()
        yield
    finally:
        for agent in agents:
            agent.stop()


@pytest.fixture
def members(hub_process: HubProcess, tmp_path: Path) -> Iterator[list[AgentProcess]]:
    agents = [
        AgentProcess(hub_process, tmp_path, f"member{i}", f"192.0.2.{10 + i}") for i in (1, 2, 3)
    ]
    with running(*agents):
        yield agents
    # Each agent shut down cleanly on SIGTERM (not killed after the grace period).
    assert [a.proc.returncode for a in agents if a.proc is not None] == [0, 0, 0]


def test_attack_on_two_members_is_enforced_by_the_third(members: list[AgentProcess]) -> None:
    one, two, three = members
    one.attack("203.0.113.9")
    lone = one.wait_for(lambda e: e["event"] == "reported" and "203.0.113.9" in e["targets"])
    one.wait_blocked("203.0.113.9")  # local self-defence does not wait for the alliance
    # The hub acknowledged the lone report and opened a consultation, deciding nothing:
    # there is nothing member3 could enforce, and it enforces nothing.
    assert lone["accepted"] >= 1 and lone["decisions"] == []
    with HubClient(one.hub.url, admin_token=one.hub.token) as viewer:
        opened = [c["target"] for c in viewer.consultations()["consultations"]]
        assert opened == ["203.0.113.9"], "the hub processed the lone report"
        assert viewer.decisions(ip="203.0.113.9")["decisions"] == []
    assert "203.0.113.9" not in three.blocked(), "one report alone decides nothing under nato"
    two.attack("203.0.113.9")
    three.wait_blocked("203.0.113.9")
    for agent in members:
        agent.wait_blocked("203.0.113.9")
    # member3 blocks because of the quorum decision the second report made, not before.
    with HubClient(one.hub.url, admin_token=one.hub.token) as viewer:
        (decision,) = viewer.decisions(ip="203.0.113.9")["decisions"]
    assert sorted(decision["members"]) == ["member1", "member2"]
    enforced = [e for e in three.events if e["event"] == "enforced"]
    assert [e["decision"] for e in enforced if e["target"] == "203.0.113.9"] == [decision["id"]]
    # The members' own addresses are never blocked, whatever is reported: the hub
    # records the second report as a dispute (proof it has handled both), decides
    # nothing, and member3 blocks nothing.
    one.attack("192.0.2.13")
    two.attack("192.0.2.13")
    one.wait_for(lambda e: e["event"] == "reported" and "192.0.2.13" in e["targets"])
    two.wait_for(lambda e: e["event"] == "reported" and "192.0.2.13" in e["targets"])
    disputes = [
        e["disputes"]
        for a in (one, two)
        for e in a.events
        if e["event"] == "reported" and "192.0.2.13" in e["targets"]
    ]
    assert sum(disputes) >= 1, disputes
    with HubClient(one.hub.url, admin_token=one.hub.token) as viewer:
        assert viewer.decisions(ip="192.0.2.13")["decisions"] == []
    assert "192.0.2.13" not in three.blocked()


def test_hub_down_for_30s_loses_nothing(
    hub_process: HubProcess, members: list[AgentProcess]
) -> None:
    one, two, three = members
    hub_process.stop()
    one.attack("198.51.100.23")
    two.attack("198.51.100.23")
    one.wait_for(lambda e: e["event"] == "hub_unreachable")
    two.wait_for(lambda e: e["event"] == "hub_unreachable")
    time.sleep(30)  # the outage itself: what this test is about, not a wait for a result
    hub_process.start()
    three.wait_blocked("198.51.100.23")
    with HubClient(hub_process.url, admin_token=hub_process.token) as viewer:
        decision = viewer.decisions(ip="198.51.100.23")["decisions"][0]
    assert sorted(decision["members"]) == ["member1", "member2"]


def test_agent_kill9_loses_nothing(hub_process: HubProcess, members: list[AgentProcess]) -> None:
    one, two, three = members
    hub_process.stop()  # signals pile up in member1's outbox
    one.attack("198.51.100.44")
    one.wait_for(lambda e: e["event"] == "detected" and e["target"] == "198.51.100.44")
    one.kill9()
    # written while member1's agent is dead: read from its saved position on restart
    one.attack("198.51.100.45", start=100)
    two.attack("198.51.100.44")
    two.attack("198.51.100.45")
    hub_process.start()
    one.start()  # the restarted agent sends what its outbox kept, then the new lines
    three.wait_blocked("198.51.100.44")
    three.wait_blocked("198.51.100.45")
    # the restart resumed where the killed agent stopped: nothing was read twice
    one.wait_for(lambda e: e["event"] == "detected" and e["target"] == "198.51.100.45")
    assert [e["target"] for e in one.events if e["event"] == "detected"] == [
        "198.51.100.44",
        "198.51.100.45",
    ]


def test_log_rotation_is_followed(members: list[AgentProcess]) -> None:
    one, two, three = members
    # rotation by rename: 3 failures in the old file, 3 in the new one add up to 6
    one.attack("198.51.100.61", 3)
    os.rename(one.log, one.log.with_suffix(".log.1"))
    one.attack("198.51.100.61", 3, start=3)  # a new file appears at the old path
    one.wait_for(lambda e: e["event"] == "detected" and e["target"] == "198.51.100.61")
    # copytruncate: member2 has read its log up to here (it reported the attacker)...
    two.attack("198.51.100.61", 5, start=10)
    two.wait_for(lambda e: e["event"] == "detected" and e["target"] == "198.51.100.61")
    # ...then the log is copied and emptied, and the daemon writes more at once, so by
    # the next poll the file is longer again than what member2 had read
    shutil.copyfile(two.log, two.log.with_suffix(".log.1"))
    os.truncate(two.log, 0)
    two.attack("198.51.100.62", 8, start=20)
    one.attack("198.51.100.62")
    two.wait_for(lambda e: e["event"] == "detected" and e["target"] == "198.51.100.62")
    three.wait_blocked("198.51.100.61")
    three.wait_blocked("198.51.100.62")


def test_allowlisted_address_is_never_blocked_by_its_member(
    hub_process: HubProcess, tmp_path: Path
) -> None:
    """The alliance decides against an address member3 allowlists: members 1 and 2
    block it, member3 declines the decision and blocks nothing."""
    one, two = (AgentProcess(hub_process, tmp_path, f"a{i}", f"192.0.2.{60 + i}") for i in (1, 2))
    three = AgentProcess(
        hub_process,
        tmp_path,
        "a3",
        "192.0.2.63",
        sections='\n[policy]\nallowlist = ["198.51.100.0/24"]\n',
    )
    with running(one, two, three):
        one.attack("198.51.100.200")
        two.attack("198.51.100.200")
        one.wait_blocked("198.51.100.200")
        two.wait_blocked("198.51.100.200")
        declined = three.wait_for(
            lambda e: e["event"] == "declined" and e["target"] == "198.51.100.200"
        )
        assert "the allowlist" in declined["reason"]
        assert "198.51.100.200" not in three.blocked()


def test_fail2ban_jail_runs_in_the_agent(hub_process: HubProcess, tmp_path: Path) -> None:
    """A member runs its fail2ban jail (Debian's own sshd filter, unchanged): maxretry
    and bantime come from jail.conf, and its signals count towards the quorum."""
    require_tool("fail2ban-regex")
    if not (SSHD_FILTERS / "sshd.conf").is_file():
        pytest.fail(f"{SSHD_FILTERS / 'sshd.conf'} missing although fail2ban is installed")
    conf = tmp_path / "fail2ban"
    conf.mkdir()
    (conf / "filter.d").symlink_to(SSHD_FILTERS)
    jail_log = tmp_path / "j1" / "auth.log"
    (conf / "jail.conf").write_text(
        f"[sshd]\nenabled = true\nlogpath = {jail_log}\nmaxretry = 3\nbantime = 2h\n"
    )
    jail = AgentProcess(
        hub_process,
        tmp_path,
        "j1",
        "192.0.2.71",
        sections=f'\n[fail2ban]\njail = "{conf / "jail.conf"}"\n',
    )
    plain, enforcer = (
        AgentProcess(hub_process, tmp_path, f"j{i}", f"192.0.2.7{i}") for i in (2, 3)
    )
    with running(jail, plain, enforcer):
        jail.attack("203.0.113.77", 3)
        detected = jail.wait_for(
            lambda e: e["event"] == "detected" and e["scenario"] == "fail2ban-sshd"
        )
        assert detected["target"] == "203.0.113.77" and detected["events"] == 3
        defended = jail.wait_for(lambda e: e["event"] == "defended")
        assert defended["until"] - detected["t"] > 3600, "bantime = 2h, not the 1h default"
        plain.attack("203.0.113.77")
        enforcer.wait_blocked("203.0.113.77")


def test_periodic_resync_repairs_drift(hub_process: HubProcess, tmp_path: Path) -> None:
    """Whatever happens to the firewall, the next full resynchronisation restores it."""
    reporters = [AgentProcess(hub_process, tmp_path, f"r{i}", f"192.0.2.{40 + i}") for i in (1, 2)]
    member = AgentProcess(hub_process, tmp_path, "m", "192.0.2.50", "resync_interval = 10")
    with running(*reporters, member):
        for agent in reporters:
            agent.attack("198.51.100.99")
        member.wait_blocked("198.51.100.99")
        member.blocklist.write_text("")  # somebody flushed the member's firewall
        assert "198.51.100.99" not in member.blocked()
        member.wait_blocked("198.51.100.99")
        # the file is rewritten before the agent prints "resynced": wait for the line
        member.wait_for(lambda e: e["event"] == "resynced" and e["enforced"] >= 1)
        assert sum(e["event"] == "resynced" for e in member.events) >= 2
