"""The sshd stand-in of ``shieldwall demo --nftables``, on loopback."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shieldwall.agent.detect.engine import DetectionEngine
from shieldwall.demo.listener import main, open_socket, serve

LINE = re.compile(
    r"^\w{3} [ \d]\d \d\d:\d\d:\d\d member1 sshd\[\d+\]: Failed password for (\w+)"
    r" from 127\.0\.0\.1 port (\d+) ssh2$"
)


def _connect(port: int) -> int:
    """One connection to the listener; the client's own port."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        return int(client.getsockname()[1])


def test_each_connection_is_one_failed_login_the_agent_detects(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    sock = open_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    served: list[int] = []
    thread = threading.Thread(target=lambda: served.append(serve(sock, log, "member1", limit=5)))
    thread.start()
    try:
        client_ports = [_connect(port) for _ in range(5)]
        thread.join(10)
    finally:
        sock.close()
    assert served == [5]
    lines = log.read_text().splitlines()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [int(m.group(2)) for m in matches if m] == client_ports
    assert [m.group(1) for m in matches if m][:2] == ["root", "admin"]

    engine = DetectionEngine(record_events=True)
    offences = engine.feed(log.read_bytes(), now=time.time())
    assert [(o.scenario, o.source, o.events) for o in offences] == [
        ("ssh-bruteforce", "127.0.0.1", 5)
    ]


def test_runs_as_a_module_and_stops_quietly_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "shieldwall.demo.listener"),
            *("--address", "127.0.0.1", "--port", "0", "--log", str(log), "--host", "member1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready[:2] == ["ready", "127.0.0.1"], ready
        client_port = _connect(int(ready[2]))
        deadline = time.monotonic() + 60  # generous: the machine may be loaded
        while not log.exists() or not log.read_text().endswith("\n"):
            assert time.monotonic() < deadline, "the listener wrote no line"
            time.sleep(0.02)
        match = LINE.match(log.read_text().strip())
        assert match and int(match.group(2)) == client_port
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert err == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--address", "nope"], "'nope' is not an IP address", id="bad-address"),
        pytest.param(["--port", "70000"], "'70000' is not a port number", id="bad-port"),
        pytest.param(["--port", "-1"], "'-1' is not a port number", id="negative-port"),
        pytest.param(["--host", "two words"], "must be one word", id="bad-host"),
        pytest.param(
            ["--log", "/nonexistent-dir/auth.log"], "directory does not exist", id="no-log-dir"
        ),
    ],
)
def test_refuses_bad_arguments(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"--address": "127.0.0.1", "--port": "0", "--log": str(tmp_path / "auth.log")}
    args.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    with pytest.raises(SystemExit) as exit_:
        main([item for pair in args.items() for item in pair])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
