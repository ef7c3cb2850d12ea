"""Dates of fail2ban filters: the per-text cache gives what parsing each line gives."""

from __future__ import annotations

import calendar
import dataclasses
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldwall.interop.fail2ban.dates import DATE_CACHE_SIZE, DateDetector
from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import load_filter
from shieldwall.interop.fail2ban.prefilter import build_prefilter, prefilter_literals


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC+2 (a POSIX TZ string: no zone database needed)."""
    monkeypatch.setenv("TZ", "XST-2")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def local(*fields: int) -> float:
    return time.mktime((*fields, 0, 0, -1))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "now", "expected"),
    [
        pytest.param("Mar  3 06:31:12 web1 sshd[1]: x", (2024, 3, 10, 0, 0, 0),
                     (2024, 3, 3, 6, 31, 12, 0), id="syslog-this-year"),
        pytest.param("Dec 31 23:59:50 web1 sshd[1]: x", (2024, 1, 1, 0, 0, 10),
                     (2023, 12, 31, 23, 59, 50, 0), id="syslog-new-year-is-last-year"),
        pytest.param("Dec 31 23:59:50 web1 sshd[1]: x", (2024, 12, 31, 23, 59, 55),
                     (2024, 12, 31, 23, 59, 50, 0), id="syslog-same-day"),
        pytest.param("2024-03-03 06:31:12.250 web1 app: x", (2024, 3, 10, 0, 0, 0),
                     (2024, 3, 3, 6, 31, 12, 0), id="iso-local-fraction-dropped-as-fail2ban-does"),
    ],
)  # fmt: skip
def test_local_stamps_twice_and_uncached_agree(
    local_zone: None, line: str, now: tuple[int, ...], expected: tuple[int, ...]
) -> None:
    at = local(*now)
    want = local(*expected[:6]) + expected[6] / 1000
    cached = DateDetector()
    first, second = cached.find(line, at), cached.find(line, at)
    fresh = DateDetector().find(line, at)
    assert first is not None and second is not None and fresh is not None
    assert first.time == second.time == fresh.time == want
    assert (first.start, first.end) == (second.start, second.end) == (fresh.start, fresh.end)


def test_cached_year_less_stamp_follows_now_across_new_year(local_zone: None) -> None:
    detector = DateDetector()
    line = "Dec 31 23:59:50 web1 sshd[1]: x"
    stamps = [
        detector.find(line, local(*now)) for now in [(2024, 1, 1, 0, 0, 10), (2024, 12, 31, 23, 59, 55), (2025, 1, 1, 0, 0, 5)]
    ]  # fmt: skip
    assert [m.time if m else None for m in stamps] == [
        local(2023, 12, 31, 23, 59, 50),
        local(2024, 12, 31, 23, 59, 50),
        local(2024, 12, 31, 23, 59, 50),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("2024-03-03T06:31:12+02:00 web1 app: x",
                     calendar.timegm((2024, 3, 3, 4, 31, 12)), id="iso-plus-two"),
        pytest.param("2024-03-03T06:31:12Z web1 app: x",
                     calendar.timegm((2024, 3, 3, 6, 31, 12)), id="iso-utc"),
        pytest.param('203.0.113.5 - - [03/Mar/2024:06:31:12 -0500] "GET / HTTP/1.1" 404 1',
                     calendar.timegm((2024, 3, 3, 11, 31, 12)), id="nginx-minus-five"),
        pytest.param("[1709447472.500] app: x", 1709447472.5, id="epoch"),
    ],
)  # fmt: skip
def test_stamps_with_zone_do_not_depend_on_local_time(
    local_zone: None, line: str, expected: float
) -> None:
    detector = DateDetector()
    now = local(2024, 3, 10, 0, 0, 0)
    assert [detector.find(line, now).time for _ in range(2)] == [expected, expected]  # type: ignore[union-attr]


def test_changed_local_zone_is_not_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    detector = DateDetector()
    line = "2024-03-03 06:31:12 web1 app: x"
    try:
        times = []
        for zone in ("UTC0", "XST-2"):
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            times.append(detector.find(line, 1.8e9).time)  # type: ignore[union-attr]
    finally:
        monkeypatch.undo()
        time.tzset()
    base = calendar.timegm((2024, 3, 3, 6, 31, 12))
    assert times == [base, base - 7200]


def test_cache_is_bounded_and_still_right(local_zone: None) -> None:
    detector = DateDetector()
    now = local(2024, 3, 10, 0, 0, 0)
    count = DATE_CACHE_SIZE * 2 + 7
    for second in range(count):
        hh, mm, ss = second // 3600, second // 60 % 60, second % 60
        found = detector.find(f"Mar  3 {hh:02d}:{mm:02d}:{ss:02d} web1 sshd[1]: x", now)
        assert found is not None and found.time == local(2024, 3, 3, hh, mm, ss)
    assert max(len(cache) for cache in detector._caches) <= DATE_CACHE_SIZE


def test_unparseable_date_is_cached_as_no_time() -> None:
    detector = DateDetector()
    line = "2024-02-31 06:31:12 web1 app: x"  # the template matches; February has no 31st
    found = [detector.find(line, 1.8e9) for _ in range(2)]
    assert [(m.start, m.end, m.time) if m else None for m in found] == [(0, 19, None)] * 2


def test_month_names_are_real_ones() -> None:
    line = '203.0.113.5 - - [03/Foo/2024:06:31:12 +0000] "GET / HTTP/1.1" 404 1'
    assert DateDetector().find(line, 1.8e9) is None


PATTERNS = [
    "Failed (?:password|publickey) for \\S+ from (?P<ip4>\\S+)",
    "Failed password for invalid user \\S+ from (?P<ip4>\\S+)",
    "Connection from (?P<ip4>\\S+)",
    "\\S+ not allowed because listed in DenyUsers from (?P<ip4>\\S+)",
]


def test_prefilter_literals_drop_longer_ones_that_hold_a_shorter_one() -> None:
    assert prefilter_literals(PATTERNS) == (
        b" not allowed because listed in DenyUsers from ",
        b"Connection from ",
        b"Failed p",  # the regex parser makes "Failed p(?:assword|ublickey)" of the branch
    )
    assert prefilter_literals(["(?i)^failed for (?P<ip4>\\S+)"]) is None
    assert prefilter_literals(["^(?P<ip4>\\S+) failed", "^x(?P<ip4>\\S+)"]) is None


def test_literal_scan_finds_the_lines_the_prefilter_regex_finds(tmp_path: Path) -> None:
    conf = tmp_path / "f.conf"
    conf.write_text("[Definition]\nfailregex = " + "\n    ".join(PATTERNS) + "\n")
    definition = load_filter(conf)
    assert definition.prefilter_literals == prefilter_literals(PATTERNS)
    assert definition.prefilter is not None
    assert definition.prefilter.pattern == build_prefilter(PATTERNS).pattern  # type: ignore[union-attr]
    by_regex = dataclasses.replace(definition, prefilter_literals=None)
    chunk = (
        b"Mar  3 06:31:12 Failed password for root from 203.0.113.1\n"
        b"Mar  3 06:31:12 nothing here\n"
        b"\n"
        b"Mar  3 06:31:13 Connection from 203.0.113.2 Failed again\n"
        b"Mar  3 06:31:13 Failed Failed Connection from 203.0.113.3\n"
        b"Mar  3 06:31:14 bob not allowed because listed in DenyUsers from 203.0.113.4\r\n"
        b"Mar  3 06:31:15 Failed password for invalid user x from 203.0.113.5"
    )
    now = 1.8e9
    runs = []
    for engine in (FilterEngine(definition), FilterEngine(by_regex)):
        results = engine.feed(chunk, now) + engine.feed(chunk, now)
        runs.append(([(r.line, r.host, r.time) for r in results], engine.candidates, engine.lines))
    assert runs[0] == runs[1]
    assert [(line, host) for line, host, _ in runs[0][0]] == [
        (1, "203.0.113.1"),
        (4, "203.0.113.2"),
        (5, "203.0.113.3"),
        (6, "203.0.113.4"),
        (7, "203.0.113.5"),
        (8, "203.0.113.1"),
        (11, "203.0.113.2"),
        (12, "203.0.113.3"),
        (13, "203.0.113.4"),
        (14, "203.0.113.5"),
    ]
    assert runs[0][1:] == (10, 14)


def utc(*fields: int) -> float:
    return float(calendar.timegm(fields))


@pytest.mark.parametrize(
    ("pattern", "line", "span", "expected"),
    [
        pytest.param("%ExY-%Exm-%Exd %ExH:%ExM:%ExS %ExZ", "2024-03-03 06:31:12 CET x", (0, 23),
                     utc(2024, 3, 3, 5, 31, 12), id="exact-fields-and-zone-name"),
        pytest.param("%ExY-%Exm-%Exd %ExH:%ExM:%ExS %Exz", "2024-03-03 06:31:12 CET+0100 x",
                     (0, 28), utc(2024, 3, 3, 4, 31, 12), id="zone-name-plus-offset"),
        pytest.param("%ExY-%m-%d %H:%M:%S %z", "1999-03-03 06:31:12 +0000 x", None, None,
                     id="ExY-only-this-century"),
        pytest.param("^%Exd/%Exm/%Exy %Exk:%M:%S", "03/03/24  6:31:12 x", (0, 17),
                     utc(2024, 3, 3, 6, 31, 12), id="two-digit-year-and-padded-hour"),
        pytest.param("^%Exd/%Exm", "3/3 x", None, None, id="Exd-needs-two-digits"),
        pytest.param("^%b-%d-%Exy %H:%M:%S", "Mar-03-24 06:31:12 assp", (0, 18),
                     utc(2024, 3, 3, 6, 31, 12), id="assp"),
        pytest.param("^L %d/%m/%Y - %H:%M:%S", "L 03/03/2024 - 06:31:12: x", (0, 23),
                     utc(2024, 3, 3, 6, 31, 12), id="own-prefix-outside-the-group-is-cut"),
        pytest.param("^\\[(%d/%b/%Y %H:%M:%S)\\]", "[03/Mar/2024 06:31:12] x", (1, 21),
                     utc(2024, 3, 3, 6, 31, 12), id="own-group-only-is-cut"),
        pytest.param("^[^\\[]*\\[({DATE})", '1.2.3.4 - - [03/Mar/2024:06:31:12 +0100] "GET /"',
                     (13, 39), utc(2024, 3, 3, 5, 31, 12), id="DATE-inside-brackets"),
        pytest.param("{^LN-BEG}%H:%M:%S", "  06:31:12 x", (2, 10), None, id="LN-BEG-skips-2-chars"),
        pytest.param("%H:%M:%S", "x06:31:12", None, None, id="word-boundary"),
        pytest.param("**%H:%M:%S", "x06:31:12", (1, 9), None, id="stars-unbind"),
        pytest.param("^I\\(()**", "I(<0.1.0>) x", (2, 2), None, id="empty-group-means-no-date"),
        pytest.param("{^LN-BEG}EPOCH", "[1709447472] x", (1, 11), 1709447472.0, id="epoch-square"),
        pytest.param("LEPOCH", "1709447472123 x", (0, 13), 1709447472.123, id="long-epoch-ms"),
        pytest.param("{^LN-BEG}TAI64N", "@4000000065e4331a2ef02e94 x", (0, 25), 1709454106.0,
                     id="tai64n"),
    ],
)  # fmt: skip
def test_datepattern_codes_and_bounds_as_fail2ban(
    monkeypatch: pytest.MonkeyPatch,
    pattern: str,
    line: str,
    span: tuple[int, int] | None,
    expected: float | None,
) -> None:
    monkeypatch.setenv("TZ", "UTC0")
    time.tzset()
    try:
        found = DateDetector(pattern).find(line, utc(2024, 3, 10, 0, 0, 0))
    finally:
        monkeypatch.undo()
        time.tzset()
    if span is None:
        assert found is None
        return
    assert found is not None and (found.start, found.end) == span
    if expected is not None or span[0] == span[1]:
        assert found.time == pytest.approx(expected) if expected is not None else found.time is None


def test_time_of_day_alone_is_today_or_yesterday(local_zone: None) -> None:
    detector = DateDetector("{^LN-BEG}%H:%M:%S")
    now = local(2024, 3, 10, 12, 0, 0)
    assert detector.find("06:31:12 x", now).time == local(2024, 3, 10, 6, 31, 12)  # type: ignore[union-attr]
    assert detector.find("23:31:12 x", now).time == local(2024, 3, 9, 23, 31, 12)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        pytest.param("%Q", "uses %Q, which is not supported"),
        pytest.param("%ExQ", "uses %ExQ, which is not supported"),
        pytest.param("%H:%M 50%", "uses %, which is not supported"),
        pytest.param("%H:%M:%S\n%H:%M:%S", "lists '%H:%M:%S' twice"),
        pytest.param("(%H", "is not a valid regular expression"),
    ],
)
def test_bad_datepatterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        DateDetector(pattern, "f.conf:3")
