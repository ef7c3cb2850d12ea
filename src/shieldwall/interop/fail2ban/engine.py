"""Running a fail2ban filter over log bytes, with fail2ban's matching semantics.

Sans-I/O: feed chunks of complete lines, get one :class:`LineResult` per line that
any failregex matched. A bytes prefilter built from the regexes' literal text skips
the lines no failregex can match before any regex runs. Multi-line connection ids
(``<F-MLFID>``, ``<F-NOFAIL>``, ``<F-MLFFORGET>``, ``<F-MLFGAINED>``) are merged as
fail2ban merges them, in a bounded cache. A filter with ``maxlines`` > 1 runs its
failregexes over its last lines joined, as fail2ban's line buffer does (see
:mod:`.multiline`).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from shieldwall.interop.fail2ban.dates import strip_date
from shieldwall.interop.fail2ban.filter import FilterDefinition
from shieldwall.interop.fail2ban.multiline import LineBuffer
from shieldwall.interop.fail2ban.prefilter import required_literals

MLFID_CACHE_SIZE = 100
MLFID_CACHE_TTL = 300.0


@dataclass(frozen=True, slots=True)
class Failure:
    rule: int
    host: str | None  # an IPv4/IPv6 address, a host name, or None (connection id pending)
    nofail: bool


@dataclass(frozen=True, slots=True)
class LineResult:
    line: int
    time: float | None
    failures: tuple[Failure, ...]
    ignored: bool  # an ignoreregex or a <F-NOFAIL> match: fail2ban does not count it

    @property
    def matched(self) -> bool:
        return bool(self.failures) and not self.ignored

    @property
    def host(self) -> str | None:
        for failure in self.failures:
            if failure.host is not None:
                return failure.host
        return None


class FilterEngine:
    """One filter applied to one stream of lines.

    ``check_all`` mirrors ``fail2ban-regex`` (every failregex is tried; a line is
    matched when none of its matches is a no-failure helper); without it the engine
    behaves as the fail2ban daemon (first matching failregex wins).
    """

    def __init__(self, definition: FilterDefinition, *, check_all: bool = False) -> None:
        self.definition = definition
        self.check_all = check_all
        self.lines = 0
        self.candidates = 0
        self._last_time: float | None = None
        self._mlfid: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        # Per failregex, literals one of which it cannot match without: a failregex whose
        # literals are all absent from the line is not run (None: always run it).
        self._rules = [
            (rule, _gate(rule.regex), _alt_names(rule.regex)) for rule in definition.failregex
        ]
        self._ignore_early = bool(definition.ignoreregex) and len(definition.ignoreregex) < (
            len(definition.failregex) - 2
        )
        self._buffer = LineBuffer(definition.maxlines) if definition.maxlines > 1 else None

    def feed(self, chunk: bytes, now: float, first_line: int | None = None) -> list[LineResult]:
        """Process ``chunk`` (complete lines); ``now`` dates year-less timestamps."""
        base = self.lines if first_line is None else first_line - 1
        results: list[LineResult] = []
        definition = self.definition
        if definition.prefilter_literals is not None:  # never with a multi-line buffer
            spans = _literal_spans(chunk, definition.prefilter_literals)
        elif definition.prefilter is not None:
            spans = _regex_spans(chunk, definition.prefilter)
        else:
            number = base
            for raw in chunk.splitlines():
                number += 1
                self.candidates += 1
                result = self.process_line(raw.decode("utf-8", "replace"), number, now)
                if result is not None:
                    results.append(result)
            self.lines = base + chunk.count(b"\n") + (1 if chunk[-1:] not in (b"\n", b"") else 0)
            return results
        counted = 0
        number = base
        self.candidates += len(spans)
        for start, end in spans:
            number += chunk.count(b"\n", counted, start) + 1
            counted = end + 1
            text = chunk[start:end].decode("utf-8", "replace")
            result = self.process_line(text, number, now)
            if result is not None:
                results.append(result)
        self.lines = base + chunk.count(b"\n") + (1 if chunk[-1:] not in (b"\n", b"") else 0)
        return results

    def process_line(self, line: str, number: int, now: float) -> LineResult | None:
        line = line.rstrip("\r\n")
        if not line:
            return None
        definition = self.definition
        dm = definition.dates.find(line, now)
        when = dm.time if dm is not None else None
        if when is not None:
            self._last_time = when
        else:
            when = self._last_time
        buffer = self._buffer
        text = strip_date(line, dm)
        buf = text + "\n" if buffer is None else buffer.add(text)
        if self._ignore_early and _any_match(definition.ignoreregex, buf):
            return None
        pre: dict[str, Any] = {}
        if definition.prefregex is not None:
            pm = definition.prefregex.search(buf)
            if pm is None:
                return None
            pre = pm.groupdict()
            content = pre.pop("content", None)
            if content:
                buf = content + "\n"
                if buffer is not None:
                    buffer.replace_with(content)
        failures: list[Failure] = []
        ignored = False
        for rule, gate, alt_names in self._rules:
            if gate is not None:
                for literal in gate:
                    if literal in buf:
                        break
                else:
                    continue
            m = rule.regex.search(buf)
            if m is None:
                continue
            fail = m.groupdict()
            for key, name in alt_names:
                if fail[key] and not fail.get(name):
                    fail[name] = fail[key]
            if buffer is not None:
                # the matched lines leave the buffer; skipped ones stay for later matches
                matched, rest = buffer.split(m)
                buffer.keep(rest)
                buf = buffer.text()
                if definition.ignoreregex and _any_match(definition.ignoreregex, matched):
                    ignored = True
                    if not self.check_all:
                        break
                    continue
            elif definition.ignoreregex and _any_match(definition.ignoreregex, buf):
                ignored = True
                if not self.check_all:
                    break
                continue
            if pre:
                fail = {**pre, **fail}
            mlfid = fail.get("mlfid")
            if mlfid is not None:
                fail = self._merge(mlfid, fail, number, when if when is not None else now)
                if fail.get("nofail") and not self.check_all:
                    return LineResult(number, when, (), True)
            host = fail.get("ip4") or fail.get("ip6") or fail.get("dns") or fail.get("fid")
            if host is None and mlfid is not None:
                fail["mlfpending"] = 1
                if not self.check_all:
                    return None
            nofail = bool(fail.get("nofail"))
            ignored = ignored or nofail
            failures.append(Failure(rule.index, host, nofail))
            if not self.check_all:
                break
        if not failures and not ignored:
            return None
        return LineResult(number, when, tuple(failures), ignored)

    def _merge(self, mlfid: str, fail: dict[str, Any], number: int, when: float) -> dict[str, Any]:
        """fail2ban's ``Filter._mergeFailure``: connection-id state across lines."""
        cache = self._mlfid
        entry = cache.get(mlfid)
        if entry is not None and entry[0] + MLFID_CACHE_TTL < when:
            del cache[mlfid]
            entry = None
        users: set[str] | None = None
        flags = 0
        if fail.get("mlfgained"):
            flags |= 8 | 1
            if not fail.get("nofail"):
                fail["nofail"] = fail["mlfgained"]
        elif fail.get("nofail"):
            flags |= 1
        if fail.pop("mlfforget", None):
            flags |= 2
        if entry is not None:
            groups = entry[1]
            users = _update_users(groups, fail.get("user"))
            if groups.pop("nofail", None):
                flags |= 4
            if groups.pop("mlfgained", None):
                flags |= 4
            if flags & 8:
                groups.pop("mlfpending", None)
            if (flags & 4) == 0 and not groups.get("mlfpending", 0):
                groups.pop("matches", None)
            groups.update((k, v) for k, v in fail.items() if v is not None)
            fail = groups
            if flags & 2:
                cache.pop(mlfid, None)
        elif not flags & 2:
            users = _update_users(fail, fail.get("user"))
            if len(cache) >= MLFID_CACHE_SIZE:
                cache.popitem(last=False)
            cache[mlfid] = (when, fail)
        if fail.pop("mlfpending", 0) or (users and len(users) > 1):
            fail.pop("nofail", None)
            fail.pop("mlfgained", None)
            flags &= ~(8 | 1)
        if (flags & 1) == 0:
            matches = fail.pop("nofail-matches", []) + fail.get("matches", [])
            if (flags & 8) == 0:
                matches.append(number)
            fail["matches"] = matches
        elif (flags & 3) == 1:
            fail["nofail-matches"] = [*fail.get("nofail-matches", []), number]
        return fail


def _update_users(fail: dict[str, Any], user: str | None) -> set[str] | None:
    users: set[str] | None = fail.get("users")
    if user:
        if not users:
            users = set()
            fail["users"] = users
        users.add(user)
    return users


def _literal_spans(chunk: bytes, literals: tuple[bytes, ...]) -> list[tuple[int, int]]:
    """(start, end) of every line holding one of ``literals``, in order: one ``bytes.find``
    scan per literal, each jumping to the next line after a hit."""
    spans: dict[int, int] = {}
    find = chunk.find
    rfind = chunk.rfind
    for literal in literals:
        i = find(literal)
        while i >= 0:
            start = rfind(b"\n", 0, i) + 1
            end = find(b"\n", i)
            if end < 0:
                spans[start] = len(chunk)
                break
            spans[start] = end
            i = find(literal, end + 1)
    return sorted(spans.items())


def _regex_spans(chunk: bytes, prefilter: re.Pattern[bytes]) -> list[tuple[int, int]]:
    """(start, end) of every line where ``prefilter`` finds a match, in order."""
    spans: list[tuple[int, int]] = []
    size = len(chunk)
    pos = 0
    search = prefilter.search
    while pos < size:
        m = search(chunk, pos)
        if m is None:
            break
        start = chunk.rfind(b"\n", 0, m.start()) + 1
        end = chunk.find(b"\n", m.end())
        if end < 0:
            end = size
        spans.append((start, end))
        pos = end + 1
    return spans


def _alt_names(regex: re.Pattern[str]) -> tuple[tuple[str, str], ...]:
    """(``alt_user2``, ``user``) for each ``ALT_`` group: it stands in for the plain one."""
    return tuple(
        (key, key[4:].rstrip("0123456789").rstrip("_"))
        for key in regex.groupindex
        if key.startswith("alt_")
    )


def _gate(regex: re.Pattern[str]) -> tuple[str, ...] | None:
    literals, ignore_case = required_literals(regex.pattern)
    if literals is None or ignore_case or regex.flags & re.IGNORECASE:
        return None
    return tuple(sorted(literals, key=len, reverse=True))


def _any_match(rules: Any, buf: str) -> bool:
    return any(rule.regex.search(buf) is not None for rule in rules)
