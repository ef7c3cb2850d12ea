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
    MONTH_NAMES,
    DatePatternError,
    Kind,
    Template,
    templates_for,
)
from shieldwall.interop.fail2ban.zones import zone_offset

DATE_CACHE_SIZE = 1024  # distinct date texts remembered per template

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

    def find(self, line: str, now: float) -> DateMatch | None:
        found = self.locate(line, now)
        return None if found is None else DateMatch(*found)

    def locate(self, line: str, now: float) -> tuple[int, int, float | None] | None:
        """:meth:`find` as a plain ``(start, end, time)``: what the engine asks per line."""
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
        if time.tzname is not self._tzname:  # time.tzset() ran: local stamps may differ now
            self._tzname = time.tzname
            self._now = float("nan")
            for c in self._caches:
                c.clear()
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
