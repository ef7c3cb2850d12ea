"""A second ``hub serve`` on a data directory in use stops at once, naming the holder."""

from __future__ import annotations

import pytest

from shieldwall.procs import free_port

from .conftest import HubProcess, cli

pytestmark = pytest.mark.e2e


def test_second_hub_on_the_same_data_directory_exits(hub_process: HubProcess) -> None:
    assert hub_process.proc is not None
    other = free_port()
    result = cli(
        "hub",
        "serve",
        "--data",
        str(hub_process.data),
        "--listen",
        f"127.0.0.1:{other}",
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"shieldwall: error: data directory {str(hub_process.data)!r} is in use by another hub "
        f"(pid {hub_process.proc.pid}): stop that hub first, or give this one another --data"
    ]
    assert "replayed" not in result.stderr, "refused before the store was opened"
