"""The attacker's side of ``shieldwall demo --nftables``, run inside the attacker namespace.

    python -m shieldwall.demo.attacker --source 10.231.255.66 --timeout 0.3

Reads one target a line on stdin (``ADDRESS PORT``), makes one TCP connection to it
from ``--source`` and answers one line on stdout:

- ``reached SPORT``: the connection completed (the member's listener logs it);
- ``dropped timeout`` / ``dropped refused`` / ``dropped unreachable``: it did not
  (the member's firewall dropped the SYN);
- ``error MESSAGE``: the request line was not ``ADDRESS PORT``.

It prints ``ready`` first and ends at the end of its input, on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import ipaddress
import signal
import socket
import sys
from collections.abc import Sequence
from types import FrameType
from typing import IO


def knock(source: str, dest: str, port: int, timeout: float) -> str:
    """One connection attempt from ``source``; the answer line (without newline)."""
    family = socket.AF_INET6 if ipaddress.ip_address(dest).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.bind((source, 0))
        sport = sock.getsockname()[1]
        try:
            sock.connect((dest, port))
        except TimeoutError:
            return "dropped timeout"
        except ConnectionRefusedError:
            return "dropped refused"
        except OSError as exc:
            if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
                return "dropped unreachable"
            raise
        return f"reached {sport}"


def parse_target(line: str) -> tuple[str, int]:
    """``ADDRESS PORT`` → (address, port); ValueError naming the bad line."""
    parts = line.split()
    if len(parts) != 2 or not parts[1].isdigit() or not 0 < int(parts[1]) <= 65535:
        raise ValueError(f"{line.strip()!r} is not 'ADDRESS PORT'")
    try:
        address = str(ipaddress.ip_address(parts[0]))
    except ValueError:
        raise ValueError(f"{parts[0]!r} is not an IP address") from None
    return address, int(parts[1])


def run(source: str, timeout: float, requests: IO[str], answers: IO[str]) -> None:
    for line in requests:
        try:
            dest, port = parse_target(line)
            answer = knock(source, dest, port, timeout)
        except (ValueError, OSError) as exc:
            answer = f"error {exc}".replace("\n", " ")
        answers.write(answer + "\n")
        answers.flush()


def _quit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shieldwall.demo.attacker",
        description="one TCP connection per 'ADDRESS PORT' line on stdin",
    )
    parser.add_argument("--source", required=True, help="address to connect from")
    parser.add_argument("--timeout", type=float, default=0.3, help="seconds (default 0.3)")
    args = parser.parse_args(argv)
    try:
        args.source = str(ipaddress.ip_address(args.source))
    except ValueError:
        parser.error(f"--source {args.source!r} is not an IP address")
    if not 0 < args.timeout <= 10:
        parser.error(f"--timeout {args.timeout} must be between 0 and 10 seconds")
    signal.signal(signal.SIGTERM, _quit)
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        run(args.source, args.timeout, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
