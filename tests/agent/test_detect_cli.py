from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.cli import main

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
    assert main(["agent", "replay", *argv, "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("shieldwall: error: ")
    assert message in err
