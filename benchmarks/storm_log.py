"""A reproducible sshd auth log of an attack storm, with the share of attack lines given.

Each line is an attack line (a failed password, an invalid user, a failed password for
an invalid user) with probability ``share``, from one of many addresses (IPv4, IPv6,
IPv4-mapped IPv6); the others are what a busy server logs besides: accepted logins,
sessions, disconnects, cron, systemd, the kernel. About 56 lines share each second, so
a 200,000-line log spans an hour (3,600 distinct stamps), as in a real storm.

    python -m benchmarks.storm_log OUT.log [LINES] [SHARE] [SEED]
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

USERS = ("root", "admin", "test", "oracle", "ubuntu", "pi", "git", "postgres", "user", "a b")
MONTH = "Mar"


def _address(rng: random.Random, attackers: list[str]) -> str:
    r = rng.random()
    if r < 0.6:
        return rng.choice(attackers)
    if r < 0.95:
        return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"  # fmt: skip
    if r < 0.98:
        return f"2001:db8:{rng.randint(0, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
    return f"::ffff:198.51.100.{rng.randint(1, 254)}"


def lines(count: int, share: float, seed: int = 42) -> list[str]:
    """``count`` log lines, about ``share`` of them attack lines."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"attack share {share!r} is not between 0 and 1: e.g. 0.4")
    rng = random.Random(seed)
    attackers = [f"203.0.113.{i}" for i in range(1, 255)] + [
        f"2001:db8::{i:x}" for i in range(1, 40)
    ]
    per_second = 56
    out: list[str] = []
    for n in range(count):
        second = 6 * 3600 + n // per_second
        hh, mm, ss = (second // 3600) % 24, (second // 60) % 60, second % 60
        stamp = f"{MONTH} {3 + second // 86400:2d} {hh:02d}:{mm:02d}:{ss:02d}"
        # an attack connection keeps its process id for a few lines, as sshd's do
        pid = 20000 + rng.randint(0, 30000) if rng.random() < 0.7 else 20000 + n // 3 % 30000
        port = rng.randint(1024, 65535)
        if rng.random() < share:
            ip = _address(rng, attackers)
            user = rng.choice(USERS)
            kind = rng.random()
            if kind < 0.45:
                row = f"sshd[{pid}]: Failed password for {user} from {ip} port {port} ssh2"
            elif kind < 0.75:
                row = f"sshd[{pid}]: Invalid user {user} from {ip} port {port}"
            else:
                row = f"sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2"  # fmt: skip
        else:
            kind = rng.random()
            if kind < 0.15:
                row = f"sshd[{pid}]: Accepted publickey for deploy from 192.0.2.10 port {port} ssh2: ED25519 SHA256:x"  # fmt: skip
            elif kind < 0.3:
                row = f"sshd[{pid}]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)"  # fmt: skip
            elif kind < 0.4:
                row = f"sshd[{pid}]: Received disconnect from 192.0.2.10 port {port}:11: disconnected by user"  # fmt: skip
            elif kind < 0.5:
                row = f"sshd[{pid}]: pam_unix(sshd:auth): check pass; user unknown"
            elif kind < 0.6:
                row = f"CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"  # fmt: skip
            elif kind < 0.7:
                row = f"systemd[1]: Started Session {n % 999} of User deploy."
            elif kind < 0.8:
                row = f"systemd-logind[612]: New session {n % 999} of user deploy."
            elif kind < 0.9:
                row = f"kernel: [{n}.000000] [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.{n % 250} DST=192.0.2.1 PROTO=TCP DPT=23"  # fmt: skip
            else:
                row = f"sshd[{pid}]: Server listening on 0.0.0.0 port 22."
        out.append(f"{stamp} web1 {row}")
    return out


def generate(path: Path, count: int, share: float, seed: int = 42) -> None:
    """Write :func:`lines` to ``path``."""
    path.write_text("\n".join(lines(count, share, seed)) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    generate(
        Path(args[0]),
        int(args[1]) if len(args) > 1 else 200_000,
        float(args[2]) if len(args) > 2 else 0.4,
        int(args[3]) if len(args) > 3 else 42,
    )
