"""A real hub process checkpoints its council while it serves; after a ``kill -9`` it
starts from the checkpoint, with the same decisions and stream, and the checkpoint
matches a full replay of the records (``hub checkpoint --verify``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.client import HubClient
from shieldwall.procs import free_port
from tests.waiting import wait

from .conftest import HubProcess, cli, cli_json
from .test_quarantine_e2e import _members

pytestmark = pytest.mark.e2e


def test_a_restarted_hub_starts_from_its_checkpoint(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    token = cli_json("hub", "init", "--data", str(data), "--template", "nato")["admin_token"]
    (data / "hub.toml").write_text("checkpoint_inputs = 4\ncheckpoint_seconds = 1\n")
    hub = HubProcess(data, free_port(), token, tmp_path / "hub.log", extra=("--log-level", "info"))
    hub.start()
    try:
        members = _members(hub)
        for k in range(6):
            for client in members.values():
                client.submit([{"target": f"203.0.113.{k + 1}", "scenario": "ssh"}])

        def checkpointed() -> bool:
            listed = cli_json("hub", "checkpoint", "--data", str(data), "--list")["checkpoints"]
            return bool(listed) and listed[0]["seq"] >= 16  # 4 membership inputs + 12 batches

        wait(checkpointed, what="a checkpoint covering every input")
        with HubClient(hub.url, admin_token=hub.token) as admin:
            before = admin.decisions()
            health = admin.get("/healthz")
        hub.kill9()
        hub.start()
        with HubClient(hub.url, admin_token=hub.token) as admin:
            after = admin.decisions()
            assert [d["id"] for d in after["decisions"]] == [d["id"] for d in before["decisions"]]
            assert len(after["decisions"]) == 6
            assert admin.get("/healthz")["last_event_id"] == health["last_event_id"]
        log = hub.log.read_text()
        assert "loaded the checkpoint at input" in log
        for client in members.values():
            client.close()
    finally:
        hub.stop()
    verified = cli("hub", "checkpoint", "--data", str(data), "--verify")
    assert "matches a full replay" in verified.stdout
