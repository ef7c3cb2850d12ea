from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shieldwall.cli import agent_replay, main
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


def test_replay_table_of_a_storm_is_plain_columns(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Past RICH_ROWS offenders the table is plain aligned columns, every offender in it."""
    log = tmp_path / "storm.log"
    rows = [
        f"Mar  3 06:31:{i % 60:02d} web1 sshd[{i}]: Invalid user a from 203.0.{i // 250}.{i % 250 + 1} port 22"
        for i in range(agent_replay.RICH_ROWS + 1)
        for _ in range(5)
    ]  # fmt: skip
    log.write_text("\n".join(rows) + "\n")
    assert main(["agent", "replay", str(log), "--scenario", "ssh-bruteforce"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"offenders ({agent_replay.RICH_ROWS + 1} signals member 'replay' would send)"
    assert out[1].split() == ["offender", "scenario", "events", "first", "seen", "last", "seen",
                              "sample", "lines"]  # fmt: skip
    assert out[2].split()[:3] == ["203.0.0.1", "ssh-bruteforce", "5"]
    assert len(out) == 2 + agent_replay.RICH_ROWS + 1
    assert out[1].index("scenario") == out[2].index("ssh-bruteforce")  # aligned


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


def test_replay_of_scenarios_loads_neither_other_commands_nor_fail2ban() -> None:
    """``agent replay`` is a one-shot command: its start-up is part of its run time."""
    code = (
        "import sys; from shieldwall.cli import main; "
        f"main(['agent', 'replay', {str(DATA / 'auth.log')!r}, '--json']); "
        "print(' '.join(sorted(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(done.stderr.split())
    assert "shieldwall.cli.agent_replay" in loaded
    assert not loaded & {"shieldwall.cli.hub", "shieldwall.cli.exercise", "rich.console"}
    assert not loaded & {"shieldwall.cli.agent_run", "shieldwall.cli.agent_init", "logging"}
    assert not any(name.startswith("shieldwall.interop.fail2ban") for name in loaded)


def test_agent_help_lists_every_action_and_an_action_alone_loads_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["agent", "--help"])
    out = capsys.readouterr().out
    assert all(action in out for action in ("init", "run", "replay"))
    with pytest.raises(SystemExit):
        main(["agent", "replay", "--help"])
    assert "--fail2ban-filter" in capsys.readouterr().out
    assert "did you mean 'replay'" in refused(["agent", "repaly", "x.log"], capsys)


def test_the_command_leaves_at_once_with_all_its_output(tmp_path: Path) -> None:
    """``agent replay`` leaves without tearing its memory down: every line it wrote is
    out, through a pipe, and its exit code is kept (an error's too)."""
    log = tmp_path / "auth.log"
    log.write_bytes((DATA / "auth.log").read_bytes() * 40)
    run = [sys.executable, "-m", "shieldwall", "agent", "replay", str(log), "--json"]
    done = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    inline = subprocess.run(
        [sys.executable, "-c", "import sys; from shieldwall.cli import main; sys.exit(main())",
         *run[3:]],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.stdout == inline.stdout and len(rows(done.stdout)) > 1000
    missing = subprocess.run([*run[:5], str(tmp_path / "none.log")], capture_output=True, text=True)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_output_the_system_refuses_is_one_line() -> None:
    """A full disk under the output: one line saying so, exit 1, no traceback."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "shieldwall", "agent", "replay", str(DATA / "auth.log")],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "No space left on device" in done.stderr
