"""NATS JetStream for the bus tests: the real server (``SHIELDWALL_TEST_NATS``), a
stream of each test's own, and a private server the outage test may stop."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shieldwall.bus.jetstream import delete_stream
from shieldwall.procs import free_port
from tests.conftest import require_env, require_tool


@pytest.fixture
def nats_url() -> str:
    return require_env("SHIELDWALL_TEST_NATS")


@pytest.fixture
def stream(nats_url: str) -> Iterator[str]:
    name = f"swtest-{uuid.uuid4().hex[:12]}"
    yield name

    asyncio.run(delete_stream(nats_url, name))


@dataclass
class NatsServer:
    """A nats-server of the test's own, with JetStream storage that survives a stop."""

    binary: str
    store: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(require_tool("nats-server"), tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()
