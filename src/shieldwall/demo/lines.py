"""The sshd log lines the demo's attacker leaves behind (and a harmless one).

Shared by the file-based attacker (it writes the lines itself) and the TCP listener
that stands in for sshd inside a member's network namespace.
"""

from __future__ import annotations

import time

USERS = ("root", "admin", "oracle", "ubuntu", "test")


def _stamp() -> str:
    return time.strftime("%b %d %H:%M:%S", time.localtime())


def failed_login(ip: str, n: int, port: int | None = None, host: str = "web") -> str:
    """A failed password for one of a few common user names (the n-th attempt)."""
    user = USERS[n % len(USERS)]
    src_port = 40000 + n if port is None else port
    return (
        f"{_stamp()} {host} sshd[{7000 + n}]: Failed password for {user} from {ip}"
        f" port {src_port} ssh2\n"
    )


def benign_login(n: int) -> str:
    return (
        f"{_stamp()} web sshd[{9000 + n}]: Accepted publickey for deploy from 198.51.100.20"
        f" port {50000 + n} ssh2\n"
    )
