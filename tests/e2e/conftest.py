"""Real processes over loopback: a hub, members, agents, started from the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shieldwall.procs import free_port, start_hub, stop

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
