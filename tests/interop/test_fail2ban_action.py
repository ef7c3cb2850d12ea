"""The fail2ban action file, read by fail2ban's own configuration reader."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shieldwall.cli import main
from shieldwall.interop.fail2ban_action import action_text
from tests.conftest import require_tool

FAIL2BAN_PATH = "/usr/lib/python3/dist-packages"

# Runs under the system Python that fail2ban is installed for.
READER = r"""
import json, sys
sys.path.insert(0, sys.argv[2])
from fail2ban.client.actionreader import ActionReader
from fail2ban.server.action import CommandAction
reader = ActionReader("shieldwall", "sshd", json.loads(sys.argv[3]), basedir=sys.argv[1])
if not reader.read():
    sys.exit("action file not found or unreadable")
reader.getOptions({})
stream = reader.convert()
opts = {}
for row in stream:
    if row[0] == "multi-set" and row[2] == "action":
        opts.update(dict(row[4]))
ban = CommandAction.replaceTag(opts["actionban"], {"ip": "203.0.113.9", "failures": 7})
print(json.dumps({"ban": ban, "unban": opts.get("actionunban", "")}))
"""


def _read_with_fail2ban(tmp_path: Path, init: dict[str, str]) -> dict[str, str]:
    require_tool("fail2ban-client")
    if not Path(FAIL2BAN_PATH, "fail2ban").is_dir():
        pytest.fail(f"fail2ban-client is installed but its package is not in {FAIL2BAN_PATH}")
    (tmp_path / "action.d").mkdir()
    assert main(["feeds", "fail2ban-action", "--install", str(tmp_path)]) == 0
    r = subprocess.run(
        ["/usr/bin/python3", "-c", READER, str(tmp_path), FAIL2BAN_PATH, json.dumps(init)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_fail2ban_reads_the_action_and_builds_the_report_command(tmp_path) -> None:
    init = {
        "hub": "https://hub.example:8470",
        "member": "web1",
        "keyfile": "/etc/shieldwall/web1.key",
        "name": "sshd",
        "shieldwall": "/usr/local/bin/shieldwall",
    }
    out = _read_with_fail2ban(tmp_path, init)
    assert out["ban"] == (
        'if [ "7" -gt 0 ]; then /usr/local/bin/shieldwall report --hub "https://hub.example:8470" '
        '--name "web1" --key "/etc/shieldwall/web1.key" --events 7 "203.0.113.9" '
        '"fail2ban-sshd"; fi'
    )
    assert out["unban"] == ""


def test_the_report_command_parses_with_our_cli(tmp_path, monkeypatch) -> None:
    """The command fail2ban runs is one `shieldwall report` accepts."""
    import shlex

    out = _read_with_fail2ban(tmp_path, {"name": "sshd"})
    command = out["ban"].split("; then ", 1)[1].removesuffix("; fi")
    argv = shlex.split(command)
    assert argv[:2] == ["shieldwall", "report"]
    from shieldwall.cli import build_parser

    args = build_parser().parse_args(argv[1:])
    assert (args.attacker, args.scenario, args.events, args.name) == (
        "203.0.113.9",
        "fail2ban-sshd",
        7,
        "member",
    )


def test_action_text_is_the_shipped_file() -> None:
    assert "then <shieldwall> report" in action_text()


def test_install_into_a_missing_directory_is_explained(tmp_path, capsys) -> None:
    assert main(["feeds", "fail2ban-action", "--install", str(tmp_path / "none")]) == 2
    assert "is not a directory: give fail2ban's configuration directory" in capsys.readouterr().err


def test_fail2ban_script_runs_against_a_fake_client(tmp_path, decide) -> None:
    """The enforcement script calls fail2ban-client with the jail and the targets."""
    from shieldwall.interop import feeds

    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls"
    fake = bindir / "fail2ban-client"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    script = tmp_path / "sync.sh"
    script.write_text(
        feeds.render(
            "fail2ban",
            [decide(1, "203.0.113.9"), decide(2, "198.51.100.0/24")],
            feeds.FeedOptions(jail="sshd"),
        )
    )
    env = {"PATH": f"{bindir}:/usr/bin:/bin"}
    r = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert log.read_text() == "set sshd banip 198.51.100.0/24 203.0.113.9\n"
