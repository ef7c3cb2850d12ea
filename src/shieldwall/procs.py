"""Starting shieldwall processes: the demo, benchmarks and end-to-end tests share this."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def shieldwall_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "shieldwall", *args]


def start_hub(
    data: Path,
    port: int,
    log: Path,
    level: str = "warning",
    *,
    extra: Sequence[str] = (),
    wait: bool = True,
    action: str = "serve",
) -> subprocess.Popen[bytes]:
    """Start ``shieldwall hub serve`` (or ``hub replica``: ``action``), ``extra`` flags
    appended; by default wait until it answers /healthz over plain HTTP."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            shieldwall_command(
                "hub",
                action,
                "--data",
                str(data),
                "--listen",
                f"127.0.0.1:{port}",
                "--log-level",
                level,
                *extra,
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if wait:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
    return proc


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"hub exited with code {proc.returncode}: {tail}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"hub at {url} did not become healthy in {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
