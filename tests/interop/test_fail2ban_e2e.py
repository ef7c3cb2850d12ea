"""A real fail2ban server and a real hub: bans become signed signals, decisions become bans.

fail2ban runs with a configuration of its own (socket, pid file and database in the
test's directory). Its jail ``sshd`` watches a log file and carries the shipped
``action.d/shieldwall.conf`` (installed with the CLI), then a ``record`` action that
notes each ban in a file: actions run in order, so a ban recorded there has been
through the shieldwall action already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldwall.cli import main
from shieldwall.signing import SigningKey
from shieldwall.store.sqlite import SQLiteStore
from tests.conftest import require_root, require_tool

from .conftest import RealHub, enrol, report, wait_for

pytestmark = pytest.mark.e2e

ATTACKER = "203.0.113.9"


def _configure(conf: Path, hub_url: str, keyfile: Path) -> None:
    (conf / "action.d").mkdir(parents=True)
    (conf / "filter.d").mkdir()
    assert main(["feeds", "fail2ban-action", "--install", str(conf)]) == 0
    (conf / "action.d" / "record.conf").write_text(
        f"[Definition]\nactionban = echo '<ip>' >> {conf / 'bans'}\nactionunban =\n"
    )
    (conf / "filter.d" / "test-auth.conf").write_text(
        "[Definition]\nfailregex = ^Failed password for \\S+ from <HOST>$\ndatepattern = {NONE}\n"
    )
    (conf / "fail2ban.conf").write_text(
        "[Definition]\nloglevel = INFO\n"
        f"logtarget = {conf / 'fail2ban.log'}\nsocket = {conf / 'fail2ban.sock'}\n"
        f"pidfile = {conf / 'fail2ban.pid'}\ndbfile = :memory:\n"
    )
    (conf / "auth.log").write_text("")
    command = f"{sys.executable} -m shieldwall"
    (conf / "jail.conf").write_text(
        "[DEFAULT]\nbackend = polling\nbantime = 3600\nfindtime = 600\n"
        "[sshd]\nenabled = true\nfilter = test-auth\n"
        f"logpath = {conf / 'auth.log'}\nmaxretry = 3\n"
        f'action = shieldwall[hub="{hub_url}", member="web1", keyfile="{keyfile}", '
        f'shieldwall="{command}"]\n'
        "         record\n"
    )


@pytest.fixture
def fail2ban(real_hub: RealHub, tmp_path: Path) -> Iterator[Path]:
    require_root()
    client = require_tool("fail2ban-client")
    keyfile = tmp_path / "web1.key"
    key = SigningKey.generate()
    key.save(keyfile)
    for member in enrol(real_hub, ("web1", "192.0.2.30"), keys={"web1": key}):
        member.close()
    conf = tmp_path / "fail2ban"
    _configure(conf, real_hub.url, keyfile)
    started = subprocess.run(
        [client, "-c", str(conf), "start"], capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield conf
    finally:
        subprocess.run([client, "-c", str(conf), "stop"], capture_output=True, timeout=60)
        print((conf / "fail2ban.log").read_text(errors="replace")[-4000:])


def _signals(real_hub: RealHub) -> list[tuple[str, str, str, int]]:
    store = SQLiteStore(real_hub.data / "hub.sqlite3", read_only=True)
    try:
        return [(s.member, s.target, s.scenario, s.events) for s in store.signals_since(0)]
    finally:
        store.close()


def _banned(conf: Path) -> list[str]:
    """What the jail has banned, in the order its last action saw them."""
    bans = conf / "bans"
    return bans.read_text().split() if bans.exists() else []


def test_a_fail2ban_ban_is_a_signed_signal_of_its_member(real_hub: RealHub, fail2ban: Path) -> None:
    with open(fail2ban / "auth.log", "a") as log:
        for _ in range(3):
            log.write(f"Failed password for root from {ATTACKER}\n")
    wait_for("fail2ban to ban the attacker", lambda: ATTACKER in _banned(fail2ban))
    assert ("web1", ATTACKER, "fail2ban-sshd", 3) in _signals(real_hub)
    (alpha,) = enrol(real_hub, ("alpha", "192.0.2.10"))
    with alpha:
        (decided,) = report(alpha, targets=[ATTACKER])
    with real_hub.admin() as admin:
        decision = admin.get(f"/v1/decisions/{decided}")
    assert json.loads(decision["members"]) == ["alpha", "web1"], (
        "web1's signal, signed with its key, counted toward the quorum"
    )


def test_a_fail2ban_only_host_enforces_alliance_decisions(
    real_hub: RealHub, fail2ban: Path, tmp_path: Path
) -> None:
    clients = enrol(real_hub, ("alpha", "192.0.2.10"), ("bravo", "192.0.2.20"))
    try:
        decided = report(*clients, targets=["198.51.100.0/24", "203.0.113.50"])
    finally:
        for c in clients:
            c.close()
    assert len(decided) == 2
    script = tmp_path / "alliance-bans.sh"
    export = ["feeds", "export", "fail2ban", "--hub", real_hub.url, "--jail", "sshd"]
    assert main([*export, "-o", str(script)]) == 0
    # The script calls fail2ban-client as a cron job would; this server has its own socket.
    shim = tmp_path / "bin" / "fail2ban-client"
    shim.parent.mkdir()
    client = require_tool("fail2ban-client")
    shim.write_text(f'#!/bin/sh\nexec "{client}" -c "{fail2ban}" "$@"\n')
    shim.chmod(0o755)
    run = subprocess.run(
        ["sh", str(script)],
        env={"PATH": f"{shim.parent}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    wait_for("both bans", lambda: len(_banned(fail2ban)) == 2)
    assert sorted(_banned(fail2ban)) == ["198.51.100.0/24", "203.0.113.50"]
    assert [s for s in _signals(real_hub) if s[0] == "web1"] == [], (
        "the alliance's own decisions are not reported back to it"
    )
    log = (fail2ban / "fail2ban.log").read_text(errors="replace")
    assert " ERROR " not in log, "the shieldwall action skips such bans, it does not fail"
