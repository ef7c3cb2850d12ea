"""Reading the time of a log line fast: syslog, RFC 3339 and access-log stamps, cached.

Consecutive lines share their second, so each distinct stamp is parsed once. Year-less
syslog stamps take the year of ``now`` (last year's when that would be in the future).
Stamps without a zone are the server's local time.
"""

from __future__ import annotations

import re
import time

# English month names, as syslog writes them whatever the locale
_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m.encode(): i for i, m in enumerate(_ABBR, 1)}
_SYSLOG = re.compile(rb"([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d)")
_ISO = re.compile(rb"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,]\d+)?(Z|[+-]\d\d:?\d\d)?")
_CLF = re.compile(rb"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?: ([+-]\d{4}))?")
_CACHE_MAX = 4096


class StampReader:
    __slots__ = ("_cache", "_year")

    def __init__(self) -> None:
        self._cache: dict[bytes, float | None] = {}
        self._year = (float("nan"), 0)  # (now, the year of now): one localtime per now

    def syslog(self, line: bytes, now: float) -> float | None:
        """Time of a syslog line (``Mar  3 06:31:12 host ...`` or RFC 3339 at the start)."""
        key = line[:32] if line[:1].isdigit() else line[:15]
        cache = self._cache
        if key in cache:
            return cache[key]
        value = self._parse_syslog(key, now)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = value
        return value

    def access(self, stamp: bytes) -> float | None:
        cache = self._cache
        if stamp in cache:
            return cache[stamp]
        value = None
        m = _CLF.match(stamp)
        if m is not None and m.group(2) in _MONTHS:
            fields = (int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)))
            value = _stamp(fields, m.groups()[3:6], m.group(7))
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[stamp] = value
        return value

    def _parse_syslog(self, key: bytes, now: float) -> float | None:
        m = _ISO.match(key)
        if m is not None:
            return _stamp(
                (int(m.group(1)), int(m.group(2)), int(m.group(3))), m.groups()[3:6], m.group(7)
            )
        m = _SYSLOG.match(key)
        if m is None or m.group(1) not in _MONTHS:
            return None
        if self._year[0] != now:
            self._year = (now, time.localtime(now).tm_year)
        year = self._year[1]
        fields = (year, _MONTHS[m.group(1)], int(m.group(2)))
        value = _stamp(fields, m.groups()[2:5], None)
        if value is not None and value > now + 86400:
            value = _stamp((year - 1, *fields[1:]), m.groups()[2:5], None)
        return value


def _stamp(
    date: tuple[int, int, int], clock: tuple[bytes | None, ...], zone: bytes | None
) -> float | None:
    try:
        hour, minute, second = (int(x or 0) for x in clock)
        parts = (*date, hour, minute, min(second, 59))
        if zone is None:
            return time.mktime((*parts, 0, 0, -1))
        from calendar import timegm  # zoned stamps only: a syslog replay starts without it

        if zone == b"Z":
            return float(timegm(parts))
        digits = zone[1:].replace(b":", b"")
        offset = int(digits[:2]) * 3600 + int(digits[2:4]) * 60
        return float(timegm(parts)) - (offset if zone[:1] == b"+" else -offset)
    except (ValueError, OverflowError):
        return None
