"""The agent ends on answers no retry can change, and names a log that does not exist.

A real hub and real agent processes on loopback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import HubProcess, cli
from .test_agents_e2e import AgentProcess

pytestmark = pytest.mark.e2e

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def _config(root: Path, hub: HubProcess, name: str) -> Path:
    path = root / "agent.toml"
    path.write_text(
        f'[agent]\nname = "{name}"\nhub = "{hub.url}"\nkey = "agent.key"\ndata = "state"\n'
        'addresses = ["192.0.2.10"]\n\n[[sources]]\npath = "auth.log"\n\n'
        '[enforcer]\nbackend = "dryrun"\n'
    )
    (root / "auth.log").touch()
    return path


@pytest.mark.parametrize(
    ("joined", "code", "fix"),
    [
        pytest.param(True, "bad_signature", "is the key this member joined with", id="wrong-key"),
        pytest.param(False, "unknown_member", "check 'name' in [agent]", id="unknown-member"),
    ],
)
def test_fatal_answer_ends_the_agent(
    hub_process: HubProcess, tmp_path: Path, joined: bool, code: str, fix: str
) -> None:
    cli("keygen", str(tmp_path / "agent.key"))
    if joined:  # alpha joined with another key than the one the agent holds
        cli("keygen", str(tmp_path / "alpha.key"))
        cli(
            "join",
            "--hub",
            hub_process.url,
            "--name",
            "alpha",
            "--key",
            str(tmp_path / "alpha.key"),
            "--address",
            "192.0.2.10",
        )
        cli(
            "members",
            "approve",
            "alpha",
            "--hub",
            hub_process.url,
            "--admin-token",
            hub_process.token,
        )
    config = _config(tmp_path, hub_process, "alpha")
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    result = subprocess.run(
        [sys.executable, "-m", "shieldwall", "agent", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 78, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"shieldwall: error: the hub refused member 'alpha' for good ({code}): ")
    assert fix in line
    # Progress lines carry an ISO-8601 time, never an epoch float.
    started = result.stdout.splitlines()[0]
    assert re.fullmatch(ISO + " started sources=" + re.escape(str(tmp_path / "auth.log")), started)
    assert not re.search(r"\d{9,}\.\d+", result.stdout), result.stdout


def test_a_missing_source_is_named_at_start_and_when_it_appears(
    hub_process: HubProcess, tmp_path: Path
) -> None:
    agent = AgentProcess(hub_process, tmp_path, "alpha", "192.0.2.10")
    agent.log.unlink()
    agent.start()
    try:
        missing = agent.wait_for(lambda e: e["event"] == "source_missing")
        assert missing["path"] == str(agent.log)
        agent.attack("203.0.113.77")  # creates the file
        appeared = agent.wait_for(lambda e: e["event"] == "source_appeared")
        assert appeared["path"] == str(agent.log)
        agent.wait_for(lambda e: e["event"] == "detected" and e["target"] == "203.0.113.77")
        assert [e["event"] for e in agent.events].count("source_missing") == 1
    finally:
        agent.stop()
