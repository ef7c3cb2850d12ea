"""The hub's operational log as an operator reads it: a real hub process on loopback."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldwall.procs import free_port, shieldwall_command
from tests.waiting import wait

from .conftest import HubProcess, cli, cli_json

pytestmark = pytest.mark.e2e
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture
def info_hub(tmp_path: Path) -> Iterator[HubProcess]:
    data = tmp_path / "hub"
    token = cli_json("hub", "init", "--data", str(data), "--template", "nato")["admin_token"]
    hub = HubProcess(data, free_port(), token, tmp_path / "hub.log", extra=("--log-level", "info"))
    hub.start()
    yield hub
    hub.stop()


def test_join_approval_and_streams_are_logged(info_hub: HubProcess, tmp_path: Path) -> None:
    hub = info_hub
    key = tmp_path / "alpha.key"
    cli("keygen", str(key))
    cli("join", "--hub", hub.url, "--name", "alpha", "--key", str(key), "--address", "192.0.2.10")
    cli("members", "approve", "alpha", "--hub", hub.url, "--admin-token", hub.token)
    watcher = subprocess.Popen(
        shieldwall_command(
            "decisions", "watch", "--hub", hub.url, "--name", "alpha", "--key", str(key)
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def lines() -> list[str]:
        return hub.log.read_text().splitlines()

    def logged(event: str) -> bool:
        return any(re.fullmatch(f"{ISO} INFO shieldwall.hub {event}", line) for line in lines())

    try:
        wait(lambda: logged(r"stream_opened member=alpha after=\d+"), what="stream_opened",
             show=lines)  # fmt: skip
    finally:
        watcher.terminate()
        watcher.wait(10)
    wait(lambda: logged("stream_closed member=alpha"), what="stream_closed", show=lines)
    assert logged("join name=alpha addresses=192.0.2.10")
    assert logged("approval name=alpha by=secretariat")
    assert hub.token not in hub.log.read_text()
