"""Finding and removing the timestamp of a log line, as fail2ban's date detector does.

fail2ban strips the matched date from the line before its regexes run; a filter that
matches lines fail2ban matches must strip exactly the same text. Supported: the
common default templates (syslog, ISO 8601, Apache/nginx, epoch), ``{^LN-BEG}``,
``{UNB}``, ``{DATE}``, ``{EPOCH}``, ``{LEPOCH}``, ``{NONE}`` and strptime-style patterns.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass

DATE_CACHE_SIZE = 1024  # distinct date texts remembered per date regex

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_name) if m})
_MON = r"(?P<mon>(?i:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?))"
_DAYNAME = r"(?i:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_TIME = r"(?P<H>[01]?\d|2[0-3]):(?P<M>[0-5]\d):(?P<S>[0-5]\d|60)(?:[.,](?P<f>\d{1,9}))?"
_ZONE = r"(?P<z>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)"

DIRECTIVES = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "m": r"(?P<m>1[0-2]|0?[1-9])",
    "d": r"(?P<d>3[01]|[12]\d|0?[1-9]| [1-9])",
    "e": r"(?P<d>3[01]|[12]\d|0?[1-9]| [1-9])",
    "H": r"(?P<H>2[0-3]|[01]?\d)",
    "I": r"(?P<I>1[0-2]|0?[1-9])",
    "M": r"(?P<M>[0-5]\d)",
    "S": r"(?P<S>6[01]|[0-5]\d)",
    "f": r"(?P<f>\d{1,9})",
    "b": _MON,
    "B": _MON,
    "a": _DAYNAME,
    "A": _DAYNAME,
    "p": r"(?P<p>(?i:AM|PM))",
    "z": r"(?P<z>Z|[+-]\d{2}(?::?\d{2})?)",
    "Z": r"(?P<Z>[A-Z]{3,5})",
    "s": r"(?P<epoch>\d{9,10})",
    "%": "%",
}

DEFAULT_TEMPLATES = (
    # syslog: "Mar  3 06:31:12", optionally with weekday and year
    rf"(?:{_DAYNAME} )?{_MON} ?(?P<d>[ 0-3]?\d) {_TIME}(?: (?P<Y>\d{{4}}))?",
    # ISO 8601 / RFC 3339: "2024-03-03T06:31:12.123+00:00"
    rf"(?P<Y>\d{{4}})(?P<_sep>[-/.])(?P<m>[01]?\d)(?P=_sep)(?P<d>[0-3]?\d)(?:T|  ?){_TIME}(?:\s*{_ZONE})?",
    # Apache/nginx: "03/Mar/2024:06:31:12 +0000"
    rf"(?P<d>[0-3]?\d)(?P<_sep>[-/])(?P<mon>[A-Za-z]{{3}})(?P=_sep)(?P<Y>\d{{4}})[ :]?{_TIME}(?: {_ZONE})?",
    # epoch seconds (optionally with fraction), only in front of the line or in brackets
    r"(?P<square>(?<=^\[))?(?P<epoch>\d{10}(?:\.\d{3,6})?)(?(square)(?=\]))",
)


@dataclass(frozen=True, slots=True)
class DateMatch:
    start: int
    end: int
    time: float | None


class DateDetector:
    """Locates the date in a line; ``now`` picks the year of year-less dates."""

    def __init__(self, pattern: str | None = None, where: str = "<datepattern>") -> None:
        self.none = False
        self._regexes: list[re.Pattern[str]] = []
        for raw in (pattern or "").split("\n") or [""]:
            text = raw.strip()
            if pattern is not None and not text:
                continue
            self._regexes.extend(self._compile(text, where))
        if not self._regexes and not self.none:
            self._regexes = list(self._compile("", where))
        # Per regex: date text -> its meaning. Lines of one second share one text, so a
        # stamp is parsed (and mktime run) once; bounded: cleared when it is full.
        self._caches: list[dict[str, _Parsed]] = [{} for _ in self._regexes]
        self._searches = list(zip(self._regexes, self._caches, strict=True))
        self._tzname = time.tzname
        self._now = float("nan")
        self._year = 0

    def _compile(self, pattern: str, where: str) -> list[re.Pattern[str]]:
        start = "(?=^|\\b|\\W)"
        end = "(?=\\b|\\W|$)"
        if pattern.startswith("{UNB}"):
            pattern, start, end = pattern[5:], "", ""
        elif pattern.startswith("{^LN-BEG}"):
            pattern, start = pattern[9:], r"^(?:\W{0,2})?"
        if pattern in ("{NONE}", "{none}"):
            self.none = True
            return []
        if pattern in ("", "{DATE}"):
            bodies = list(DEFAULT_TEMPLATES)
        elif pattern.upper() in ("{EPOCH}", "{LEPOCH}"):
            digits = r"\d{10,13}" if pattern.upper() == "{LEPOCH}" else r"\d{10}"
            bodies = [rf"(?P<epoch>{digits}(?:\.\d{{3,6}})?)"]
            start = start if start.startswith("^") else r"(?:^|(?<=\W))"
        else:
            bodies = [self._translate(pattern, where)]
        compiled = []
        for body in bodies:
            try:
                compiled.append(re.compile(f"{start}({body}){end}"))
            except re.error as exc:
                raise ValueError(
                    f"{where}: datepattern {pattern!r} is not a valid pattern ({exc}): "
                    "escape literal % as %%"
                ) from None
        return compiled

    @staticmethod
    def _translate(pattern: str, where: str) -> str:
        out: list[str] = []
        i = 0
        used: set[str] = set()
        while i < len(pattern):
            ch = pattern[i]
            if ch == "%" and i + 1 < len(pattern):
                code = pattern[i + 1]
                if code not in DIRECTIVES:
                    raise ValueError(
                        f"{where}: datepattern {pattern!r} uses %{code}, which is not "
                        f"supported: use %Y %m %d %H %M %S %f %b %z or {{DATE}}"
                    )
                regex = DIRECTIVES[code]
                group = regex[4:5] if regex.startswith("(?P<") else ""
                if group and group in used:  # a repeated field matches without capturing
                    regex = re.sub(r"\(\?P<\w+>", "(?:", regex)
                used.add(group)
                out.append(regex)
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)

    def find(self, line: str, now: float) -> DateMatch | None:
        if self.none:
            return None
        if time.tzname is not self._tzname:  # time.tzset() ran: local stamps may differ now
            self._tzname = time.tzname
            for cache in self._caches:
                cache.clear()
        for regex, cache in self._searches:
            m = regex.search(line)
            if m is not None:
                start, end = m.span(1)
                text = line[start:end]
                entry = cache.get(text)
                if entry is None:
                    if len(cache) >= DATE_CACHE_SIZE:
                        cache.clear()
                    entry = cache[text] = _parse(m)
                if entry.stamps is None:
                    return DateMatch(start, end, entry.time)
                return DateMatch(start, end, self._year_less(entry, now))
        return None

    def _year_less(self, entry: _Parsed, now: float) -> float | None:
        """The time of a stamp without a year: this year's, or last year's if that is in
        the future by more than a day (``now``'s UTC year, as fail2ban does)."""
        try:
            if now != self._now:
                self._year = time.gmtime(now).tm_year
                self._now = now
            stamp = entry.stamp_in(self._year)
            if stamp > now + 86400:
                stamp = entry.stamp_in(self._year - 1)
            return stamp + entry.frac
        except (ValueError, OverflowError):
            return None


@dataclass(slots=True)
class _Parsed:
    """What one date text means: a time, or (no year in it) the fields to place in a year."""

    time: float | None
    fields: tuple[int, int, int, int, int] = (1, 1, 0, 0, 0)
    zone: str | None = None
    frac: float = 0.0
    stamps: dict[int, float] | None = None  # year -> stamp, for year-less texts only

    def stamp_in(self, year: int) -> float:
        assert self.stamps is not None
        stamp = self.stamps.get(year)
        if stamp is None:
            stamp = self.stamps[year] = _stamp(year, self.fields, self.zone)
        return stamp


def _parse(m: re.Match[str]) -> _Parsed:
    g = m.groupdict()
    if g.get("epoch"):
        value = float(g["epoch"])
        return _Parsed(value / 1000.0 if value > 1e11 else value)
    try:
        mon = g.get("mon")
        month = MONTHS[mon.lower()] if mon else int(g.get("m") or 1)
        day = int((g.get("d") or "1").strip())
        hour = int(g.get("H") or g.get("I") or 0)
        if g.get("p") and g["p"].upper() == "PM" and hour < 12:
            hour += 12
        minute, second = int(g.get("M") or 0), int(g.get("S") or 0)
        frac = float("0." + g["f"]) if g.get("f") else 0.0
        zone = g.get("z")
        year_text = g.get("Y") or (("20" + g["y"]) if g.get("y") else None)
        fields = (month, day, hour, minute, min(second, 59))
        if year_text is None:
            return _Parsed(None, fields, zone, frac, {})
        return _Parsed(_stamp(int(year_text), fields, zone) + frac)
    except (ValueError, KeyError, OverflowError):
        return _Parsed(None)


def _stamp(year: int, fields: tuple[int, int, int, int, int], zone: str | None) -> float:
    month, day, hour, minute, second = fields
    if zone is None:  # no zone in the log: the server's local time, as fail2ban assumes
        return time.mktime((year, month, day, hour, minute, second, 0, 0, -1))
    return calendar.timegm((year, month, day, hour, minute, second)) - _offset(zone)


def _offset(zone: str) -> int:
    if zone in ("Z", "UTC", "GMT"):
        return 0
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60)


def strip_date(line: str, match: DateMatch | None) -> str:
    """The line as fail2ban's regexes see it: the date text removed."""
    if match is None:
        return line
    return line[: match.start] + line[match.end :]
