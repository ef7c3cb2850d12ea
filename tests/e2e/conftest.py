"""Real processes over loopback: a hub, members, agents, started from the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shieldwall.client import HubClient, HubError
from shieldwall.procs import free_port, start_hub, stop
from shieldwall.signing import SigningKey

pytestmark = pytest.mark.e2e


def cli(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "shieldwall", *args], capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"shieldwall {' '.join(args)} failed ({result.returncode}): {result.stderr}"
        )
    return result


def cli_json(*args: str) -> Any:
    return json.loads(cli(*args, "--json").stdout)


@dataclass
class HubProcess:
    data: Path
    port: int
    token: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = field(default=0)
    extra: tuple[str, ...] = ()
    action: str = "serve"  # or "replica"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = start_hub(self.data, self.port, self.log, extra=self.extra, action=self.action)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        stop(self.proc)


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[HubProcess]:
    data = tmp_path / "hub"
    token = cli_json("hub", "init", "--data", str(data), "--template", "nato")["admin_token"]
    hub = HubProcess(data, free_port(), token, tmp_path / "hub.log")
    hub.start()
    yield hub
    hub.stop()


class Burst:
    """Members sending batches of 50 signals as fast as the hub takes them, in threads.

    ``acked`` holds what the hub acknowledged (signals accepted, decisions issued); a
    refused or failed batch is retried after a pause, as an agent's outbox would.
    """

    def __init__(self, hub: HubProcess, names: Sequence[str]) -> None:
        self.clients: dict[str, HubClient] = {}
        with HubClient(hub.url, admin_token=hub.token) as admin:
            for i, name in enumerate(names):
                client = HubClient(hub.url, name=name, key=SigningKey.generate(), timeout=5)
                client.join([f"192.0.2.{50 + i}"])
                admin.approve(name)
                self.clients[name] = client
        self.accepted = 0
        self.decided: set[int] = set()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in names]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._done.set()
        for t in self._threads:
            t.join(20)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def _send(self, name: str) -> None:
        i = 0
        while not self._done.is_set():
            at = time.time()
            targets = [f"203.0.{(i // 200) % 250}.{(i + j) % 250 + 1}" for j in range(50)]
            signals = [{"target": t, "scenario": "ssh-bruteforce", "at": at} for t in targets]
            try:
                result = self.clients[name].submit(signals)
            except HubError:
                time.sleep(0.05)  # hub down: an agent's outbox would retry
                continue
            with self._lock:
                self.accepted += result["accepted"]
                self.decided.update(result["decisions"])
            i += 50
