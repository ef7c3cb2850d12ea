"""Whole-chunk scans (``shieldwall.agent.detect.scan``) give what reading line by line gives.

A scenario may set ``scan`` only when its pattern can neither match a line break nor
look at its line's edges, and every match holds its finder's text: both are checked here
on every scenario that sets it. Then the engine with scans and the engine reading line by
line (``scan=False``) must agree on every input: offences, events, their order, hits.
"""

from __future__ import annotations

import importlib
import random
import re
import time
from pathlib import Path
from typing import Any

import pytest
from benchmarks import bench_detect, storm_log
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.agent.detect import SCENARIOS, DetectConfig, DetectionEngine
from shieldwall.agent.detect.engine import SYSLOG_SCAN
from shieldwall.agent.detect.finders import hit_lines
from shieldwall.agent.detect.scan import has_long_line
from shieldwall.agent.detect.scenarios import SyslogExtract
from shieldwall.agent.lines import replay_chunks

C: Any = importlib.import_module("re._constants")
P: Any = importlib.import_module("re._parser")
NOW = time.mktime((2024, 3, 10, 0, 0, 0, 0, 0, -1))
SCANNED = [
    pytest.param(name, id=name)
    for name, s in SCENARIOS.items()
    if isinstance(s.extract, SyslogExtract) and s.extract.scan
]
NEWLINE = 10
# character classes that never hold a line break
_SAFE_CATEGORIES = {C.CATEGORY_DIGIT, C.CATEGORY_WORD, C.CATEGORY_NOT_SPACE}


def _line_bound(items: Any, flags: int) -> list[str]:
    """What in a parsed pattern could match a line break or look past a line's edge."""
    bad: list[str] = []
    for op, av in items:
        if op is C.LITERAL:
            if av == NEWLINE:
                bad.append("a literal line break")
        elif op is C.NOT_LITERAL:
            if av != NEWLINE:
                bad.append("a negated literal (it matches a line break)")
        elif op is C.ANY:
            if flags & re.DOTALL:
                bad.append(". in DOTALL mode")
        elif op is C.IN:
            negated = any(o is C.NEGATE for o, _ in av)
            if negated:
                if (C.LITERAL, NEWLINE) not in av:
                    bad.append("a negated set without \\n")
            else:
                for o, a in av:
                    if o is C.LITERAL and a == NEWLINE:
                        bad.append("a set holding \\n")
                    elif o is C.RANGE and a[0] <= NEWLINE <= a[1]:
                        bad.append("a range holding \\n")
                    elif o is C.CATEGORY and a not in _SAFE_CATEGORIES:
                        bad.append(f"a category {a}")
        elif op is C.AT:
            bad.append(f"an anchor {av}")
        elif op in (C.ASSERT, C.ASSERT_NOT):
            if av[0] != 1:
                bad.append("a lookbehind")
            bad += _line_bound(av[1], flags)
        elif op is C.SUBPATTERN:
            bad += _line_bound(av[-1], flags)
        elif op is C.BRANCH:
            for alternative in av[1]:
                bad += _line_bound(alternative, flags)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
            bad += _line_bound(av[2], flags)
        elif op is C.ATOMIC_GROUP:
            bad += _line_bound(av, flags)
        elif op is C.GROUPREF_EXISTS:
            bad += _line_bound(av[1], flags)
            if av[2] is not None:
                bad += _line_bound(av[2], flags)
        elif op is not C.GROUPREF:  # a group's text: checked where the group is
            bad.append(f"an unchecked {op}")
    return bad


@pytest.mark.parametrize("name", SCANNED)
def test_scanned_pattern_stays_in_its_line(name: str) -> None:
    extract = SCENARIOS[name].extract
    assert isinstance(extract, SyslogExtract)
    parsed = P.parse(extract.pattern.pattern, extract.pattern.flags)
    assert _line_bound(parsed.data, parsed.state.flags) == []


@pytest.mark.parametrize("name", SCANNED)
def test_scanned_matches_hold_the_finders_text(name: str) -> None:
    """Every line the pattern matches in a varied log is a line the finder hits."""
    scenario = SCENARIOS[name]
    extract = scenario.extract
    assert isinstance(extract, SyslogExtract)
    data = _varied_log(2000, seed=3)
    keys: list[int] = []
    ends: dict[int, int] = {}
    hit_lines(scenario.finder, data, 0, keys, ends)
    found = set(ends)
    starts = {data.rfind(b"\n", 0, m.start()) + 1 for m in extract.pattern.finditer(data)}
    assert starts, "the log holds no line of this scenario: the check would prove nothing"
    assert starts <= found


def test_the_checker_refuses_what_could_leave_a_line() -> None:
    for pattern in (rb"a\sb", rb"a[^x]b", rb"^a", rb"a$", rb"\ba", rb"(?<=x)a", rb"(?s)a.b"):
        parsed = P.parse(pattern, 0)
        assert _line_bound(parsed.data, parsed.state.flags), pattern


@pytest.mark.parametrize(
    ("chunk", "long"),
    [
        pytest.param(b"", False, id="empty"),
        pytest.param(b"a" * SYSLOG_SCAN + b"\n", False, id="first-line-at-limit"),
        pytest.param(b"a" * (SYSLOG_SCAN + 1) + b"\n", True, id="first-line-over"),
        pytest.param(b"x\n" + b"a" * SYSLOG_SCAN + b"\nb\n", False, id="middle-at-limit"),
        pytest.param(b"x\n" + b"a" * (SYSLOG_SCAN + 1) + b"\nb\n", True, id="middle-over"),
        pytest.param(b"x\n" + b"a" * (SYSLOG_SCAN + 1), True, id="last-unterminated-over"),
        pytest.param(b"a" * (SYSLOG_SCAN + 1), True, id="one-unterminated-over"),
        pytest.param(b"short\n" * 1000, False, id="many-short"),
    ],
)
def test_has_long_line(chunk: bytes, long: bool) -> None:
    assert has_long_line(chunk, SYSLOG_SCAN) is long


def _longest_line(chunk: bytes) -> int:
    return max(map(len, chunk.split(b"\n")))


@settings(max_examples=500, deadline=None, database=None)
@given(
    st.lists(st.integers(0, 40), max_size=30).map(
        lambda sizes: b"\n".join(b"a" * n for n in sizes)
    ),
    st.integers(1, 12),
)
def test_long_lines_are_found_by_probes_as_by_reading_every_line(chunk: bytes, limit: int) -> None:
    # lines around the limit, with and without a final line break: the probes at the
    # multiples of the limit find a long line exactly when one exists
    assert has_long_line(chunk, limit) is (_longest_line(chunk) > limit)
    assert has_long_line(chunk + b"\n", limit) is (_longest_line(chunk) > limit)


def test_a_line_length_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="below 1"):
        has_long_line(b"a\n", 0)


def _varied_log(count: int, seed: int) -> bytes:
    """sshd and postfix lines, hits and near misses, with the awkward cases of a scan:
    two matches in one line, mapped IPv6, RFC 3339 stamps, stamps that repeat and change,
    short lines, carriage returns, long lines that match and long lines that do not."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        second = n // 7
        stamp = f"Mar 10 {second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        if rng.random() < 0.1:
            stamp = f"2024-03-10T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}+01:00"  # fmt: skip
        ip = rng.choice(["203.0.113.7", "203.0.113.8", "::ffff:198.51.100.4", "2001:db8::9"])
        if rng.random() < 0.3:
            ip = f"198.51.100.{rng.randint(1, 40)}"
        kind = rng.randrange(12)
        if kind == 0:
            row = f"{stamp} h sshd[{n}]: Failed password for root from {ip} port 22 ssh2"
        elif kind == 1:
            row = f"{stamp} h sshd[{n}]: Invalid user a b from {ip} port 22"
        elif kind == 2:  # two matches in one line: the first counts
            row = (
                f"{stamp} h sshd[{n}]: Invalid user x from {ip} port 1 sshd[2]: Failed password"
                f" for y from 192.0.2.{n % 200} port 2"
            )
        elif kind == 3:
            row = f"{stamp} h sshd[{n}]: Failed publickey for root from {ip} port 22 ssh2"
        elif kind == 4:
            row = f"{stamp} mx postfix/smtpd[{n}]: warning: unknown[{ip}]: SASL LOGIN authentication failed: x"  # fmt: skip
        elif kind == 5:
            row = f"{stamp} h sshd[{n}]: error: Failed password for invalid user z from {ip} port 22 ssh2\r"  # fmt: skip
        elif kind == 6:  # a long line that matches early
            row = f"{stamp} h sshd[{n}]: Failed password for q from {ip} port 22 " + "x" * 3000
        elif kind == 7:  # a long line that does not match
            row = f"{stamp} h sshd[{n}]: Failed password for " + "y" * 5000
        elif kind == 8:
            row = f"sshd[{n}]: Invalid user a from {ip} port 1"  # no stamp, a short line
        elif kind == 9:
            row = f"{stamp} h sshd[{n}]: Accepted publickey for deploy from {ip} port 22 ssh2"
        else:
            row = f"{stamp} h CRON[{n}]: pam_unix(cron:session): session opened for user root"
        rows.append(row)
    return ("\n".join(rows) + "\n").encode()


def _run(data: bytes, scan: bool, scenarios: list[str] | None, chunk_size: int) -> Any:
    config = DetectConfig() if scenarios is None else DetectConfig().only(scenarios)
    engine = DetectionEngine(config, record_events=True, scan=scan)
    offences = []
    pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    cut = b""
    for piece in pieces:  # whole lines only, as a source hands them over
        cut += piece
        whole = cut[: cut.rfind(b"\n") + 1]
        cut = cut[len(whole) :]
        if whole:
            offences.extend(engine.feed(whole, NOW))
    if cut:
        offences.extend(engine.feed(cut, NOW))
    return offences, engine.events, engine.hits, engine.lines


LOGS = {
    "varied": lambda: _varied_log(3000, seed=11),
    "storm-40pct": lambda: "\n".join(storm_log.lines(4000, 0.4, 5)).encode() + b"\n",
    "storm-80pct": lambda: "\n".join(storm_log.lines(4000, 0.8, 6)).encode() + b"\n",
}


@pytest.mark.parametrize("log", list(LOGS))
@pytest.mark.parametrize(
    "scenarios",
    [
        pytest.param(["ssh-bruteforce"], id="ssh-only"),
        pytest.param(["postfix-auth", "ssh-bruteforce"], id="two-scanned"),
        pytest.param(None, id="all-scenarios"),
    ],
)
@pytest.mark.parametrize("chunk_size", [1 << 20, 4096, 977], ids=lambda n: f"chunks-{n}")
def test_scan_gives_what_line_by_line_gives(
    log: str, scenarios: list[str] | None, chunk_size: int
) -> None:
    data = LOGS[log]()
    expected = _run(data, False, scenarios, chunk_size)
    assert expected[2] > 0
    assert _run(data, True, scenarios, chunk_size) == expected


def test_scan_on_the_mixed_benchmark_log(tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    bench_detect.generate(path, 20_000)
    data = b"".join(replay_chunks(path))
    expected = _run(data, False, None, 1 << 16)
    assert expected[0], "no offence: the comparison would prove little"
    assert _run(data, True, None, 1 << 16) == expected
