"""The agent's watchers: the journal read in batches with its cursor kept, and a log
that cannot be read reported and retried until it can, while the rest goes on."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldwall.agent.outbox import Outbox
from tests.agent.scripted_hub import ScriptedHub, run_agent

FAIL = "Failed password for root from 203.0.113.{ip} port {port} ssh2"


@pytest.fixture
def hub() -> Iterator[ScriptedHub]:
    scripted = ScriptedHub({"decisions": [], "cursor": 0}, [[]])
    yield scripted
    scripted.close()


def test_journal_source_detects_and_keeps_its_cursor(
    tmp_path: Path, hub: ScriptedHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """journalctl itself is absent here; a stand-in prints what ``journalctl -f -o json``
    prints, in one burst, then waits as -f does."""
    entries = [
        {
            "__CURSOR": f"s=1;i={i}",
            "__REALTIME_TIMESTAMP": "1709447472000000",
            "_SYSTEMD_UNIT": "ssh.service",
            "SYSLOG_IDENTIFIER": "sshd",
            "_PID": "21004",
            "MESSAGE": FAIL.format(ip=7, port=40000 + i),
        }
        for i in range(5)
    ]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "journalctl"
    script.write_text(
        f'#!/bin/sh\necho "$@" > {tmp_path / "args"}\n'
        + "".join(f"echo '{json.dumps(e)}'\n" for e in entries)
        + "exec sleep 60\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    _, events = run_agent(
        tmp_path,
        hub,
        lambda e, _: e.holds("203.0.113.7") and bool(hub.signals),
        sources=[{"journald": ["_SYSTEMD_UNIT=ssh.service"]}],
    )
    detected = [e for e in events if e["event"] == "detected"]
    assert [(e["target"], e["events"]) for e in detected] == [("203.0.113.7", 5)]
    assert hub.signals[0]["target"] == "203.0.113.7"
    assert (tmp_path / "args").read_text().split()[-1] == "_SYSTEMD_UNIT=ssh.service"
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    try:
        assert outbox.get_json("cursor:journald:_SYSTEMD_UNIT=ssh.service") == "s=1;i=4"
    finally:
        outbox.close()


def test_unreadable_log_is_reported_and_retried(tmp_path: Path, hub: ScriptedHub) -> None:
    log = tmp_path / "auth.log"
    log.mkdir()  # not a file: every read fails

    def recovered(_: object, events: list[dict]) -> bool:
        if log.is_dir() and any(e["event"] == "source_error" for e in events):
            log.rmdir()  # the operator fixes it: a real log appears at the path
            log.write_text(
                "".join(
                    f"Mar  9 10:00:0{i} web sshd[1]: {FAIL.format(ip=8, port=i)}\n"
                    for i in range(5)
                )
            )
        seen = {e["event"] for e in events}
        return "detected" in seen and "resynced" in seen

    _, events = run_agent(tmp_path, hub, recovered, sources=[{"path": "auth.log"}])
    error = next(e for e in events if e["event"] == "source_error")
    assert error["source"] == str(log) and "IsADirectoryError" in error["error"]
    assert [e["target"] for e in events if e["event"] == "detected"] == ["203.0.113.8"]
