"""The README's flow with a real hub process and member clients over loopback,
including ``kill -9`` of the hub during a burst of signals."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from shieldwall.client import HubClient
from shieldwall.signing import SigningKey
from tests.waiting import wait

from .conftest import Burst, HubProcess, cli, cli_json

pytestmark = pytest.mark.e2e
ATTACKER = "203.0.113.9"


class Watcher:
    """``shieldwall decisions watch`` as a real process; collects its events."""

    def __init__(self, hub: HubProcess, name: str, key: Path, after: int | None = None) -> None:
        args = [
            sys.executable,
            "-m",
            "shieldwall",
            "decisions",
            "watch",
            "--hub",
            hub.url,
            "--name",
            name,
            "--key",
            str(key),
        ]
        if after is not None:
            args += ["--after", str(after)]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.events: list[dict] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def wait_for(self, predicate, timeout: float = 30.0) -> dict:
        found: list[dict] = []

        def seen() -> bool:
            found[:] = [e for e in list(self.events) if predicate(e)][:1]
            return bool(found)

        wait(seen, timeout, "a matching event", show=lambda: self.events)
        return found[0]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._thread.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def _members(hub: HubProcess, tmp: Path) -> dict[str, Path]:
    keys = {}
    for i, name in enumerate(("alpha", "bravo", "charlie")):
        key = tmp / f"{name}.key"
        cli("keygen", str(key))
        cli(
            "join",
            "--hub",
            hub.url,
            "--name",
            name,
            "--key",
            str(key),
            "--address",
            f"192.0.2.{10 + i}",
        )
        cli("members", "approve", name, "--hub", hub.url, "--admin-token", hub.token)
        keys[name] = key
    return keys


def report(
    hub: HubProcess,
    keys: dict[str, Path],
    name: str,
    target: str,
    scenario: str,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``shieldwall report`` as member ``name``."""
    args = ["--hub", hub.url, "--name", name, "--key", str(keys[name]), target, scenario]
    return cli("report", *args, check=check)


def test_readme_flow(
    hub_process: HubProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = hub_process
    keys = _members(hub, tmp_path)
    anonymous = cli("members", "list", "--hub", hub.url, check=False)
    assert anonymous.returncode == 2 and "viewers add" in anonymous.stderr
    # A read token for the operator's terminal: it reads every view, changes nothing.
    reader = cli_json("viewers", "add", "ops", "--data", str(hub.data))["token"]
    assert [v["name"] for v in cli_json("viewers", "list", "--data", str(hub.data))] == ["ops"]
    monkeypatch.setenv("SHIELDWALL_TOKEN", reader)  # cli() passes its environment on
    listed = cli_json("members", "list", "--hub", hub.url)["members"]
    assert {m["name"]: m["status"] for m in listed} == dict.fromkeys(keys, "active")

    # The watcher resumes from the cursor: it sees every event after it, however late
    # it connects.
    cursor = cli_json("decisions", "list", "--hub", hub.url)["cursor"]
    watcher = Watcher(hub, "charlie", keys["charlie"], after=cursor)
    try:
        report(hub, keys, "alpha", ATTACKER, "ssh-bruteforce")
        consultations = cli_json("consultations", "list", "--hub", hub.url)["consultations"]
        assert [c["target"] for c in consultations] == [ATTACKER]
        assert cli_json("decisions", "list", "--hub", hub.url)["decisions"] == []

        report(hub, keys, "bravo", ATTACKER, "ssh-bruteforce")
        decisions = cli_json("decisions", "list", "--hub", hub.url)["decisions"]
        assert [d["target"] for d in decisions] == [ATTACKER]
        event = watcher.wait_for(lambda e: e["event"] == "decision")
        assert event["data"]["target"] == ATTACKER

        # A lone report opens a consultation, not a decision.
        report(hub, keys, "alpha", "198.51.100.77", "http-scan")
        consultations = cli_json("consultations", "list", "--hub", hub.url)["consultations"]
        assert "198.51.100.77" in [c["target"] for c in consultations]
        assert "198.51.100.77" not in [
            d["target"] for d in cli_json("decisions", "list", "--hub", hub.url)["decisions"]
        ]

        # Reports against a member's own address and a protected range are disputes.
        for target in ("192.0.2.12", "127.0.0.1"):
            refused = report(hub, keys, "alpha", target, "ssh-bruteforce", check=False)
            assert refused.returncode == 1
            assert "refused" in refused.stdout and "dispute" in refused.stdout
        with HubClient(hub.url, admin_token=hub.token) as viewer:
            disputes = viewer.get("/v1/disputes")["disputes"]
        assert {d["target"] for d in disputes} == {"192.0.2.12", "127.0.0.1"}

        cli(
            "decisions",
            "revoke",
            str(decisions[0]["id"]),
            "--hub",
            hub.url,
            "--admin-token",
            hub.token,
        )
        revocation = watcher.wait_for(lambda e: e["event"] == "revocation")
        assert revocation["data"]["decision_id"] == decisions[0]["id"]
        assert cli_json("decisions", "list", "--hub", hub.url)["decisions"] == []
    finally:
        watcher.stop()
    monkeypatch.delenv("SHIELDWALL_TOKEN")
    cli("viewers", "remove", "ops", "--data", str(hub.data))
    refused = cli("decisions", "list", "--hub", hub.url, "--token", reader, check=False)
    assert refused.returncode == 2 and "neither a read token" in refused.stderr


def test_cli_errors_are_one_line(hub_process: HubProcess, tmp_path: Path) -> None:
    shared = tmp_path / "shared.key"
    cli("keygen", str(shared))
    shared.chmod(0o644)
    cases = [
        (
            [
                "report",
                "--hub",
                hub_process.url,
                "--name",
                "x",
                "--key",
                str(shared),
                "1.2.3.4",
                "s",
            ],
            "is readable by other users (mode 644): run 'chmod 600",
        ),
        (
            [
                "report",
                "--hub",
                "http://127.0.0.1:1",
                "--name",
                "x",
                "--key",
                str(tmp_path / "none"),
                "1.2.3.4",
                "s",
            ],
            "does not exist",
        ),
        (["decisions", "list", "--hub", "http://127.0.0.1:1"], "unreachable"),
        (["decisions", "list"], "--hub"),
        (
            ["members", "approve", "ghost", "--hub", hub_process.url, "--admin-token", "bad"],
            "admin token",
        ),
        (["hub", "serve", "--data", str(tmp_path / "nothing")], "not a hub data directory"),
        (
            ["hub", "init", "--data", str(tmp_path / "x"), "--template", "warsaw"],
            "unknown template",
        ),
        (["treaty", "check", str(tmp_path / "missing.toml")], "does not exist"),
        (["hub", "serve", "--data", "d", "--listen", "nowhere"], "HOST:PORT"),
        (["frobnicate"], "unknown command 'frobnicate': choose one of agent, "),
    ]
    for args, words in cases:
        result = cli(*args, check=False)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr, args
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0], (args, result.stderr)


def _stored(hub: HubProcess, names: set[str]) -> Counter[tuple[str, str, str]]:
    """(member, target, scenario) of every signal the hub's store holds for ``names``."""
    db = sqlite3.connect(f"file:{hub.data / 'hub.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT member, target, scenario FROM signals").fetchall()
    finally:
        db.close()
    return Counter((m, t, s) for m, t, s in rows if m in names)


def test_kill9_with_batches_in_flight_keeps_each_acknowledged_signal_once(
    hub_process: HubProcess,
) -> None:
    """SIGKILL lands while members' batches are in flight (as soon as enough were
    acknowledged and a request is outstanding): after the restart the hub holds every
    acknowledged signal exactly once, each batch in doubt whole or not at all, and a
    resend of a batch in doubt under its sequence number never stores it twice."""
    hub = hub_process
    names = ["m1", "m2", "m3"]
    burst = Burst(hub, names)
    burst.start()
    try:
        wait(lambda: burst.busy(acked=30), 120, "30 batches acknowledged and one in flight")
        hub.kill9()
    finally:
        burst.stop()
    acked, in_doubt = burst.acked, burst.in_doubt
    assert len(acked) >= 30 and in_doubt, "the burst was still sending when the hub died"
    assert burst.decided, "the burst made decisions before the kill"

    hub.start()
    stored = _stored(hub, set(names))
    for batch in acked:
        assert [stored[k] for k in batch.ids()] == [1] * len(batch.signals), batch.seq
    for batch in in_doubt:
        counts = {stored[k] for k in batch.ids()}
        assert counts in ({0}, {1}), f"batch {batch.seq} is partly stored or stored twice"
    sent = {k for b in burst.batches for k in b.ids()}
    assert set(stored) <= sent, "the hub holds signals nobody sent"
    with HubClient(hub.url, admin_token=hub.token) as viewer:
        assert viewer.get("/healthz")["members"] == 3
        active = {d["id"] for d in viewer.decisions()["decisions"]}
    assert burst.decided <= active

    # The outbox's answer to a batch in doubt: send it again, same sequence number.
    answers = {batch.seq: burst.resend(batch) for batch in in_doubt}
    for batch in in_doubt:
        was_stored = stored[batch.ids()[0]] == 1
        assert answers[batch.seq] == ("replayed" if was_stored else "accepted"), batch.seq
    after = _stored(hub, set(names))
    assert after == Counter(k for b in burst.batches for k in b.ids()), (
        "every batch sent is held exactly once"
    )
    burst.close()


def test_stream_resumes_without_gap_or_duplicate(hub_process: HubProcess, tmp_path: Path) -> None:
    hub = hub_process
    keys = _members(hub, tmp_path)
    alpha = HubClient(hub.url, name="alpha", key=SigningKey.load(keys["alpha"]))
    bravo = HubClient(hub.url, name="bravo", key=SigningKey.load(keys["bravo"]))

    def decide(i: int) -> None:
        target = f"203.0.113.{i}"
        for client in (alpha, bravo):
            client.submit([{"target": target, "scenario": "ssh-bruteforce", "at": time.time()}])

    first = Watcher(hub, "charlie", keys["charlie"], after=0)
    for i in range(1, 6):
        decide(i)
    first.wait_for(lambda e: e["event"] == "decision" and e["data"]["target"] == "203.0.113.5")
    first.stop()
    seen = [e["id"] for e in first.events]
    for i in range(6, 11):
        decide(i)
    hub.kill9()
    hub.start()
    second = Watcher(hub, "charlie", keys["charlie"], after=seen[-1])
    try:
        second.wait_for(
            lambda e: e["event"] == "decision" and e["data"]["target"] == "203.0.113.10"
        )
    finally:
        second.stop()
        alpha.close()
        bravo.close()
    ids = seen + [e["id"] for e in second.events]
    assert ids == list(range(1, len(ids) + 1)), "event ids are dense: no gap, no duplicate"
    targets = [
        e["data"]["target"] for e in first.events + second.events if e["event"] == "decision"
    ]
    assert targets == [f"203.0.113.{i}" for i in range(1, 11)]
