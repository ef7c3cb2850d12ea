"""Finding, reading and removing the timestamp of a log line, as fail2ban's date detector does.

fail2ban cuts the matched date out of the line before its regexes run; a filter that
matches the lines fail2ban matches must cut exactly the same text. The templates (what
a ``datepattern`` means) are in :mod:`.datetemplates`; this module picks the template
that finds the date in a line and turns its text into a time, with fail2ban's rules:
a year-less date is this year's unless that is more than a day ahead; a date without a
day is today's (yesterday's if that is ahead); no zone means the server's local time;
fractions of a second are dropped, except in epoch stamps.
"""

from __future__ import annotations

import calendar
import datetime
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from shieldwall.interop.fail2ban.datetemplates import (
    DAY_NAMES,
    DIRECTIVES,
    MONTH_NAMES,
    DatePatternError,
    Kind,
    Template,
    templates_for,
)
from shieldwall.interop.fail2ban.zones import zone_offset

DATE_CACHE_SIZE = 1024  # distinct date texts remembered per template
HEADS_SIZE = 256  # syslog line heads remembered (see SYSLOG_HEAD)

# fail2ban's default syslog template (``{^LN-BEG}(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?``)
# as it compiles, the year codes aside (they change with the year).
SYSLOG_PATTERN = (
    r"(?iu)^(?:\W{0,2})?((?:(?P<a>mon|tue|wed|thu|fri|sat|sun) )?"
    r"(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) (?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])"
    r"  ?(?P<H>[0-2]?\d):(?P<M>[0-5]?\d):(?P<S>[0-5]?\d|6[0-1])(?:\.(?P<f>[0-9]{1,6}))?"
    r"(?: {year})?)(?=\b|\W|$)"
)
# The first 17 characters of a line whose date that template finds at 0 to 15 by
# reading those 17 characters only. Step by step: the first character is a letter, so
# ``\W{0,2}`` takes none; no day name is a month name, so ``%a`` fails within the first
# three; the month is one of ``%b`` (case aside) and is followed by a space; the day,
# " 1" to " 9", "01" to "09", "10" to "29", "30" or "31", takes the 2 characters up to
# the next space (``30``/``31`` by the third alternative after the first two fail
# within it), whose optional second space is not there; hour, minute and second take
# two digits each (every one within its ``[0-2]?``/``[0-5]?`` first digit); the
# fraction needs a ``.``, not the space at 15; the year needs a digit at 16 (every
# ``%ExY`` starts with one), which is not there; the look-ahead finds a word boundary
# between the last digit and the space. So every line with this head has its date at
# 0 to 15, the same text, the same time, and the search read nothing past 16.
SYSLOG_HEAD = re.compile(
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?: [1-9]|0[1-9]|[12][0-9]|3[01]) "
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [^0-9]"
)
_YEAR_STARTS_WITH_DIGIT = re.compile(r"\(\?P<Y>\(\?:[0-9]{3}(?:\|[0-9]{3})*\)\\d\)")

_MONTH = {name: i for i, name in enumerate(MONTH_NAMES, 1)}
_MONTH.update({name[:3]: i for i, name in enumerate(MONTH_NAMES, 1)})
_WEEKDAY = {name: i for i, name in enumerate(DAY_NAMES)}
_WEEKDAY.update({name[:3]: i for i, name in enumerate(DAY_NAMES)})


# A template as the per-line path reads it: its search, the group of the date text,
# whether it is line-bound, and its cache of date texts.
_Fast = tuple[Callable[[str], "re.Match[str] | None"], int, bool, "dict[str, _Parsed]"]


@dataclass(frozen=True, slots=True)
class DateMatch:
    start: int
    end: int
    time: float | None  # None: no date text (an empty match) or one that is no valid date


class DateDetector:
    """Locates the date in a line; ``now`` places dates without a year or a day."""

    def __init__(self, pattern: str | None = None, where: str = "<datepattern>") -> None:
        try:
            self.templates = templates_for(pattern)
        except DatePatternError as exc:
            raise ValueError(f"{where}: {exc}") from None
        # Per template: date text -> its meaning. Lines of one second share one text, so a
        # stamp is parsed (and mktime run) once; bounded: cleared when it is full.
        self._caches: list[dict[str, _Parsed]] = [{} for _ in self.templates]
        self._last = -1  # index of the template that found the last date
        self._last_start = -1
        # that template as each line reads it (None: no date found yet)
        self._fast: _Fast | None = None
        self._tzname = time.tzname
        self._now = float("nan")
        self._now_year = 0
        # The index of fail2ban's syslog template when it is this year's (see SYSLOG_HEAD),
        # and what the lines of each head found while it was the last template.
        self._syslog = _syslog_index(self.templates)
        self._heads: dict[str, tuple[int, int, float | None]] = {}
        self._heads_for = float("nan")
        self._heads_zone = time.tzname
        # how many times another template took over: heads read before one did may
        # not hold after it (a caller reading many heads at once checks this)
        self.takeovers = 0

    def find(self, line: str, now: float) -> DateMatch | None:
        found = self.locate(line, now)
        return None if found is None else DateMatch(*found)

    def locate(self, line: str, now: float) -> tuple[int, int, float | None] | None:
        """:meth:`find` as a plain ``(start, end, time)``: what the engine asks per line.

        While the syslog template is the last one that found a date, a line whose first
        17 characters are a head (:data:`SYSLOG_HEAD`) seen before for this ``now``
        takes what that head found, without a search: the search would read only those
        characters."""
        if self._last == self._syslog:
            head = line[:17]
            heads = self.heads(now)
            found = heads.get(head)
            if found is not None:
                return found
            if SYSLOG_HEAD.fullmatch(head) is not None:
                # The template's fields are at fixed places in such a head (see there):
                # read without its search, as the search would have read them.
                self._follow_zone()
                parsed = _syslog_fields(head)
                found = 0, 15, self._time(parsed, now)
                if len(heads) >= HEADS_SIZE:
                    heads.clear()
                heads[head] = found
                return found
        return self._search(line, now)

    def heads(self, now: float) -> dict[str, tuple[int, int, float | None]]:
        """Line head (its first 17 characters) -> what :meth:`locate` finds in a line
        with it, for ``now``: a caller may look a line up here before asking
        :meth:`locate`. It holds only heads of the syslog template, and is emptied when
        another template takes over, the zone changes or ``now`` is another."""
        if self._heads_for != now or self._heads_zone is not time.tzname:
            self._heads.clear()
            self._heads_for, self._heads_zone = now, time.tzname
        return self._heads

    def _search(self, line: str, now: float) -> tuple[int, int, float | None] | None:
        fast = self._fast
        m = None
        if fast is not None:
            m = fast[0](line)
            if m is not None and not fast[2] and m.start() != self._last_start:
                m = None
        if m is None or fast is None:
            found = self._match(line)
            if found is None:
                return None
            m, fast = found
        _, group, _, cache = fast
        start, end = m.span(group)
        if start == end:  # a template that only says "the date is not on this line"
            return start, end, None
        self._follow_zone()
        text = line[start:end]
        entry = cache.get(text)
        if entry is None:
            if len(cache) >= DATE_CACHE_SIZE:
                cache.clear()
            entry = cache[text] = _parse(self.templates[self._last], m)
        if entry.fields is None:  # a full date (or none): no need to place it in a year
            return start, end, entry.time
        if entry.placed_for != now:  # the stamp in the year (or day) of ``now``
            entry.placed = self._time(entry, now)
            entry.placed_for = now
        return start, end, entry.placed

    def _follow_zone(self) -> None:
        """Forget the local stamps made before ``time.tzset()`` changed the zone."""
        if time.tzname is not self._tzname:
            self._tzname = time.tzname
            self._now = float("nan")
            for c in self._caches:
                c.clear()

    def _match(self, line: str) -> tuple[re.Match[str], _Fast] | None:
        """fail2ban's choice of template when the last one (tried first, in :meth:`locate`)
        finds no date at the same place: the first line-bound one that matches, or of the
        others the one whose date is nearest the line start (earlier templates win ties)."""
        templates = self.templates
        best: tuple[int, re.Match[str]] | None = None
        for index, t in enumerate(templates):
            m = t.regex.search(line)
            if m is None:
                continue
            if t.anchored or m.start() <= 1:
                best = index, m
                break
            if best is None or m.start() < best[1].start():
                best = index, m
        if best is None:
            return None
        index, m = best
        if index != self._last:
            self._heads.clear()  # they were the last template's
            self.takeovers += 1
        self._last, self._last_start = index, m.start()
        t = templates[index]
        self._fast = t.regex.search, t.group, t.anchored, self._caches[index]
        return m, self._fast

    def _time(self, entry: _Parsed, now: float) -> float | None:
        if entry.time is not None or entry.fields is None:
            return entry.time
        try:
            if entry.fields[0] is None:  # no day: today, or yesterday if that is ahead
                return _today(entry, now)
            if now != self._now:
                self._now_year = time.localtime(now).tm_year
                self._now = now
            stamp = entry.stamp_in(self._now_year)
            if stamp > now + 86400:
                stamp = entry.stamp_in(self._now_year - 1)
            return stamp
        except (ValueError, OverflowError):
            return None


def _syslog_index(templates: tuple[Template, ...]) -> int:
    """The index of fail2ban's syslog template in ``templates`` when it compiles as
    :data:`SYSLOG_PATTERN` with a year code whose every year starts with a digit; -1."""
    year = DIRECTIVES["ExY"]
    if _YEAR_STARTS_WITH_DIGIT.fullmatch(year) is None:
        return -1
    pattern = SYSLOG_PATTERN.replace("{year}", year)
    for index, template in enumerate(templates):
        if template.regex.pattern == pattern and template.group == 1:
            return index
    return -1


# (month, day) or (None, None), then hour, minute, second
_Fields = tuple[int | None, int | None, int, int, int]


@dataclass(slots=True)
class _Parsed:
    """What one date text means: a time, or (no year or day in it) fields to place."""

    time: float | None
    fields: _Fields | None = None
    offset: int | None = None  # seconds east of UTC; None: local time
    stamps: dict[int, float] | None = None  # year -> stamp, for year-less texts
    # the stamp placed for the last ``now`` it was asked for (lines of one chunk share it)
    placed_for: float = float("nan")
    placed: float | None = None

    def stamp_in(self, year: int) -> float:
        assert self.stamps is not None and self.fields is not None
        stamp = self.stamps.get(year)
        if stamp is None:
            month, day, hour, minute, second = self.fields
            assert month is not None and day is not None
            stamp = self.stamps[year] = _stamp(year, month, day, hour, minute, second, self.offset)  # fmt: skip
        return stamp


def _parse(template: Template, m: re.Match[str]) -> _Parsed:
    text = m.group(template.group)
    try:
        if template.kind is Kind.EPOCH:
            return _Parsed(float(text))
        if template.kind is Kind.LONG_EPOCH:
            if len(text) >= 13:
                return _Parsed(float(text) / (1e6 if len(text) >= 16 and "." not in text else 1e3))
            return _Parsed(float(text))
        if template.kind is Kind.TAI64N:
            return _Parsed(float(int(text[2:17], 16)))
        return _parse_fields(m.groupdict())
    except (ValueError, KeyError, OverflowError):
        return _Parsed(None)


def _parse_fields(g: dict[str, str | None]) -> _Parsed:
    """fail2ban's ``reGroupDictStrptime`` (the fraction of a second is not kept)."""
    year = month = day = julian = week = weekday = None
    offset: int | None = None
    hour = minute = second = 0
    week_starts_monday = True
    for key, value in g.items():
        if value is None:
            continue
        if key == "y":
            year = int(value)
            year += 2000 if year <= 2000 else 0
        elif key == "Y":
            year = int(value)
        elif key == "m":
            month = int(value)
        elif key in ("b", "B"):
            month = _MONTH[value.lower()]
        elif key == "d":
            day = int(value)
        elif key == "H":
            hour = int(value)
        elif key == "I":
            hour = _twelve_hour(int(value), (g.get("p") or "").lower())
        elif key == "M":
            minute = int(value)
        elif key == "S":
            second = min(int(value), 59)  # a leap second is read as :59
        elif key in ("a", "A"):
            weekday = _WEEKDAY[value.lower()]
        elif key == "w":
            weekday = (int(value) - 1) % 7
        elif key == "j":
            julian = int(value)
        elif key in ("U", "W"):
            week, week_starts_monday = int(value), key == "W"
        elif key in ("z", "Z"):
            offset = 0 if value in ("Z", "UTC", "GMT") else zone_offset(value)
            if offset is None:
                return _Parsed(None)
    if month is None or day is None:
        if julian is None and week is not None and weekday is not None:
            julian = _julian(year or time.localtime().tm_year, week, weekday, week_starts_monday)
        if julian is not None:
            if year is None:  # the day of an unknown year: fail2ban takes this year
                year = time.localtime().tm_year
            date = datetime.date(year, 1, 1) + datetime.timedelta(days=julian - 1)
            year, month, day = date.year, date.month, date.day
    if month is None and day is None:
        return _Parsed(None, (None, None, hour, minute, second), offset)
    if month is None or day is None:
        return _Parsed(None)  # a day without a month (or the reverse) is no date
    datetime.datetime(year or 2000, month, day, hour, minute, second)  # a real date?
    if year is None:
        return _Parsed(None, (month, day, hour, minute, second), offset, {})
    return _Parsed(_stamp(year, month, day, hour, minute, second, offset))


def _syslog_fields(head: str) -> _Parsed:
    """What the syslog template reads of a head :data:`SYSLOG_HEAD` matches (its fields
    at their places; no year, so placed in one later), as :func:`_parse_fields` does."""
    month, day = _MONTH[head[:3].lower()], int(head[4:6])
    hour, minute, second = int(head[7:9]), int(head[10:12]), int(head[13:15])
    try:
        datetime.datetime(2000, month, day, hour, minute, second)  # a real date?
    except ValueError:
        return _Parsed(None)
    return _Parsed(None, (month, day, hour, minute, second), None, {})


def _twelve_hour(hour: int, ampm: str) -> int:
    if ampm == "pm":
        return hour if hour == 12 else hour + 12
    return 0 if hour == 12 else hour


def _julian(year: int, week: int, weekday: int, week_starts_monday: bool) -> int:
    """The day of the year of ``weekday`` (Monday 0) in week ``week`` (%W or %U)."""
    first = datetime.date(year, 1, 1).weekday()
    if not week_starts_monday:
        first, weekday = (first + 1) % 7, (weekday + 1) % 7
    if week == 0:
        return 1 + weekday - first
    return 1 + (7 - first) % 7 + 7 * (week - 1) + weekday


def _stamp(
    year: int, month: int, day: int, hour: int, minute: int, second: int, offset: int | None
) -> float:
    if offset is None:  # no zone in the log: the server's local time, as fail2ban assumes
        return time.mktime((year, month, day, hour, minute, second, 0, 0, -1))
    return float(calendar.timegm((year, month, day, hour, minute, second)) - offset)


def _today(entry: _Parsed, now: float) -> float:
    assert entry.fields is not None
    _, _, hour, minute, second = entry.fields
    today = time.localtime(now) if entry.offset is None else time.gmtime(now + entry.offset)
    stamp = _stamp(today.tm_year, today.tm_mon, today.tm_mday, hour, minute, second, entry.offset)  # fmt: skip
    return stamp - 86400 if stamp > now else stamp
