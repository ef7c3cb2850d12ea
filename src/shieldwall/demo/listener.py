"""A stand-in for sshd inside a member's network namespace (``shieldwall demo --nftables``).

    python -m shieldwall.demo.listener --address 10.231.1.1 --port 22 --log auth.log

Every TCP connection it accepts counts as one failed password: it appends the line
sshd would write (``Failed password for root from SRC port P ssh2``, the peer's real
address and port) to the log the member's agent follows, and closes the connection.
A connection the member's firewall drops never gets here, so it leaves no line.

It prints ``ready ADDRESS PORT`` once it listens (``--port 0`` picks a free port) and
ends quietly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from shieldwall.demo.lines import failed_login


def open_socket(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def serve(sock: socket.socket, log: Path, host: str, limit: int | None = None) -> int:
    """Log one failed login per accepted connection; returns how many (stops at ``limit``)."""
    n = 0
    while limit is None or n < limit:
        conn, peer = sock.accept()
        conn.close()
        with open(log, "a") as fh:
            fh.write(failed_login(str(peer[0]), n, port=int(peer[1]), host=host))
        n += 1
    return n


def address_arg(text: str) -> str:
    """An ``--address`` flag: one IP address, normalised."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IP address") from None


def port_arg(text: str) -> int:
    """A ``--port`` flag: a TCP port number."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shieldwall.demo.listener",
        description="log a failed sshd login for every TCP connection accepted",
    )
    parser.add_argument("--address", type=address_arg, required=True, help="address to listen on")
    parser.add_argument("--port", type=port_arg, default=22, help="TCP port (default 22)")
    parser.add_argument("--log", type=Path, required=True, help="auth log to append to")
    parser.add_argument("--host", default="web", help="host name in the log lines")
    return parser


def _quit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.log.parent.is_dir():
        parser.error(f"--log {str(args.log)!r}: directory does not exist; create it first")
    if not args.host or any(c.isspace() for c in args.host):
        parser.error(f"--host {args.host!r} must be one word")
    signal.signal(signal.SIGTERM, _quit)
    try:
        sock = open_socket(args.address, args.port)
    except OSError as exc:
        parser.error(f"cannot listen on {args.address} port {args.port}: {exc.strerror}")
    with sock:
        print(f"ready {args.address} {sock.getsockname()[1]}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            serve(sock, args.log, args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
