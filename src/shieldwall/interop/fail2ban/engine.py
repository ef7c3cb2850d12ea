"""Running a fail2ban filter over log bytes, with fail2ban's matching semantics.

Sans-I/O: feed chunks of complete lines, get one :class:`LineResult` per line that
any failregex matched. A bytes prefilter built from the regexes' literal text skips
the lines no failregex can match before any regex runs (:mod:`.scan`); each other line
is tried only against the failregexes that can match its first character and whose
literals it holds (:mod:`.dispatch`). Multi-line connection ids (``<F-MLFID>``,
``<F-NOFAIL>``, ``<F-MLFFORGET>``, ``<F-MLFGAINED>``) are merged as fail2ban merges
them (:mod:`.mlfid`). A filter with ``maxlines`` > 1 runs its failregexes over its last
lines joined, as fail2ban's line buffer does (:mod:`.multiline`). A single-line filter
whose regexes cannot tell digits apart runs them once per shape of line (:mod:`.shapes`,
:mod:`.digits`), tests each shape for the prefilter's literals once, and reads a chunk's
dates and shapes before it takes its lines in order (:mod:`.prepass`). ``count`` gives
what a jail counts (host, time, line) without a record per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from itertools import compress
from operator import itemgetter
from typing import Any, NamedTuple

from shieldwall.interop.fail2ban.digits import AS_ZERO, digit_blind
from shieldwall.interop.fail2ban.dispatch import first_chars, gate, rule_table
from shieldwall.interop.fail2ban.filter import FilterDefinition
from shieldwall.interop.fail2ban.groups import materialise
from shieldwall.interop.fail2ban.mlfid import MLFID_CACHE_SIZE, ConnectionIds
from shieldwall.interop.fail2ban.multiline import LineBuffer
from shieldwall.interop.fail2ban.prepass import cut, dates_of, entries_of
from shieldwall.interop.fail2ban.scan import (
    literal_line_ends,
    numbered_lines,
    regex_line_ends,
    scan_plan,
)
from shieldwall.interop.fail2ban.shapes import (
    Holds,
    Run,
    Shapes,
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


#: A line a jail counts: its host, its time, its number (:meth:`FilterEngine.count`).
Counted = tuple[str, float, int]


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
        self._rules: tuple[Run, ...] = tuple(
            (rule.index, rule.regex.search, gate(rule.regex), _alt_names(rule.regex))
            for rule in definition.failregex
        )
        # The failregexes a text can match, by its first character (None: all of them).
        self._by_first: dict[str, tuple[Run, ...]] | None = None
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
        # Lines matched once per shape (see .shapes) when the regexes every line meets
        # are digit-blind; the others as they come.
        self._shapes: Shapes | None = None
        if self._buffer is None and all(
            digit_blind(r.pattern, r.flags)
            for r in [*([] if pref is None else [pref]), *(i.regex for i in definition.ignoreregex)]
        ):
            blind = frozenset(
                rule.index
                for rule in definition.failregex
                if digit_blind(rule.regex.pattern, rule.regex.flags)
            )
            self._shapes = Shapes(
                pref, self._content, [i.regex for i in definition.ignoreregex],
                self._ignore_early, self._by_first, self._by_other, blind, check_all,
                {rule.index: rule.regex for rule in definition.failregex},
            )  # fmt: skip
        # The prefilter as a test of each line's shape, when no literal holds a digit.
        literals = definition.prefilter_literals
        self._holds: Holds | None = None
        if (
            self._shapes is not None
            and literals is not None
            and not any(b"0" in lit.translate(AS_ZERO) for lit in literals)  # no digit
        ):
            self._holds = Holds(literals)

    def feed(self, chunk: bytes, now: float, first_line: int | None = None) -> list[LineResult]:
        """Process ``chunk`` (complete lines); ``now`` dates year-less timestamps."""
        return self._run(*self._select(chunk, first_line), now, None)  # type: ignore[return-value]

    def count(self, chunk: bytes, now: float, first_line: int | None = None) -> list[Counted]:
        """:meth:`feed`, told as a jail counts it: for each line that is a failure (not
        ignored, a host given), its host, time (``now`` when it has none) and number.
        The same work as ``feed``, without a record made per line."""
        return self._run(*self._select(chunk, first_line), now, now)  # type: ignore[return-value]

    def process_line(self, line: str, number: int, now: float) -> LineResult | None:
        """One line (its line break may stay) as line ``number`` of the stream."""
        text = _text(line.encode("utf-8", "surrogatepass").rstrip(b"\r\n"))
        results = self._run([number], [text], [None], now, None)
        return results[0] if results else None  # type: ignore[return-value]

    def _select(self, chunk: bytes, first_line: int | None) -> Lines:
        """The lines of ``chunk`` a failregex may match (the prefilter's): their numbers,
        texts, and bytes with every digit read as 0 (when ASCII and known)."""
        base = self.lines if first_line is None else first_line - 1
        definition = self.definition
        literals = definition.prefilter_literals
        if self._holds is not None:
            # Each line and its shape in a few C calls, each shape tested for a literal
            # once: cheaper than scanning the chunk for each literal when most lines are
            # hits. A line break is never part of a byte sequence UTF-8 cannot decode, so
            # the chunk's text splits into the same lines as its bytes.
            zeroed = chunk.translate(AS_ZERO).split(b"\n")
            self.lines = base + len(zeroed) - (chunk[-1:] in (b"\n", b""))
            picked = list(compress(range(len(zeroed)), map(self._holds.__getitem__, zeroed)))
            self.candidates += len(picked)
            if not picked:
                return [], [], []
            texts = chunk.decode("utf-8", "replace").split("\n")
            if b"\r" in chunk:  # lines ending CRLF: the text without it, the shape with
                texts = [t.rstrip("\r") for t in texts]
            if not chunk.isascii():  # a line's zeroed bytes stand for its text if ASCII
                zeroed = [z if z.isascii() else None for z in zeroed]  # type: ignore[misc]
            numbers = list(map((base + 1).__add__, picked))
            if len(picked) < 2:  # itemgetter of one index gives the item, not a tuple
                return numbers, [texts[picked[0]]], [zeroed[picked[0]]]
            pick = itemgetter(*picked)
            return numbers, pick(texts), pick(zeroed)
        if literals is not None:  # never with a multi-line buffer
            ends = literal_line_ends(chunk, scan_plan(literals))
        elif definition.prefilter is not None:
            ends = regex_line_ends(chunk, definition.prefilter)
        else:
            self.lines = base + chunk.count(b"\n") + (chunk[-1:] not in (b"\n", b""))
            raws = chunk.splitlines()
            self.candidates += len(raws)
            return range(base + 1, base + 1 + len(raws)), list(map(_text, raws)), [None] * len(raws)  # fmt: skip
        numbered, self.lines = numbered_lines(chunk, ends, base)
        self.candidates += len(numbered)
        return [n for n, _, _ in numbered], [_text(r) for _, r, _ in numbered], [None] * len(numbered)  # fmt: skip

    def _run(
        self,
        numbers: Sequence[int],
        texts: Sequence[str],
        zeroed: Sequence[bytes | None],
        now: float,
        counting: float | None,
    ) -> list[LineResult] | list[Counted]:
        """The lines' results; with ``counting`` (the time of an undated line), what a
        jail counts of them (see :meth:`count`)."""
        if self._shapes is not None:
            return self._run_shapes(numbers, texts, zeroed, now, self._shapes, counting)
        return self._run_each(zip(numbers, texts, strict=True), now, counting)

    def _run_shapes(
        self,
        numbers: Sequence[int],
        texts: Sequence[str],
        zeroed: Sequence[bytes | None],
        now: float,
        shapes: Shapes,
        counting: float | None,
    ) -> list[Any]:
        """The lines in order: date, what the regexes found for the line's shape (or
        run on it), connection ids. Dates and entries are read for all the lines first
        (mostly at C speed, new shapes made together); then one loop takes each line
        with what it needs in local names, the date taken out inline (as :meth:`_undated`
        does)."""
        founds = dates_of(self.definition.dates, texts, now)
        entries = entries_of(shapes, texts, zeroed, founds)
        results: list[Any] = []
        append = results.append
        last = self._last_time
        check_all = self.check_all
        settle = self._settle
        known = self._ids.known
        try:
            for number, line, found, entry in zip(numbers, texts, founds, entries, strict=True):
                if found is None:  # no date: the time of the last line that had one
                    when = last
                else:
                    start, end, when = found
                    if start == 0:
                        line = line[end:]
                    elif start != end:
                        line = line[:start] + line[end:]
                    if when is None:
                        when = last
                    else:
                        last = when
                if entry is None:
                    continue
                fast = entry[4]
                if fast is not None:  # one failregex, and no id or a new one (shapes.quick)
                    index, id_at, host_at, host, nofail, helper, keeps, groups = fast
                    mlfid = None if id_at is None else line[id_at]
                    if mlfid is None or mlfid not in known:
                        if keeps:  # as ConnectionIds.merge keeps it, its groups made later
                            if len(known) >= MLFID_CACHE_SIZE:
                                del known[next(iter(known))]
                            known[mlfid] = (now if when is None else when, (groups, line))  # type: ignore[index]
                        if helper:
                            if counting is None:
                                append(new(LineResult, (number, when, (), True)))
                            continue
                        if host_at is not None:
                            host = line[host_at]
                        if counting is None:
                            one = new(Failure, (index, host, nofail))
                            append(new(LineResult, (number, when, (one,), nofail)))
                        elif not nofail and host is not None:
                            append((host, counting if when is None else when, number))
                        continue
                rules, content_at, pref_values, late, _ = entry
                failures: tuple[Failure, ...] = ()
                ignored = False
                buf = None
                for index, search, held, alt_names, values in rules:
                    if values is not None:
                        if late:
                            ignored = True
                            if not check_all:
                                break
                            continue
                        fail = materialise(values, line)  # the shape's groups, this line's digits
                    else:  # a failregex that is not digit-blind: run on the line itself
                        if buf is None:
                            if content_at is None:
                                buf = line + "\n"
                            else:
                                buf = line[content_at[0] : content_at[1]] + "\n"
                        if held is not None and held(buf) is None:
                            continue  # none of its literals: it cannot match
                        m = search(buf)
                        if m is None:
                            continue
                        if late:
                            ignored = True
                            if not check_all:
                                break
                            continue
                        fail = m.groupdict()
                        for alt, name in alt_names:
                            if fail[alt] and not fail.get(name):
                                fail[name] = fail[alt]
                        # the prefregex's groups, unless the failregex has them
                        with_pref = materialise(pref_values, line)
                        with_pref.update(fail)
                        fail = with_pref
                    failures, ignored, stop = settle(failures, ignored, index, fail, number, when, now)  # fmt: skip
                    if stop:
                        break
                if failures or ignored:
                    _emit(append, counting, number, when, failures, ignored)
        finally:
            self._last_time = last
        return results

    def _undated(
        self, line: str, found: tuple[int, int, float | None] | None
    ) -> tuple[str, int, int, float | None]:
        """(``line`` without the date text ``found`` there, where that was, its time): the
        date text leaves the line, as in fail2ban; a line without a date (or with no
        valid one) takes the time of the last line that had one."""
        if found is None:
            return line, 0, 0, self._last_time
        start, end, when = found
        line = cut(line, found)
        if when is None:
            return line, start, end, self._last_time
        self._last_time = when
        return line, start, end, when

    def _settle(
        self,
        failures: tuple[Failure, ...],
        ignored: bool,
        index: int,
        fail: dict[str, Any],
        number: int,
        when: float | None,
        now: float,
    ) -> tuple[tuple[Failure, ...], bool, bool]:
        """A line's ``failures`` and ``ignored`` with what failregex ``index``'s groups
        make of it added, and whether its other failregexes are left untried: connection
        ids merged as fail2ban merges them; a helper line is ignored, never counted."""
        check_all = self.check_all
        mlfid = fail.get("mlfid")
        if mlfid is not None:
            fail = self._ids.merge(mlfid, fail, number, when if when is not None else now)
            if fail.get("nofail") and not check_all:
                return failures, True, True  # a helper line: reported, never counted
        host = fail.get("ip4") or fail.get("ip6") or fail.get("dns") or fail.get("fid")
        if host is None and mlfid is not None:
            fail["mlfpending"] = 1  # the id's host may come on a later line
            if not check_all:
                return failures, ignored, True
        nofail = bool(fail.get("nofail"))
        return (*failures, new(Failure, (index, host, nofail))), ignored or nofail, not check_all

    def _run_each(
        self, lines: Iterable[tuple[int, str]], now: float, counting: float | None
    ) -> list[Any]:
        """The lines in order: date, prefregex, failregexes, connection ids, every regex
        run on every line (a multi-line buffer, or regexes that read digits)."""
        results: list[Any] = []
        append = results.append
        definition = self.definition
        locate = definition.dates.locate
        undated = self._undated
        prefregex = definition.prefregex
        ignoreregex = definition.ignoreregex
        ignore_early = self._ignore_early
        check_all = self.check_all
        buffer = self._buffer
        by_first = self._by_first
        by_other = self._by_other
        settle = self._settle
        content_group = self._content
        pref_groups = self._pref_groups
        for number, line in lines:
            line = line.rstrip("\r\n")
            if not line:
                continue
            line, _, _, when = undated(line, locate(line, now))
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
                failures, ignored, stop = settle(failures, ignored, index, fail, number, when, now)  # fmt: skip
                if stop:
                    break
            if failures or ignored:
                _emit(append, counting, number, when, failures, ignored)
        return results


#: A record made from its fields at C speed (a NamedTuple's own ``__new__`` is Python).
new = tuple.__new__


#: a chunk's lines: their numbers, texts, and digits-as-0 bytes (see FilterEngine._select)
Lines = tuple[Sequence[int], Sequence[str], Sequence["bytes | None"]]


def _text(raw: bytes) -> str:
    """A line's text as the engine reads it: decoded, without a CR before its break."""
    return raw.decode("utf-8", "replace").rstrip("\r")


def _emit(
    append: Callable[[Any], None],
    counting: float | None,
    number: int,
    when: float | None,
    failures: tuple[Failure, ...],
    ignored: bool,
) -> None:
    """A line's result (``counting`` None), or what a jail counts of it (see
    :meth:`FilterEngine.count`)."""
    if counting is None:
        append(new(LineResult, (number, when, failures, ignored)))
        return
    if ignored:
        return
    for failure in failures:
        if failure.host is not None:
            append((failure.host, counting if when is None else when, number))
            return


def _alt_names(regex: re.Pattern[str]) -> tuple[tuple[str, str], ...]:
    """(``alt_user2``, ``user``) for each ``ALT_`` group: it stands in for the plain one."""
    return tuple(
        (key, key[4:].rstrip("0123456789").rstrip("_"))
        for key in regex.groupindex
        if key.startswith("alt_")
    )


def _any_match(rules: Any, buf: str) -> bool:
    return any(rule.regex.search(buf) is not None for rule in rules)
