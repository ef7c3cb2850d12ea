"""Two network namespaces joined by a veth pair, for real firewall tests.

``member`` (10.77.0.1, fd77::1) runs the enforcer and a TCP listener; ``attacker`` holds
10.77.0.2 and 10.77.0.4 (to be banned), 10.77.0.3 (allowlisted) and fd77::2. Traffic is
a TCP connect from a chosen source address, so no ``ping`` binary is needed. Nothing
here touches the host's own network stack; ``close()`` deletes both namespaces.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from dataclasses import dataclass, field

from shieldwall.agent.enforce.base import CommandRunner

MEMBER_IP = "10.77.0.1"
ATTACKER_IP = "10.77.0.2"
ALLOWED_IP = "10.77.0.3"
OTHER_IP = "10.77.0.4"
MEMBER_IP6 = "fd77::1"
ATTACKER_IP6 = "fd77::2"
PORT = 7777

_counter = itertools.count()

_LISTENER = """
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", int(sys.argv[1])))
s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.close()
"""

_CONNECT = """
import socket, sys
src, dst, port, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
family = socket.AF_INET6 if ":" in dst else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(wait)
s.bind((src, 0))
try:
    s.connect((dst, port))
except OSError:
    sys.exit(1)
sys.exit(0)
"""


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)


@dataclass
class VethPair:
    member: str
    attacker: str
    _listener: subprocess.Popen[str] | None = field(default=None, repr=False)

    @classmethod
    def create(cls) -> VethPair:
        tag = f"{os.getpid() % 100000}{next(_counter)}"
        pair = cls(member=f"sw-m{tag}", attacker=f"sw-a{tag}")
        try:
            pair._setup(tag)
        except BaseException:
            pair.close()
            raise
        return pair

    def _setup(self, tag: str) -> None:
        sh("ip", "netns", "add", self.member)
        sh("ip", "netns", "add", self.attacker)
        m_if, a_if = f"swm{tag}"[:15], f"swa{tag}"[:15]
        sh("ip", "link", "add", m_if, "netns", self.member, "type", "veth", "peer", "name", a_if,
           "netns", self.attacker)  # fmt: skip
        for ns, ifname, addrs in (
            (self.member, m_if, [f"{MEMBER_IP}/24"]),
            (self.attacker, a_if, [f"{ATTACKER_IP}/24", f"{ALLOWED_IP}/24", f"{OTHER_IP}/24"]),
        ):
            for addr in addrs:
                sh("ip", "-n", ns, "addr", "add", addr, "dev", ifname)
            six = MEMBER_IP6 if ns == self.member else ATTACKER_IP6
            sh("ip", "-n", ns, "addr", "add", f"{six}/64", "dev", ifname, "nodad")
            sh("ip", "-n", ns, "link", "set", ifname, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")

    def runner(self) -> CommandRunner:
        """Runs enforcer commands inside the member namespace."""
        return CommandRunner(prefix=("ip", "netns", "exec", self.member))

    def listen(self) -> None:
        self._listener = subprocess.Popen(
            ["ip", "netns", "exec", self.member, sys.executable, "-c", _LISTENER, str(PORT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._listener.stdout is not None
        line = self._listener.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"listener in {self.member} did not start: {line!r}")

    def can_connect(self, source: str, dest: str = MEMBER_IP, wait: float = 1.0) -> bool:
        """Whether a TCP connection from ``source`` (an attacker-side address) gets through.

        A source equal to a member address connects from inside the member namespace.
        """
        ns = self.member if source in (MEMBER_IP, MEMBER_IP6) else self.attacker
        done = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                "-c",
                _CONNECT,
                source,
                dest,
                str(PORT),
                str(wait),
            ],
            capture_output=True,
            timeout=30,
        )
        return done.returncode == 0

    def close(self) -> None:
        if self._listener is not None:
            self._listener.kill()
            self._listener.wait()
            if self._listener.stdout is not None:
                self._listener.stdout.close()
            self._listener = None
        for ns in (self.member, self.attacker):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
