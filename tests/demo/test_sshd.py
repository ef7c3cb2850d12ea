"""The real sshd of ``shieldwall demo --nftables``: its log lines, its configuration, and
what the demo's summary says about the second member hit."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from shieldwall.agent.detect.engine import DetectionEngine
from shieldwall.demo.alliance import Member
from shieldwall.demo.sshd import SSHD, prepare, syslog_line
from shieldwall.demo.view import second_hit
from tests.conftest import require_root, require_tool

# what Debian's sshd writes on its standard error for one wrong password
SESSION = [
    'Connection from 203.0.113.5 port 40100 on 10.231.1.1 port 22 rdomain ""',
    "Invalid user admin from 203.0.113.5 port 40100",
    "Failed password for invalid user admin from 203.0.113.5 port 40100 ssh2",
    "Connection closed by invalid user admin 203.0.113.5 port 40100 [preauth]",
]


def test_sshd_lines_with_the_logger_s_header_are_what_the_agent_detects() -> None:
    lines = "".join(syslog_line(m, "member1", 4242) for m in SESSION * 3)
    assert lines.splitlines()[2].endswith(
        " member1 sshd[4242]: Failed password for invalid user admin from 203.0.113.5"
        " port 40100 ssh2"
    )
    offences = DetectionEngine().feed(lines.encode(), 0.0)
    # two ssh-bruteforce events per login: the fifth is in the third login
    assert [(o.scenario, o.source, o.events) for o in offences] == [
        ("ssh-bruteforce", "203.0.113.5", 5)
    ]


def test_the_configuration_is_one_sshd_accepts(tmp_path: Path) -> None:
    require_root()
    require_tool(SSHD)
    require_tool("ssh-keygen")
    config = prepare(tmp_path / "sshd", "10.231.1.1", 22)
    text = config.read_text()
    assert f"PidFile {tmp_path / 'sshd' / 'sshd.pid'}" in text and "UsePAM no" in text
    done = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def member(*events: dict[str, Any]) -> Member:
    return Member("member2", "192.0.2.12", Path("."), events=list(events))


IP = "203.0.113.66"


@pytest.mark.parametrize(
    ("events", "said"),
    [
        pytest.param(
            [{"event": "alerted", "target": IP, "t": 1.0},
             {"event": "detected", "target": IP, "events": 1, "t": 2.0}],
            "at its first attempt (on alert)", id="on-alert",
        ),
        pytest.param(
            [{"event": "detected", "target": IP, "events": 5, "t": 2.0},
             {"event": "alerted", "target": IP, "t": 3.0}],
            "at failed login 5 (no alert yet)", id="alert-too-late",
        ),
        pytest.param([{"event": "enforced", "target": IP, "t": 2.0}],
                     "never: the alliance's decision came first", id="decided-first"),
        pytest.param([], "never", id="never"),
    ],
)  # fmt: skip
def test_the_summary_says_when_the_second_member_stopped_it(
    events: list[dict[str, Any]], said: str
) -> None:
    assert second_hit(member(*events), IP) == said
