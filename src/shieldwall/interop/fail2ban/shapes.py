"""What a filter's regexes make of a line, found once per shape of line.

A line's *shape* is its text (date removed) with every ASCII digit read as ``0``. When
the prefregex, the ignoreregexes and a failregex are digit-blind
(:mod:`.digits`), every line of one shape is matched alike by them: the same regexes
match, each group at the same span, and a group's text that holds no digit is the
same. So the regexes run on the first line of a shape, and what they found is kept as
an :data:`Entry`: for each later line of the shape, the groups are the kept texts and,
for the groups that hold digits, the line's own text at the kept spans.

A failregex that is not digit-blind (Debian's ``sshd.conf`` has two, with ``3:`` and
``11:`` in them) is kept in the entry as a regex to run on each line, as without the
memo. A line that is not ASCII, or longer than :data:`MAX_SHAPE`, has its entry made
for it alone and not kept. At most :data:`MAX_SHAPES` shapes are kept: an attacker
varying letters only makes the memo start again, never grow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, AnyStr

from shieldwall.interop.fail2ban.groups import HOSTS, NO_VALUES, READ, Values, values
from shieldwall.interop.fail2ban.mlfid import first_line

#: A failregex as the engine runs it: index, search, gate literals, ``ALT_`` groups.
Run = tuple[
    int,
    Callable[[str], "re.Match[str] | None"],
    tuple[str, ...] | None,
    tuple[tuple[str, str], ...],
]
#: A failregex in an entry: (index, search, gate, ALT_ groups, values): with ``search``
#: None it matched the shape and ``values`` are its groups; else it is run on the line
#: (its values are None) when its gate, a search for its literals (None: no gate),
#: finds one in it.
Found = tuple[int, Any, Any, Any, Values | None]
#: What a line of the shape is when one failregex matched it and its id, if it has one,
#: is new: (the failregex, where the id is or None: no id, where the host is or None:
#: the same on every line, that host, whether the line is no failure, whether it is a
#: helper left uncounted, whether the id is kept, the failregex's groups).
Quick = tuple[int, slice | None, slice | None, str | None, bool, bool, bool, Values]
#: (the failregexes that matched or are run per line, in order; where the prefregex's
#: content is in the line, or None; the prefregex's groups; whether an ignoreregex
#: matches what the failregexes search; the quick way when there is one)
Entry = tuple[tuple[Found, ...], tuple[int, int] | None, Values, bool, Quick | None]

MISSING: Any = object()  # what a memo lookup gives for a shape not seen
MAX_SHAPE = 1024  # longer lines are matched on their own, never kept
MAX_SHAPES = 16384
_DIGIT = re.compile(r"[0-9]")


def quick(index: int, found: Values, check_all: bool) -> Quick | None:
    """The quick way for a line of a shape that ``found`` of failregex ``index`` alone
    matched, when what the line is does not hang on more than where its id and host
    are (:func:`.mlfid.first_line`)."""
    fixed, varying = found
    spans = {name: slice(start, end) for name, start, end in varying}
    at = spans.get("mlfid")
    if at is None and fixed.get("mlfid") is not None:
        return None  # an id the same on every line: seen again at once
    host_at, host = None, fixed.get(HOSTS[-1])  # as the engine reads it: the first given
    for name in HOSTS:
        if name in spans:
            host_at, host = spans[name], None
            break
        if fixed.get(name):
            host = fixed[name]
            break
    if at is None:
        nofail = "nofail" in spans or bool(fixed.get("nofail"))
        return index, None, host_at, host, nofail, False, False, found
    first = first_line(fixed, spans)
    if first is None or (host_at is None and host is None):
        return None  # a host still to come marks the id pending
    keep, nofail = first
    return index, at, host_at, host, nofail, nofail and not check_all, keep, found


class Shapes:
    """The entries of the shapes seen, for one filter (see the module text)."""

    def __init__(
        self,
        prefregex: re.Pattern[str] | None,
        content_group: int,
        ignore: Sequence[re.Pattern[str]],
        ignore_early: bool,
        by_first: dict[str, tuple[Run, ...]] | None,
        by_other: tuple[Run, ...],
        blind: frozenset[int],
        check_all: bool,
        regexes: Mapping[int, re.Pattern[str]],
    ) -> None:
        self.prefregex = prefregex
        self.content_group = content_group
        self.ignore = tuple(ignore)
        self.ignore_early = ignore_early
        self.by_first = by_first
        self.by_other = by_other
        self.blind = blind  # indexes of the digit-blind failregexes
        self.check_all = check_all
        self.kept: dict[bytes, Entry | None] = {}
        # the prefregex's groups something reads (see .groups)
        self._pref_names = tuple(
            n for n in ({} if prefregex is None else prefregex.groupindex) if n in READ
        )
        runs = [*by_other, *(r for rules in (by_first or {}).values() for r in rules)]
        # the failregexes whose gate literals hold a digit: a shape cannot rule them out
        self._gate_digits = frozenset(
            r[0] for r in runs if r[2] is not None and any(_DIGIT.search(x) for x in r[2])
        )
        # per failregex run on each line, its gate as one search (made when first needed)
        self._held = _Gates({r[0]: r[2] for r in runs})
        # per failregex, the groups whose place in the line may be kept: those read, and
        # the ALT_ groups that stand in for them
        self._spanned = {
            index: tuple(n for n in regex.groupindex if n in READ or n.startswith("alt_"))
            for index, regex in regexes.items()
        }

    def entry(self, text: str) -> tuple[Entry | None, bool]:
        """(what the regexes make of ``text``, None: nothing (no prefregex match, or an
        early ignoreregex); whether it holds for every line of its shape)."""
        buf = text + "\n"
        if self.ignore_early and _any(self.ignore, buf):
            return None, True
        content_at: tuple[int, int] | None = None
        pref_values: Values = NO_VALUES
        base, limit = 0, len(text)
        alone = False  # an entry for this line only: its failregexes run on it
        if self.prefregex is not None:
            pm = self.prefregex.search(buf)
            if pm is None:
                return None, True
            group = self.content_group
            content = pm.group(group)
            names = self._pref_names
            pref_groups = {n: pm.group(n) for n in names}
            spans = {n: pm.span(n) for n in names}
            kept_values = values(pref_groups, spans, 0, len(text))
            if kept_values is None:  # a group holding a digit reaches into the line break
                kept_values, alone = (pref_groups, ()), True
            pref_values = kept_values
            if content:
                buf = content + "\n"
                content_at = pm.span(group)
                base, limit = content_at[0], len(content)
        by_first = self.by_first
        rules = self.by_other if by_first is None else by_first.get(buf[0], self.by_other)
        found: list[Found] = []
        kept = not alone
        for run in rules:
            index, search, literals, alt_names = run
            blind = index in self.blind and not alone
            gate_reads_digits = index in self._gate_digits
            if (
                literals is not None
                and not any(literal in buf for literal in literals)
                and (blind or not gate_reads_digits)
            ):
                continue  # no line of the shape holds a literal it needs
            if not blind:  # run on each line; its gate too when the gate reads digits
                held = self._held[index] if gate_reads_digits else None
                found.append((index, search, held, alt_names, None))
                continue
            m = search(buf)
            if m is None:
                continue
            groups = m.groupdict()
            spans = {name: m.span(name) for name in self._spanned[index]}
            for key, name in alt_names:
                if groups[key] and not groups.get(name):
                    groups[name], spans[name] = groups[key], spans[key]
            rule_values = values(groups, spans, base, limit)
            if rule_values is None:  # a group reaches into the added line break
                found.append((index, search, self._held[index], alt_names, None))
                kept = False
                continue
            fixed, varying = rule_values
            pref_fixed, pref_varying = pref_values
            for name, value in pref_fixed.items():  # the prefregex's, unless the rule has it
                if name not in groups:
                    fixed[name] = value
            varying += tuple(v for v in pref_varying if v[0] not in groups)
            found.append((index, None, None, None, (fixed, varying)))
        late = bool(found) and bool(self.ignore) and _any(self.ignore, buf)
        fast = None
        if kept and not late and len(found) == 1 and found[0][4] is not None:
            fast = quick(found[0][0], found[0][4], self.check_all)
        return (tuple(found), content_at, pref_values, late, fast), kept


class Holds(dict[bytes, bool]):
    """Whether a line holds one of the prefilter's ``literals``, asked of its bytes with
    every digit read as 0: no literal holds a digit, so a literal is in the line exactly
    when it is there. Kept per shape, as :class:`Shapes` keeps entries."""

    def __init__(self, literals: tuple[bytes, ...]) -> None:
        super().__init__()
        self._search = either(literals)

    def __missing__(self, zeroed: bytes) -> bool:
        held = self._search(zeroed) is not None
        if len(zeroed) <= MAX_SHAPE:
            if len(self) >= MAX_SHAPES:
                self.clear()
            self[zeroed] = held
        return held


def either(literals: Sequence[AnyStr]) -> Callable[[AnyStr], object]:
    """A search for any of ``literals``, text or bytes (it finds None when none is in
    the text; with no literals it never finds one): one call, a few times quicker than
    one ``in`` each."""
    if not literals:
        return _never
    longest_first = sorted(literals, key=len, reverse=True)
    bar = "|" if isinstance(longest_first[0], str) else b"|"
    return re.compile(bar.join(map(re.escape, longest_first))).search


def _never(text: str | bytes) -> None:
    return None


class _Gates(dict[int, "Callable[[str], object] | None"]):
    """A failregex's index -> its gate literals as one search (None: no gate), made when
    first asked: only the failregexes run on each line use it."""

    def __init__(self, literals: Mapping[int, tuple[str, ...] | None]) -> None:
        super().__init__()
        self._literals = literals

    def __missing__(self, index: int) -> Callable[[str], object] | None:
        literals = self._literals[index]
        gate = self[index] = None if literals is None else either(literals)
        return gate


def _any(regexes: Sequence[re.Pattern[str]], text: str) -> bool:
    return any(regex.search(text) is not None for regex in regexes)
