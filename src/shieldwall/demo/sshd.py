"""A real OpenSSH server in a member's network namespace, and real password attempts on it.

    python -m shieldwall.demo.sshd --address 10.231.1.1 --port 22 --log auth.log \\
        --host member1 --dir /tmp/member1-sshd

runs Debian's ``/usr/sbin/sshd -D -e -f DIR/sshd_config`` with its own host key (made
with ``ssh-keygen`` in ``DIR``), its ``PidFile`` in ``DIR``, password authentication
on and no PAM. sshd writes what it logs to its standard error; this process appends
each line to ``LOG`` with the header a system logger adds (``Dec  7 06:14:13 member1
sshd[PID]: Failed password for …``), the form the agent's ssh scenarios and
fail2ban's sshd filter read. It prints ``ready ADDRESS PORT`` once sshd listens, and
stops sshd on SIGTERM or SIGINT.

:func:`password_attempt` is the attacker's side: one ``ssh`` login with a wrong
password (``sshpass``, ``openssh-client``) from the attacker's namespace.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from shieldwall.demo.listener import address_arg, port_arg

SSHD = "/usr/sbin/sshd"
#: where Debian's sshd looks for its privilege separation directory
PRIVSEP = Path("/run/sshd")
TOOLS = ("ssh-keygen", "sshpass", "ssh")
#: seconds an attempt may hang after its connection was made (a ban that came into
#: force mid-handshake drops the rest): then it counts as dropped
HANG = 4.0

CONFIG = """\
ListenAddress {address}
Port {port}
HostKey {key}
PidFile {pid}
LogLevel VERBOSE
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
MaxAuthTries 3
MaxStartups 100:30:200
StrictModes no
"""


def missing_tools() -> list[str]:
    """What a real sshd and its attacker need that is not installed."""
    absent = [] if Path(SSHD).exists() else [SSHD]
    return absent + [tool for tool in TOOLS if shutil.which(tool) is None]


def prepare(directory: Path, address: str, port: int) -> Path:
    """A host key and an ``sshd_config`` in ``directory``; the configuration's path."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "host_ed25519"
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(key)],
            check=True,
            capture_output=True,
            timeout=30,
        )
    config = directory / "sshd_config"
    config.write_text(
        CONFIG.format(address=address, port=port, key=key, pid=directory / "sshd.pid")
    )
    PRIVSEP.mkdir(mode=0o755, exist_ok=True)  # what the ssh service unit makes
    return config


def syslog_line(message: str, host: str, pid: int, when: float | None = None) -> str:
    """``message`` as a system logger writes it for sshd."""
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime(when))
    return f"{stamp} {host} sshd[{pid}]: {message}\n"


def password_attempt(
    namespace: str, source: str, address: str, port: int, user: str, timeout: float = 1.0
) -> bool:
    """One password login with a wrong password from ``source`` in ``namespace``.

    False when sshd answered (it refused the password: one failed login in its log);
    True when the connection was dropped: it timed out, or a ban that came into force
    during the attempt left it hanging. RuntimeError otherwise.
    """
    proc = subprocess.Popen(
        ["ip", "netns", "exec", namespace, "sshpass", "-e", "ssh", "-F", "/dev/null",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "GlobalKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password",
         "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
         "-o", f"ConnectTimeout={max(1, round(timeout))}", "-o", f"BindAddress={source}",
         "-o", "LogLevel=ERROR", "-p", str(port), f"{user}@{address}", "true"],
        env={**os.environ, "SSHPASS": "not-the-password"},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        _, errors = proc.communicate(timeout=max(1.0, timeout) + HANG)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # sshpass and its ssh
        proc.communicate()
        return True
    if "Permission denied" in errors:
        return False
    if "timed out" in errors:
        return True
    raise RuntimeError(
        f"ssh {user}@{address} from {source}: status {proc.returncode}, "
        f"{errors.strip()[-300:] or 'no message'}"
    )


def _quit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shieldwall.demo.sshd",
        description="run a real sshd whose log lines go to a file, syslog style",
    )
    parser.add_argument("--address", type=address_arg, required=True, help="address to listen on")
    parser.add_argument("--port", type=port_arg, default=22, help="TCP port (default 22)")
    parser.add_argument("--log", type=Path, required=True, help="auth log to append to")
    parser.add_argument("--host", default="web", help="host name in the log lines")
    parser.add_argument("--dir", type=Path, required=True, help="directory for key and config")
    args = parser.parse_args(argv)
    if not args.log.parent.is_dir():
        parser.error(f"--log {str(args.log)!r}: directory does not exist; create it first")
    if not args.host or any(c.isspace() for c in args.host):
        parser.error(f"--host {args.host!r} must be one word")
    absent = missing_tools()
    if absent:
        parser.error(f"{', '.join(absent)} not installed: install openssh-server and sshpass")
    config = prepare(args.dir, args.address, args.port)
    signal.signal(signal.SIGTERM, _quit)
    sshd = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    assert sshd.stderr is not None
    message = ""
    try:
        with open(args.log, "a") as log:
            for raw in sshd.stderr:
                message = raw.rstrip("\r\n")
                if message.startswith("Server listening on"):
                    print(f"ready {args.address} {args.port}", flush=True)
                log.write(syslog_line(message, args.host, sshd.pid))
                log.flush()
        print(f"sshd ended with status {sshd.wait()}: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if sshd.poll() is None:
            sshd.terminate()
            sshd.wait(10)


if __name__ == "__main__":
    sys.exit(main())
