"""Running a fail2ban filter over log bytes, with fail2ban's matching semantics.

Sans-I/O: feed chunks of complete lines, get one :class:`LineResult` per line that
any failregex matched. A bytes prefilter built from the regexes' literal text skips
the lines no failregex can match before any regex runs (:mod:`.scan`); each other line
is tried only against the failregexes that can match its first character and whose
literals it holds (:mod:`.dispatch`). Multi-line connection ids (``<F-MLFID>``,
``<F-NOFAIL>``, ``<F-MLFFORGET>``, ``<F-MLFGAINED>``) are merged as fail2ban merges
them (:mod:`.mlfid`). A filter with ``maxlines`` > 1 runs its failregexes over its last
lines joined, as fail2ban's line buffer does (:mod:`.multiline`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from shieldwall.interop.fail2ban.dispatch import first_chars, gate, rule_table
from shieldwall.interop.fail2ban.filter import FilterDefinition
from shieldwall.interop.fail2ban.mlfid import ConnectionIds
from shieldwall.interop.fail2ban.multiline import LineBuffer
from shieldwall.interop.fail2ban.scan import (
    literal_line_ends,
    numbered_lines,
    regex_line_ends,
    scan_plan,
)


class Failure(NamedTuple):
    rule: int
    host: str | None  # an IPv4/IPv6 address, a host name, or None (connection id pending)
    nofail: bool


class LineResult(NamedTuple):
    """What a line's failregexes found (an immutable record, cheap to make per line)."""

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


# A failregex as the engine runs it: its index, its search, its gate literals (None: no
# gate), its ``ALT_`` groups.
_Run = tuple[
    int,
    Callable[[str], "re.Match[str] | None"],
    tuple[str, ...] | None,
    tuple[tuple[str, str], ...],
]


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
        self._ids = ConnectionIds()
        # Per failregex, literals one of which it cannot match without: a failregex whose
        # literals are all absent from the line is not run (None: always run it).
        self._rules: tuple[_Run, ...] = tuple(
            (rule.index, rule.regex.search, gate(rule.regex), _alt_names(rule.regex))
            for rule in definition.failregex
        )
        # The failregexes a text can match, by its first character (None: all of them).
        self._by_first: dict[str, tuple[_Run, ...]] | None = None
        self._by_other = self._rules
        starts = [first_chars(rule.regex) for rule in definition.failregex]
        if definition.maxlines == 1 and any(s is not None for s in starts):
            self._by_first, self._by_other = rule_table(self._rules, starts)
        self._ignore_early = bool(definition.ignoreregex) and len(definition.ignoreregex) < (
            len(definition.failregex) - 2
        )
        self._buffer = LineBuffer(definition.maxlines) if definition.maxlines > 1 else None
        # The prefregex's groups as each line reads them: its content group's number, and
        # the name and number of every other group (they join the failregex's groups).
        pref = definition.prefregex
        self._content = 0 if pref is None else pref.groupindex["content"]
        self._pref_groups = tuple(
            (name, index)
            for name, index in ({} if pref is None else pref.groupindex).items()
            if name != "content"
        )

    def feed(self, chunk: bytes, now: float, first_line: int | None = None) -> list[LineResult]:
        """Process ``chunk`` (complete lines); ``now`` dates year-less timestamps."""
        base = self.lines if first_line is None else first_line - 1
        definition = self.definition
        literals = definition.prefilter_literals
        if literals is not None:  # never with a multi-line buffer
            ends = literal_line_ends(chunk, scan_plan(literals))
        elif definition.prefilter is not None:
            ends = regex_line_ends(chunk, definition.prefilter)
        else:
            self.lines = base + chunk.count(b"\n") + (chunk[-1:] not in (b"\n", b""))
            raws = chunk.splitlines()
            self.candidates += len(raws)
            lines = ((base + i, raw.decode("utf-8", "replace")) for i, raw in enumerate(raws, 1))
            return self._run(lines, now)
        numbered, self.lines = numbered_lines(chunk, ends, base)
        self.candidates += len(numbered)
        return self._run(numbered, now)

    def process_line(self, line: str, number: int, now: float) -> LineResult | None:
        """One line (its line break may stay) as line ``number`` of the stream."""
        results = self._run(((number, line),), now)
        return results[0] if results else None

    def _run(self, lines: Iterable[tuple[int, str]], now: float) -> list[LineResult]:
        """The lines in order: date, prefregex, failregexes, connection ids. The one loop
        over every line, with what it needs in local names (it runs per line)."""
        results: list[LineResult] = []
        definition = self.definition
        locate = definition.dates.locate
        prefregex = definition.prefregex
        ignoreregex = definition.ignoreregex
        ignore_early = self._ignore_early
        check_all = self.check_all
        buffer = self._buffer
        by_first = self._by_first
        by_other = self._by_other
        merge = self._ids.merge
        content_group = self._content
        pref_groups = self._pref_groups
        for number, line in lines:
            line = line.rstrip("\r\n")
            if not line:
                continue
            found = locate(line, now)
            if found is None:
                when = self._last_time
            else:
                start, end, when = found
                if start == 0:  # the date text leaves the line, as in fail2ban
                    line = line[end:]
                elif start != end:
                    line = line[:start] + line[end:]
                if when is None:
                    when = self._last_time
                else:
                    self._last_time = when
            buf = line + "\n" if buffer is None else buffer.add(line)
            if ignore_early and _any_match(ignoreregex, buf):
                continue
            pm = None
            if prefregex is not None:
                pm = prefregex.search(buf)
                if pm is None:
                    continue
                content = pm.group(content_group)
                if content:
                    buf = content + "\n"
                    if buffer is not None:
                        buffer.replace_with(content)
            rules = by_other if by_first is None else by_first.get(buf[0], by_other)
            failures: tuple[Failure, ...] = ()
            ignored = False
            for index, search, literals, alt_names in rules:
                if literals is not None:
                    for literal in literals:
                        if literal in buf:
                            break
                    else:
                        continue
                m = search(buf)
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
                    if ignoreregex and _any_match(ignoreregex, matched):
                        ignored = True
                        if not check_all:
                            break
                        continue
                elif ignoreregex and _any_match(ignoreregex, buf):
                    ignored = True
                    if not check_all:
                        break
                    continue
                if pm is not None:  # the prefregex's groups, unless the failregex has them
                    for name, group in pref_groups:
                        if name not in fail:
                            fail[name] = pm.group(group)
                mlfid = fail.get("mlfid")
                if mlfid is not None:
                    fail = merge(mlfid, fail, number, when if when is not None else now)
                    if fail.get("nofail") and not check_all:
                        ignored = True  # a helper line: reported, never counted
                        break
                host = fail.get("ip4") or fail.get("ip6") or fail.get("dns") or fail.get("fid")
                if host is None and mlfid is not None:
                    fail["mlfpending"] = 1  # the id's host may come on a later line
                    if not check_all:
                        break
                nofail = bool(fail.get("nofail"))
                ignored = ignored or nofail
                failures += (new(Failure, (index, host, nofail)),)
                if not check_all:
                    break
            if failures or ignored:
                results.append(new(LineResult, (number, when, failures, ignored)))
        return results


#: A record made from its fields at C speed (a NamedTuple's own ``__new__`` is Python).
new = tuple.__new__


def _alt_names(regex: re.Pattern[str]) -> tuple[tuple[str, str], ...]:
    """(``alt_user2``, ``user``) for each ``ALT_`` group: it stands in for the plain one."""
    return tuple(
        (key, key[4:].rstrip("0123456789").rstrip("_"))
        for key in regex.groupindex
        if key.startswith("alt_")
    )


def _any_match(rules: Any, buf: str) -> bool:
    return any(rule.regex.search(buf) is not None for rule in rules)
