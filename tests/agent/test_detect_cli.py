from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from pathlib import Path

import pytest

from shieldwall.cli import main
from tests.conftest import refused, require_tool

DATA = Path(__file__).parent / "data"
SSHD = Path("/etc/fail2ban/filter.d/sshd.conf")


def rows(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_replay_scenario_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "replay", str(DATA / "auth.log"), "--scenario", "ssh-bruteforce",
                 "--json", "--member", "m1"]) == 0  # fmt: skip
    out = rows(capsys.readouterr().out)
    lines = [r for r in out if "line" in r]
    offenders = [r for r in out if "offender" in r]
    assert lines[0] == {"line": 3, "host": "203.0.113.45", "scenario": "ssh-bruteforce",
                        "time": lines[0]["time"]}  # fmt: skip
    assert [o["offender"] for o in offenders] == ["203.0.113.45", "198.51.100.23"]
    assert offenders[0]["signal"]["member"] == "m1"
    assert offenders[0]["signal"]["target"] == "203.0.113.45"


def test_replay_fail2ban_filter_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    conf = tmp_path / "myssh.conf"
    conf.write_text("[Definition]\nfailregex = Failed password for .* from <HOST> port\n")
    assert main(["agent", "replay", str(DATA / "auth.log"), "--fail2ban-filter", str(conf),
                 "--json", "--maxretry", "3"]) == 0  # fmt: skip
    out = rows(capsys.readouterr().out)
    lines = [r for r in out if "line" in r]
    assert [r["line"] for r in lines] == [6, 10, 13, 16, 17, 18, 19, 20, 21, 36, 50, 51, 52, 54]
    assert {r["filter"] for r in lines} == {"myssh"}
    offenders = [r["offender"] for r in out if "offender" in r]
    assert offenders == ["203.0.113.45", "198.51.100.23", "198.51.100.23", "203.0.113.45"]


def test_replay_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "replay", str(DATA / "access.log")]) == 0
    out = capsys.readouterr().out
    for address in ("198.51.100.14", "203.0.113.77", "198.51.100.200", "203.0.113.90"):
        assert address in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["/nonexistent.log"], "log file '/nonexistent.log' does not exist",
                     id="missing-file"),
        pytest.param([str(DATA / "auth.log"), "--scenario", "ssh"], "unknown scenario 'ssh'",
                     id="unknown-scenario"),
        pytest.param([str(DATA / "auth.log"), "--fail2ban-filter", str(DATA / "auth.log")],
                     "fail2ban filter", id="bad-filter"),
        pytest.param([str(DATA / "auth.log"), "--fail2ban-filter", "/nonexistent.conf"],
                     "/nonexistent.conf: file not found", id="missing-filter"),
    ],
)  # fmt: skip
def test_replay_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert message in refused(["agent", "replay", *argv, "--json"], capsys)


def test_replay_agrees_with_fail2ban_regex_on_debian_sshd(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``agent replay --fail2ban-filter`` against the real fail2ban-regex: the same lines
    (by number) and the same host for each, with fail2ban's own sshd filter."""
    tool = require_tool("fail2ban-regex")
    if not SSHD.is_file():
        pytest.fail(f"{SSHD} missing although fail2ban-regex is installed")
    log = DATA / "auth.log"
    assert main(["agent", "replay", str(log), "--fail2ban-filter", str(SSHD), "--json"]) == 0
    ours = [(r["line"], r["host"]) for r in rows(capsys.readouterr().out) if "line" in r]
    # fail2ban-regex in the daemon's first-match mode: the matched line texts, and the
    # host of each failure in order (-o row prints one per failure)
    report = subprocess.run(
        [tool, "--no-check-all", "--print-all-matched", str(log), str(SSHD)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    section = report.split("Matched line(s):", 1)[1].split("`-", 1)[0]
    matched = [m.group(1) for m in re.finditer(r"^\|  (.*)$", section, re.M)]
    hosts = subprocess.run(
        [tool, "-o", "ip", str(log), str(SSHD)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()  # fmt: skip
    lines = log.read_text().splitlines()
    assert [lines[n - 1] for n, _ in ours] == matched
    assert [str(ipaddress.ip_address(h)) for _, h in ours] == [
        str(ipaddress.ip_address(h)) for h in hosts
    ]
    assert len(ours) >= 25
