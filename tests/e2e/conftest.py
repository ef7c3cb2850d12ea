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
from shieldwall.client.hub import next_seq
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


@dataclass
class Batch:
    """One signed batch a burst sent: ``acked`` once the hub answered it with 200."""

    member: str
    seq: int
    signals: list[dict[str, Any]]
    acked: bool = False
    decisions: tuple[int, ...] = ()

    def ids(self) -> list[tuple[str, str, str]]:
        """(member, target, scenario) of each signal: unique across a burst."""
        return [(self.member, s["target"], s["scenario"]) for s in self.signals]


class Burst:
    """Members sending batches of 50 signals as fast as the hub takes them, in threads.

    Every batch is kept (``batches``) with whether the hub acknowledged it. A member's
    targets never repeat, so (member, target, scenario) names one signal; members share
    targets, so their reports also make decisions. A thread stops at its first failed
    batch (the hub is down): that batch is in doubt and :meth:`resend` sends it again
    under the same sequence number, as an agent's outbox would.
    """

    def __init__(self, hub: HubProcess, names: Sequence[str], size: int = 50) -> None:
        self.clients: dict[str, HubClient] = {}
        with HubClient(hub.url, admin_token=hub.token) as admin:
            for i, name in enumerate(names):
                client = HubClient(hub.url, name=name, key=SigningKey.generate(), timeout=5)
                client.join([f"192.0.2.{50 + i}"])
                admin.approve(name)
                self.clients[name] = client
        self.size = size
        self.batches: list[Batch] = []
        self.in_flight = 0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in names]

    @property
    def acked(self) -> list[Batch]:
        with self._lock:
            return [b for b in self.batches if b.acked]

    @property
    def in_doubt(self) -> list[Batch]:
        with self._lock:
            return [b for b in self.batches if not b.acked]

    @property
    def decided(self) -> set[int]:
        return {i for b in self.acked for i in b.decisions}

    def busy(self, acked: int) -> bool:
        """At least ``acked`` batches acknowledged and a request in flight right now."""
        with self._lock:
            return self.in_flight > 0 and sum(b.acked for b in self.batches) >= acked

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

    def resend(self, batch: Batch) -> str:
        """Send an in-doubt batch again with its sequence number: 'accepted' or the
        hub's refusal code (``replayed`` when the hub had stored it before the kill)."""
        try:
            result = self.clients[batch.member].submit(batch.signals, seq=batch.seq)
        except HubError as exc:
            return exc.code or str(exc)
        batch.acked, batch.decisions = True, tuple(result["decisions"])
        return "accepted"

    def _send(self, name: str) -> None:
        n = 0
        while not self._done.is_set():
            at = time.time()
            targets = [
                f"203.0.{((n + j) // 250) % 250}.{(n + j) % 250 + 1}" for j in range(self.size)
            ]
            n += self.size
            signals = [{"target": t, "scenario": "ssh-bruteforce", "at": at} for t in targets]
            batch = Batch(name, next_seq(), signals)
            with self._lock:
                self.batches.append(batch)
                self.in_flight += 1
            try:
                result = self.clients[name].submit(signals, seq=batch.seq)
            except HubError:
                return  # the hub is down: this batch stays in doubt
            finally:
                with self._lock:
                    self.in_flight -= 1
            with self._lock:
                batch.acked, batch.decisions = True, tuple(result["decisions"])
