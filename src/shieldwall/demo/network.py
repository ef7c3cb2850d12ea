"""Network namespaces for ``shieldwall demo --nftables`` (root only).

Every member gets a namespace (``swd<pid>-m1`` …) holding its address and a real
OpenSSH server (``shieldwall.demo.sshd``; the TCP stand-in ``shieldwall.demo.listener``
where ``openssh-server`` and ``sshpass`` are not installed); the attacker gets one more
(``swd<pid>-atk``), joined to each member by its own veth pair, and makes real SSH
password attempts (or TCP connections to the stand-in):

    swd<pid>-atk                                   swd<pid>-m<i>
    lo  10.231.255.66/32 (the attacker)
    swd<pid>a<i> 10.231.<i>.2/24  ── veth ──  swd<pid>m<i> 10.231.<i>.1/24
                                                   route 10.231.255.66 via 10.231.<i>.2

The agents stay in the root namespace (they reach the hub on 127.0.0.1) and enforce
with nftables inside their member's namespace (``[enforcer] netns``). Addresses come
from 10.231.0.0/16 only, and no interface outside these namespaces is touched.
``close()`` stops the processes and deletes the namespaces, and with them every veth
and nftables table the demo made.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from shieldwall.demo.alliance import Member
from shieldwall.demo.lines import USERS
from shieldwall.demo.sshd import missing_tools, password_attempt

ATTACKER_ADDRESS = "10.231.255.66"
SSH_PORT = 22
CONNECT_TIMEOUT = 0.3
MAX_MEMBERS = 200


def member_address(index: int) -> str:
    """Member ``index``'s own address (1 ≤ index ≤ 200)."""
    return f"10.231.{index}.1"


def _gateway(index: int) -> str:
    return f"10.231.{index}.2"


class NetworkError(RuntimeError):
    """A command that builds or uses the demo's network failed."""


def _ip(*argv: str, batch: str | None = None) -> None:
    command = ["ip", *argv] if batch is None else ["ip", *argv, "-batch", "-"]
    try:
        done = subprocess.run(
            command, input=batch, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkError(f"{' '.join(command)}: {exc}") from None
    if done.returncode != 0:
        raise NetworkError(f"{' '.join(command)}: {done.stderr.strip() or done.returncode}")


def namespaces() -> list[str]:
    """The names of all network namespaces (``ip netns list``)."""
    done = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, timeout=30, check=False
    )
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


class DemoNetwork:
    def __init__(
        self, members: int, prefix: str | None = None, real_sshd: bool | None = None
    ) -> None:
        if not 2 <= members <= MAX_MEMBERS:
            raise ValueError(f"--members {members} must be between 2 and {MAX_MEMBERS}")
        self.members = members
        self.prefix = prefix or f"swd{os.getpid()}"
        if len(self.prefix) > 10 or not self.prefix.isalnum():
            raise ValueError(f"namespace prefix {self.prefix!r} must be 1-10 letters or digits")
        self.attacker = ATTACKER_ADDRESS
        self.attacker_ns = f"{self.prefix}-atk"
        self._created: list[str] = []
        self._listeners: list[subprocess.Popen[str]] = []
        self._probe: subprocess.Popen[str] | None = None
        # a real sshd whenever it (and the attacker's ssh and sshpass) is installed
        self.real_sshd = not missing_tools() if real_sshd is None else real_sshd

    def member_ns(self, index: int) -> str:
        return f"{self.prefix}-m{index}"

    @property
    def enforcer(self) -> str:
        """The agents' ``[enforcer]`` section, a template for ``Alliance``."""
        return f'backend = "nftables"\nnetns = "{self.prefix}-m{{index}}"'

    def names(self) -> list[str]:
        return [self.attacker_ns, *(self.member_ns(i) for i in range(1, self.members + 1))]

    def leftovers(self) -> list[str]:
        """Namespaces of this run that still exist."""
        return sorted(ns for ns in namespaces() if ns.startswith(self.prefix + "-"))

    # building

    def create(self) -> None:
        """Create the namespaces and veth pairs; on failure remove what was made."""
        stale = self.leftovers()
        if stale:
            raise NetworkError(
                f"namespaces {', '.join(stale)} already exist (a demo that was killed?):"
                f" delete them with `ip netns del NAME` and run again"
            )
        try:
            self._add(self.attacker_ns)
            attacker_batch = ["link set lo up", f"addr add {ATTACKER_ADDRESS}/32 dev lo"]
            for i in range(1, self.members + 1):
                ns = self.member_ns(i)
                self._add(ns)
                m_if, a_if = f"{self.prefix}m{i}", f"{self.prefix}a{i}"
                _ip("link", "add", m_if, "netns", ns, "type", "veth",
                    "peer", "name", a_if, "netns", self.attacker_ns)  # fmt: skip
                _ip(
                    "-n",
                    ns,
                    batch=f"link set lo up\naddr add {member_address(i)}/24 dev {m_if}\n"
                    f"link set {m_if} up\n"
                    f"route add {ATTACKER_ADDRESS}/32 via {_gateway(i)} dev {m_if}\n",
                )
                attacker_batch += [f"addr add {_gateway(i)}/24 dev {a_if}", f"link set {a_if} up"]
            _ip("-n", self.attacker_ns, batch="\n".join(attacker_batch) + "\n")
        except BaseException:
            self.close()
            raise

    def _add(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self._created.append(ns)

    # processes inside the namespaces

    def _start(
        self, ns: str, err: Path, module: str, *args: str, stdin: bool = False
    ) -> subprocess.Popen[str]:
        with open(err, "w") as errors:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, sys.executable, "-m", module, *args],
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                bufsize=1,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops them in order
            )
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first.startswith("ready"):
            _stop(proc)
            why = err.read_text(errors="replace").strip() or first.strip() or "no output"
            raise NetworkError(f"{module} in {ns} did not start: {why[-500:]}")
        return proc

    def start_listeners(self, members: Sequence[Member]) -> None:
        """One sshd (or stand-in) per member namespace, logging to the member's auth.log."""
        for member in members:
            if self.real_sshd:
                self._listeners.append(
                    self._start(
                        self.member_ns(member.index),
                        member.root / "sshd.err",
                        "shieldwall.demo.sshd",
                        "--address",
                        member.address,
                        "--port",
                        str(SSH_PORT),
                        "--log",
                        str(Path(member.log).resolve()),
                        "--host",
                        member.name,
                        "--dir",
                        str((member.root / "sshd").resolve()),
                    )
                )
                continue
            self._listeners.append(
                self._start(
                    self.member_ns(member.index),
                    member.root / "listener.err",
                    "shieldwall.demo.listener",
                    "--address",
                    member.address,
                    "--port",
                    str(SSH_PORT),
                    "--log",
                    str(Path(member.log).resolve()),
                    "--host",
                    member.name,
                )
            )

    def start_attacker(self, err: Path) -> None:
        """The attacker's connector; its error output goes to ``err``. With a real sshd
        every attempt is its own ``ssh`` login: nothing to start."""
        if self.real_sshd:
            return
        self._probe = self._start(
            self.attacker_ns,
            err,
            "shieldwall.demo.attacker",
            "--source",
            ATTACKER_ADDRESS,
            "--timeout",
            str(CONNECT_TIMEOUT),
            stdin=True,
        )

    def attempt(self, member: Member, ip: str, n: int) -> bool:
        """The attacker's strategy (``sweep.Attempt``): True when the attempt was dropped."""
        if ip != self.attacker:
            raise ValueError(f"the attacker namespace connects from {self.attacker}, not {ip}")
        if self.real_sshd:  # a real password login: dropped or refused
            user = USERS[n % len(USERS)]
            try:
                return password_attempt(self.attacker_ns, ip, member.address, SSH_PORT, user)
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
                raise NetworkError(str(exc)) from None
        probe = self._probe
        if probe is None or probe.stdin is None or probe.stdout is None:
            raise NetworkError("the attacker is not running: call start_attacker() first")
        try:
            probe.stdin.write(f"{member.address} {SSH_PORT}\n")
            probe.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise NetworkError("the attacker process has ended") from None
        answer = probe.stdout.readline().strip()
        if answer.startswith("reached"):
            return False
        if answer.startswith("dropped"):
            return True
        raise NetworkError(f"the attacker could not connect to {member.address}: {answer!r}")

    # tearing down

    def close(self) -> None:
        """Stop the processes, delete the namespaces (and their nftables state)."""
        for proc in [*self._listeners, *([self._probe] if self._probe else [])]:
            _stop(proc)
        self._listeners, self._probe = [], None
        for ns in reversed(self._created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self._created = []

    def __enter__(self) -> DemoNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
