"""The fail2ban engine's shortcuts skip only work that cannot change a result.

* the first-character table: a failregex bound to the text start is tried only on
  texts whose first character its match can begin with (``dispatch``)
* the shared-piece scan: one ``bytes.find`` for literals that share a piece, each hit
  checked for a literal (``scan``)
* the prefilter's choice of literals: another required literal of a regex when the
  other regexes make it searched anyway (``prefilter``)
* the year placement of a year-less date, kept per ``now`` (``dates``)
* the connection-id cache: bounded, oldest out first (``mlfid``)
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shieldwall.interop.fail2ban.dates import DateDetector
from shieldwall.interop.fail2ban.dispatch import first_chars, rule_table
from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import load_filter
from shieldwall.interop.fail2ban.mlfid import MLFID_CACHE_SIZE, MLFID_CACHE_TTL, ConnectionIds
from shieldwall.interop.fail2ban.prefilter import build_prefilter, prefilter_literals
from shieldwall.interop.fail2ban.scan import (
    Scan,
    literal_line_ends,
    numbered_lines,
    regex_line_ends,
    scan_plan,
)
from tests.conftest import require_tool

FILTERS = Path("/etc/fail2ban/filter.d")
STOCK = sorted(p for p in FILTERS.glob("*.conf") if not p.name.endswith("common.conf"))
SSHD = FILTERS / "sshd.conf"
NOW = time.mktime((2024, 3, 10, 0, 0, 0, 0, 0, -1))

# -- the first-character table --------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        pytest.param(r"^Failed \S+ for", "F", id="literal"),
        pytest.param(r"^[iI](?:llegal|nvalid) user", "iI", id="class"),
        pytest.param(r"^[a-c]x", "abc", id="range"),
        pytest.param(r"^(?:a|b)?c", "abc", id="optional-group-then-literal"),
        pytest.param(r"^a*b", "ab", id="star-then-literal"),
        pytest.param(r"\Ax", "x", id="string-start"),
        pytest.param(r"^(?=y)x", "x", id="lookahead-is-zero-width"),
        pytest.param(r"^(?P<nofail>(?P<g>Accepted) \w+)", "A", id="nested-groups"),
        pytest.param(r"^(?>ab)c", "a", id="atomic-group"),
        pytest.param(r"^(a)?(?(1)b|c)", "abc", id="conditional-both-arms"),
        pytest.param(r"(?:^a|^b)c", "ab", id="every-branch-bound"),
        pytest.param(r"^a|b", None, id="one-branch-unbound"),
        pytest.param(r"failed from", None, id="unbound"),
        pytest.param(r"^a*", None, id="can-match-empty"),
        pytest.param(r"(?i)^failed", None, id="ignore-case"),
        pytest.param(r"^(?i:f)ailed", None, id="local-ignore-case"),
        pytest.param(r"(?m)^failed", None, id="multi-line"),
        pytest.param(r"^(?m:^f)", None, id="local-multi-line"),
        pytest.param(r"^\w+ failed", None, id="category"),
        pytest.param(r"^[^a]", None, id="negated-class"),
        pytest.param(r"^.x", None, id="any-character"),
        pytest.param(r"^(a)\1", "a", id="back-reference-after-a-literal"),
        pytest.param(r"^(?:(a)|b)\1", "ab", id="back-reference-later"),
        pytest.param(r"^(a)?\1x", None, id="back-reference-first"),
        pytest.param("^[\\x00-\\uffff]", None, id="wide-range"),
    ],
)
def test_first_chars(pattern: str, expected: str | None) -> None:
    assert first_chars(re.compile(pattern)) == (None if expected is None else frozenset(expected))


def _stock_anchored() -> Iterator[tuple[str, re.Pattern[str], frozenset[str]]]:
    for path in STOCK:
        for rule in load_filter(path).failregex:
            chars = first_chars(rule.regex)
            if chars is not None:
                yield f"{path.stem}#{rule.index + 1}", rule.regex, chars


def _starts_right(name: str, regex: re.Pattern[str], chars: frozenset[str]) -> Callable[[], None]:
    # The same texts every run: some that hypothesis writes from a stock regex made
    # `search` backtrack for minutes, which a test suite must never leave to chance.
    @settings(max_examples=10, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.from_regex(regex))
    def check(text: str) -> None:
        assert regex.search(text) is not None
        assert text[0] in chars, f"{name}: {text!r} starts outside {sorted(chars)}"

    return check


def test_every_stock_failregex_match_starts_with_one_of_its_first_chars() -> None:
    """Texts made to match each bound stock failregex (hypothesis writes them from the
    regex itself) start with a character the table files the regex under."""
    require_tool("fail2ban-regex")
    found = list(_stock_anchored())
    assert len(found) >= 100, f"only {len(found)} bound failregexes in {FILTERS}"
    for name, regex, chars in found:
        _starts_right(name, regex, chars)()


def test_rule_table_keeps_the_order_and_unbound_rules_everywhere() -> None:
    rules = ["a-or-b", "anywhere", "b", "c"]
    starts = [frozenset("ab"), None, frozenset("b"), frozenset("c")]
    table, other = rule_table(rules, starts)
    assert table == {
        "a": ("a-or-b", "anywhere"),
        "b": ("a-or-b", "anywhere", "b"),
        "c": ("anywhere", "c"),
    }
    assert other == ("anywhere",)


def test_a_line_is_tried_against_bound_and_unbound_failregexes(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text(
        "[Definition]\n"
        "failregex = ^login failed from <HOST>\n"
        "            denied for <HOST>\n"
        "            (?i)^LOGIN REFUSED for <HOST>\n"
        "            ^[lL]ocked out <HOST>\n"
    )
    definition = load_filter(conf)
    lines = [
        "login failed from 203.0.113.1",
        "user x denied for 203.0.113.2",
        "login refused for 203.0.113.3",
        "Locked out 203.0.113.4",
        "login denied for 203.0.113.5",
        "xlogin failed from 203.0.113.6",
    ]
    for check_all in (False, True):
        engine = FilterEngine(definition, check_all=check_all)
        results = engine.feed("\n".join(lines).encode() + b"\n", NOW)
        assert [(r.line, r.host) for r in results if r.matched] == [
            (1, "203.0.113.1"),
            (2, "203.0.113.2"),
            (3, "203.0.113.3"),
            (4, "203.0.113.4"),
            (5, "203.0.113.5"),
        ]


# -- the shared-piece scan ------------------------------------------------------------


def test_sshd_literals_are_found_with_fewer_scans() -> None:
    require_tool("fail2ban-regex")
    literals = load_filter(SSHD).prefilter_literals
    assert literals is not None
    plan = scan_plan(literals)
    assert len(plan) < len(literals)
    pieces = {scan.piece: {lit for lit, _ in scan.checks} for scan in plan}
    assert pieces[b" not allowed"] == {lit for lit in literals if b" not allowed" in lit}
    assert len(pieces[b" not allowed"]) == 7
    assert pieces[b"isconnect"] == {b"Disconnected", b"disconnect"}
    # no literal is lost: every one is a piece or checked under one
    assert set(literals) == {p for p, lits in pieces.items() if not lits}.union(*pieces.values())


@pytest.mark.parametrize(
    ("chunk", "scans", "ends"),
    [
        pytest.param(b"a Disconnecting b\nx\n", (Scan(b"isconnect", ((b"Disconnected", 1),)),),
                     [], id="piece-without-its-literal"),
        pytest.param(b"isconnect Disconnected\nx\n", (Scan(b"isconnect", ((b"Disconnected", 1),)),),
                     [22], id="literal-after-a-bare-piece-on-the-line"),
        pytest.param(b"isconnected\n", (Scan(b"isconnect", ((b"Disconnected", 1),)),),
                     [], id="piece-at-chunk-start-offset-before-it"),
        pytest.param(b"x\nfoo bar foo\nfoo", (Scan(b"foo"),), [13, 17], id="one-end-per-line"),
        pytest.param(b"ab\ncd\n", (Scan(b"cd"), Scan(b"ab")), [2, 5], id="in-line-order"),
        pytest.param(b"", (Scan(b"x"),), [], id="empty-chunk"),
    ],
)  # fmt: skip
def test_literal_line_ends(chunk: bytes, scans: tuple[Scan, ...], ends: list[int]) -> None:
    assert literal_line_ends(chunk, scans) == ends


def _naive_ends(chunk: bytes, literals: list[bytes]) -> list[int]:
    ends, start = [], 0
    for line in chunk.split(b"\n"):
        end = start + len(line)
        if any(lit in line for lit in literals):
            ends.append(end)
        start = end + 1
    return ends


_TEXT = st.lists(st.sampled_from([b"a", b"b", b"c", b" ", b"\n", b"\r"]), max_size=80).map(b"".join)  # fmt: skip
_LITERAL = st.lists(st.sampled_from([b"a", b"b", b"c", b" "]), min_size=1, max_size=6).map(b"".join)  # fmt: skip


@settings(max_examples=400, deadline=None, database=None)
@given(_TEXT, st.lists(_LITERAL, min_size=1, max_size=5), st.sampled_from([1, 2, 3, 9]))
def test_shared_piece_scan_finds_the_lines_of_one_scan_per_literal(
    chunk: bytes, literals: list[bytes], min_shared: int
) -> None:
    kept = [s for s in literals if not any(o != s and o in s for o in literals)]
    plan = scan_plan(tuple(kept), min_shared)
    assert literal_line_ends(chunk, plan) == _naive_ends(chunk, kept)


@settings(max_examples=300, deadline=None, database=None)
@given(_TEXT, st.data())
def test_numbered_lines_count_every_line_once(chunk: bytes, data: st.DataObject) -> None:
    lines = chunk.split(b"\n")
    starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
    every = [(s, s + len(line)) for s, line in zip(starts, lines, strict=True)]
    if chunk.endswith(b"\n") or not chunk:
        every.pop()  # the "line" after the last line break is none
    picked = sorted(data.draw(st.sets(st.sampled_from(range(len(every))))) if every else [])
    numbered, last = numbered_lines(chunk, [every[i][1] for i in picked], 40)
    assert numbered == [(41 + i, chunk[every[i][0] : every[i][1]], None) for i in picked]
    assert last == 40 + len(every)


def test_a_literal_ending_in_a_line_break_finds_each_line_as_fail2ban_does(
    tmp_path: Path,
) -> None:
    """Such a literal is searched by the prefilter regex; the line it starts on is the
    candidate (it once took the next line with it, which was then never read alone)."""
    tool = require_tool("fail2ban-regex")
    conf = tmp_path / "nl.conf"
    conf.write_text("[Definition]\nfailregex = ^foo <HOST> done\\n\n")
    log = tmp_path / "nl.log"
    log.write_bytes(b"foo 203.0.113.1 done\nfoo 203.0.113.2 done\nbar\n")
    definition = load_filter(conf)
    assert definition.prefilter_literals is None and definition.prefilter is not None
    assert regex_line_ends(log.read_bytes(), definition.prefilter) == [20, 41]
    engine = FilterEngine(definition)
    assert [(r.line, r.host) for r in engine.feed(log.read_bytes(), NOW)] == [
        (1, "203.0.113.1"),
        (2, "203.0.113.2"),
    ]
    assert (engine.lines, engine.candidates) == (3, 2)
    report = subprocess.run(
        [tool, str(log), str(conf)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert re.search(r"^Lines: 3 lines, 0 ignored, 2 matched, 1 missed", report, re.M), report


# -- the prefilter's choice of literals -----------------------------------------------

AUTH_FAIL = [
    r"^Got (?P<x>disconnect) from (?P<ip4>\S+): Auth fail",
    r"^(?P<y>Got (?P<z>disconnect)) from (?P<ip4>\S+) 11",
]


def test_a_regex_takes_a_literal_the_others_search_anyway(tmp_path: Path) -> None:
    # the first regex's best literal is ": Auth fail", but it needs "disconnect" too,
    # which the second one is found by: one scan instead of two
    assert prefilter_literals(AUTH_FAIL) == (b"disconnect",)
    assert build_prefilter(AUTH_FAIL).pattern == b"disconnect"  # type: ignore[union-attr]
    conf = tmp_path / "f.conf"
    conf.write_text("[Definition]\nfailregex = " + "\n    ".join(AUTH_FAIL) + "\n")
    definition = load_filter(conf)
    chunk = (
        b"Got disconnect from 203.0.113.1: Auth fail\n"
        b"x: Auth fail\n"
        b"Got disconnect from 203.0.113.2 11\n"
    )
    every_line = dataclasses.replace(definition, prefilter=None, prefilter_literals=None)
    runs = []
    for each in (definition, every_line):
        engine = FilterEngine(each)
        runs.append(([(r.line, r.host) for r in engine.feed(chunk, NOW)], engine.candidates))
    assert runs == [([(1, "203.0.113.1"), (3, "203.0.113.2")], 2), ([(1, "203.0.113.1"), (3, "203.0.113.2")], 3)]  # fmt: skip


# -- dates ------------------------------------------------------------------------------


def test_a_new_local_zone_places_year_less_dates_anew(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 00:30 UTC on 1 January 2024 it is 2024 at UTC+2 but still 2023 at UTC-2: a
    detector that placed the line before the zone changed places it as a fresh one."""
    line = "Jan  1 00:10:00 web1 sshd[1]: x"
    now = 1704067200.0 + 1800  # 2024-01-01 00:30 UTC
    reused = DateDetector()
    try:
        monkeypatch.setenv("TZ", "XST-2")
        time.tzset()
        first = reused.find(line, now)
        monkeypatch.setenv("TZ", "YST2")
        time.tzset()
        again, fresh = reused.find(line, now), DateDetector().find(line, now)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert first is not None and again is not None and fresh is not None
    assert first.time == 1704067200.0 - 6600  # 2024-01-01 00:10 at UTC+2
    assert again.time == fresh.time == 1672531200.0 + 7800  # 2023-01-01 00:10 at UTC-2


# -- connection ids ---------------------------------------------------------------------


def _groups(host: str | None = None) -> dict[str, str | None]:
    return {"mlfid": "x", "ip4": host, "user": "root"}


def test_connection_ids_are_bounded_and_the_oldest_leaves_first() -> None:
    ids = ConnectionIds()
    for n in range(MLFID_CACHE_SIZE + 50):
        ids.merge(f"id{n}", _groups(f"203.0.113.{n % 250}"), n, 1000.0)
    assert len(ids) == MLFID_CACHE_SIZE
    assert ids.merge("id149", _groups(), 200, 1000.0)["ip4"] == "203.0.113.149"  # kept
    assert ids.merge("id0", _groups(), 201, 1000.0)["ip4"] is None  # gone: the oldest


def test_a_connection_id_older_than_its_time_to_live_is_forgotten() -> None:
    ids = ConnectionIds()
    ids.merge("id", _groups("203.0.113.9"), 1, 1000.0)
    assert ids.merge("id", _groups(), 2, 1000.0 + MLFID_CACHE_TTL)["ip4"] == "203.0.113.9"
    assert ids.merge("id", _groups(), 3, 1000.0 + MLFID_CACHE_TTL + 1)["ip4"] is None
