"""Our fail2ban engine against the real ``fail2ban-regex`` on the same log and filter."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import time
from pathlib import Path

import pytest

from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import load_filter
from tests.conftest import require_tool

LOG = Path(__file__).parents[1] / "agent" / "data" / "auth.log"
SSHD = Path("/etc/fail2ban/filter.d/sshd.conf")


def _norm(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _fail2ban(tool: str, *options: str) -> tuple[list[str], list[str]]:
    """(matched line texts, host per failure) as fail2ban-regex prints them."""
    report = subprocess.run(
        [tool, "--print-all-matched", *options, str(LOG), str(SSHD)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    section = report.split("Matched line(s):", 1)[1].split("`-", 1)[0]
    matched = [m.group(1) for m in re.finditer(r"^\|  (.*)$", section, re.M)]
    hosts = subprocess.run(
        [tool, "-o", "ip", *options, str(LOG), str(SSHD)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()  # fmt: skip
    return matched, [_norm(h) for h in hosts]


@pytest.mark.parametrize(
    ("check_all", "options"),
    [
        pytest.param(True, (), id="fail2ban-regex-default"),
        pytest.param(False, ("--no-check-all",), id="daemon-first-match"),
    ],
)
def test_sshd_filter_agrees_with_fail2ban_regex(check_all: bool, options: tuple[str, ...]) -> None:
    tool = require_tool("fail2ban-regex")
    if not SSHD.is_file():
        pytest.fail(f"{SSHD} missing although fail2ban-regex is installed")
    expected_lines, expected_hosts = _fail2ban(tool, *options)
    lines = LOG.read_text().splitlines()
    engine = FilterEngine(load_filter(SSHD), check_all=check_all)
    results = [r for r in engine.feed(LOG.read_bytes(), time.time()) if r.matched]
    assert [lines[r.line - 1] for r in results] == expected_lines
    # fail2ban-regex -o always runs first-match (it turns check-all off): so do we here
    first_match = FilterEngine(load_filter(SSHD)).feed(LOG.read_bytes(), time.time())
    ours = [_norm(r.host) for r in first_match if r.matched and r.host]
    assert ours == expected_hosts
    assert len(expected_lines) >= 25  # the sample exercises most of the filter


def test_prefilter_skips_lines_without_literals() -> None:
    definition = load_filter(SSHD) if SSHD.is_file() else None
    if definition is None:
        require_tool("fail2ban-regex")
        pytest.fail(f"{SSHD} missing")
    engine = FilterEngine(definition)
    noise = b"Mar  3 06:25:01 web1 CRON[1]: pam_unix(cron:session): session opened\n" * 1000
    attack = (
        b"Mar  3 06:31:14 web1 sshd[9]: Failed password for root from 203.0.113.5 port 1 ssh2\n"
    )
    results = engine.feed(noise + attack, time.time())
    assert [(r.line, r.host) for r in results] == [(1001, "203.0.113.5")]
    assert engine.candidates == 1
