"""Alert storms: our fail2ban engine against the real ``fail2ban-regex`` on sshd logs
where 10%, 40% and 80% of the lines are attacks (the benchmark's storm logs, several
seeds): the same matched lines, and the same host text for each failure."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from benchmarks import storm_log

from shieldwall.agent.detect.fail2ban import FilterDetector, FilterRule, Match
from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import load_filter
from tests.conftest import require_tool

SSHD = Path("/etc/fail2ban/filter.d/sshd.conf")
LINES = 3000

STORMS = [
    pytest.param(share, seed, id=f"{round(share * 100)}pct-seed{seed}")
    for share in (0.1, 0.4, 0.8)
    for seed in (1, 7)
]


def _fail2ban(tool: str, log: Path) -> tuple[list[str], list[str]]:
    """(matched line texts in fail2ban-regex's default mode, host text per failure in
    its first-match mode) as fail2ban-regex prints them."""
    report = subprocess.run(
        [tool, "--print-all-matched", str(log), str(SSHD)],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    section = report.split("Matched line(s):", 1)[1].split("`-", 1)[0]
    matched = [m.group(1) for m in re.finditer(r"^\|  (.*)$", section, re.M)]
    hosts = subprocess.run(
        [tool, "-o", "ip", str(log), str(SSHD)],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout.split()  # fmt: skip
    return matched, hosts


@pytest.mark.parametrize(("share", "seed"), STORMS)
def test_storm_agrees_with_fail2ban_regex(share: float, seed: int, tmp_path: Path) -> None:
    tool = require_tool("fail2ban-regex")
    if not SSHD.is_file():
        pytest.fail(f"{SSHD} missing although fail2ban-regex is installed")
    log = tmp_path / "storm.log"
    storm_log.generate(log, LINES, share, seed)
    expected_lines, expected_hosts = _fail2ban(tool, log)
    lines = log.read_text().splitlines()
    data = log.read_bytes()
    now = time.time()
    definition = load_filter(SSHD)
    every = FilterEngine(definition, check_all=True).feed(data, now)
    assert [lines[r.line - 1] for r in every if r.matched] == expected_lines
    # the daemon's first-match mode, fed in small chunks as the agent reads a log
    engine = FilterEngine(definition)
    first = [r for i in range(0, len(lines), 97) for r in engine.feed(_chunk(lines, i, 97), now)]
    assert [r.host for r in first if r.matched and r.host] == expected_hosts
    # the detector counts exactly those hosts, as written in the log
    matches: list[Match] = []
    FilterDetector(FilterRule("fail2ban-sshd", definition)).feed(data, now, matches)
    assert [m.host for m in matches] == expected_hosts
    # the storm is the storm asked for: about ``share`` of its lines are failures
    assert abs(len(expected_lines) / LINES - share) < 0.05


def _chunk(lines: list[str], start: int, size: int) -> bytes:
    return ("\n".join(lines[start : start + size]) + "\n").encode()
