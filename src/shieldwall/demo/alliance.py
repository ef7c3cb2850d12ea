"""A whole alliance on one machine: a hub and N member agents as real processes.

Used by ``shieldwall demo`` and the end-to-end benchmark. Each member has its own
directory with a key, an agent configuration, a log file it follows and a blocklist
file its enforcer writes (no root, no network beyond loopback). Agents run with
``--json``; their progress lines are collected per member.

``enforcer`` replaces the file enforcer with another ``[enforcer]`` section, a
template formatted per member with ``{name}``, ``{index}`` (1..N) and ``{address}``;
``address_of(index)`` gives each member's own address (what it joins with and never
blocks). The nftables demo uses both to put each member in its network namespace.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shieldwall.client import HubClient
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.hub.viewers import SQLiteViewers, new_token, viewers_path
from shieldwall.procs import free_port, shieldwall_command, start_hub, stop
from shieldwall.signing import SigningKey

Listener = Callable[[dict[str, Any]], None]


def documentation_address(index: int) -> str:
    """The file demo's member addresses: TEST-NET-1, never routed."""
    return f"192.0.2.{10 + index}"


@dataclass
class Member:
    name: str
    address: str
    root: Path
    proc: subprocess.Popen[str] | None = None
    index: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.root / "auth.log"

    @property
    def blocklist(self) -> Path:
        return self.root / "blocklist.txt"

    def blocks(self, address: str) -> bool:
        try:
            text = self.blocklist.read_text()
        except FileNotFoundError:
            return False
        return address in text.split()


class Alliance:
    def __init__(
        self,
        root: Path,
        members: int,
        template: str = "nato",
        enforcer: str = "file",
        address_of: Callable[[int], str] = documentation_address,
    ) -> None:
        if not 2 <= members <= 200:
            raise ValueError(f"--members {members} must be between 2 and 200")
        self.root = root
        self.template = template
        self.enforcer = enforcer
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hub_proc: subprocess.Popen[bytes] | None = None
        self.members = [
            Member(f"member{i}", address_of(i), root / f"member{i}", index=i)
            for i in range(1, members + 1)
        ]
        self.token = ""
        self.read_token = ""  # a viewer's: reads the views and the dashboard
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: dict[str, Any]) -> None:
        with self._lock:
            for listener in self._listeners:
                listener(event)

    def start(self) -> None:
        self.token = init_hub(self.root / "hub", template_text(self.template), self.template)
        self.read_token = new_token()
        viewers = SQLiteViewers(viewers_path(self.root / "hub"))
        try:
            viewers.add("demo", self.read_token, time.time())
        finally:
            viewers.close()
        # Every demo member joins from this machine's address: let them all past the
        # hub's per-source join limit.
        with open(self.root / "hub" / "hub.toml", "a") as settings:
            settings.write(f"join_burst = {len(self.members)}\n")
        self.hub_proc = start_hub(self.root / "hub", self.port, self.root / "hub.log")
        self._emit(
            {"event": "hub_started", "url": self.url, "treaty": self.template, "t": time.time()}
        )
        with HubClient(self.url, admin_token=self.token) as admin:
            for member in self.members:
                self._enrol(member, admin)
        for member in self.members:
            self._launch(member)
        deadline = time.monotonic() + 60
        for member in self.members:
            while not any(e["event"] == "resynced" for e in member.events):
                if member.proc is not None and member.proc.poll() is not None:
                    raise RuntimeError(f"agent {member.name} exited: {self._stderr(member)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"agent {member.name} did not connect to the hub in 60 s")
                time.sleep(0.05)

    def _enrol(self, member: Member, admin: HubClient) -> None:
        member.root.mkdir(parents=True)
        member.log.touch()
        key = SigningKey.generate()
        key.save(member.root / "member.key")
        with HubClient(self.url, name=member.name, key=key) as client:
            client.join([member.address])
        admin.approve(member.name)
        enforcer = 'backend = "file"\npath = "blocklist.txt"'
        if self.enforcer != "file":
            enforcer = self.enforcer.format(
                name=member.name, index=member.index, address=member.address
            )
        (member.root / "agent.toml").write_text(
            f'[agent]\nname = "{member.name}"\nhub = "{self.url}"\nkey = "member.key"\n'
            f'data = "state"\naddresses = ["{member.address}"]\npoll_interval = 0.05\n\n'
            f'[[sources]]\npath = "auth.log"\n\n[enforcer]\n{enforcer}\n'
        )

    def _launch(self, member: Member) -> None:
        with open(member.root / "agent.err", "w") as err:
            member.proc = subprocess.Popen(
                shieldwall_command(
                    "agent", "run", "--config", str(member.root / "agent.toml"), "--json"
                ),
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,
            )
        threading.Thread(target=self._read, args=(member,), daemon=True).start()

    def _read(self, member: Member) -> None:
        proc = member.proc
        assert proc is not None and proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            member.events.append(event)
            self._emit(event)

    def _stderr(self, member: Member) -> str:
        try:
            return (member.root / "agent.err").read_text()[-1000:]
        except OSError:
            return ""

    @property
    def dashboard(self) -> str:
        """The dashboard's address; the fragment hands it the read token (never sent)."""
        return f"{self.url}/#token={self.read_token}"

    def stop(self) -> None:
        for member in self.members:  # signal every agent first: they wind down together
            if member.proc is not None and member.proc.poll() is None:
                member.proc.terminate()
        for member in self.members:
            stop(member.proc)  # type: ignore[arg-type]
            if member.proc is not None and member.proc.stdout is not None:
                member.proc.stdout.close()
        stop(self.hub_proc)
