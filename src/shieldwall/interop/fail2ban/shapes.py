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
from collections.abc import Callable, Sequence
from typing import Any

from shieldwall.interop.fail2ban.mlfid import READ

#: A failregex as the engine runs it: index, search, gate literals, ``ALT_`` groups.
Run = tuple[
    int,
    Callable[[str], "re.Match[str] | None"],
    tuple[str, ...] | None,
    tuple[tuple[str, str], ...],
]
#: Group texts: those the same on every line of the shape, and (name, start, end) in
#: the line's text of those that hold digits.
Values = tuple[dict[str, Any], tuple[tuple[str, int, int], ...]]
#: A failregex in an entry: (index, search, gate literals, ALT_ groups, values): with
#: ``search`` None it matched the shape and ``values`` are its groups; else it is run
#: on the line (its values are None).
Found = tuple[int, Any, Any, Any, Values | None]
#: (the failregexes that matched or are run per line, in order; where the prefregex's
#: content is in the line, or None; the prefregex's groups; whether an ignoreregex
#: matches what the failregexes search)
Entry = tuple[tuple[Found, ...], tuple[int, int] | None, Values, bool]

#: A line as the engine takes it: its number, its bytes (no line break), and its bytes
#: with every digit read as 0 (None: not known).
Line = tuple[int, bytes, "bytes | None"]

MISSING: Any = object()  # what a memo lookup gives for a shape not seen
MAX_SHAPE = 1024  # longer lines are matched on their own, never kept
MAX_SHAPES = 16384
_NO_VALUES: Values = ({}, ())
_DIGIT = re.compile(r"[0-9]")


def values(groups: dict[str, Any], spans: dict[str, tuple[int, int]], base: int, limit: int) -> Values | None:  # fmt: skip
    """``groups`` as :data:`Values`, a group at ``spans[name]`` + ``base`` in the line;
    None when a group holding a digit ends past ``limit`` (the line break the engine
    adds to the text: it is not in the line)."""
    fixed: dict[str, Any] = {}
    varying: list[tuple[str, int, int]] = []
    for name, value in groups.items():
        if name not in READ:
            continue  # nothing reads it: left out of the copies made per line
        if value is None or _DIGIT.search(value) is None:
            fixed[name] = value
            continue
        start, end = spans[name]
        if end > limit:
            return None
        varying.append((name, start + base, end + base))
    return fixed, tuple(varying)


def materialise(found: Values, text: str) -> dict[str, Any]:
    """The groups of ``found`` for the line ``text`` (a new dict: the caller owns it)."""
    fixed, varying = found
    groups = fixed.copy()
    for name, start, end in varying:
        groups[name] = text[start:end]
    return groups


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
    ) -> None:
        self.prefregex = prefregex
        self.content_group = content_group
        self.ignore = tuple(ignore)
        self.ignore_early = ignore_early
        self.by_first = by_first
        self.by_other = by_other
        self.blind = blind  # indexes of the digit-blind failregexes
        self.kept: dict[bytes, Entry | None] = {}

    def entry(self, text: str) -> tuple[Entry | None, bool]:
        """(what the regexes make of ``text``, None: nothing (no prefregex match, or an
        early ignoreregex); whether it holds for every line of its shape)."""
        buf = text + "\n"
        if self.ignore_early and _any(self.ignore, buf):
            return None, True
        content_at: tuple[int, int] | None = None
        pref_values: Values = _NO_VALUES
        base, limit = 0, len(text)
        alone = False  # an entry for this line only: its failregexes run on it
        if self.prefregex is not None:
            pm = self.prefregex.search(buf)
            if pm is None:
                return None, True
            group = self.content_group
            content = pm.group(group)
            names = [n for n in self.prefregex.groupindex if n != "content"]
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
            gate_reads_digits = literals is not None and any(_DIGIT.search(x) for x in literals)
            if (
                literals is not None
                and not any(literal in buf for literal in literals)
                and (blind or not gate_reads_digits)
            ):
                continue  # no line of the shape holds a literal it needs
            if not blind:  # run on each line; its gate too when the gate reads digits
                found.append((index, search, literals if gate_reads_digits else None, alt_names, None))  # fmt: skip
                continue
            m = search(buf)
            if m is None:
                continue
            groups = m.groupdict()
            spans = {name: m.span(name) for name in groups}
            for key, name in alt_names:
                if groups[key] and not groups.get(name):
                    groups[name], spans[name] = groups[key], spans[key]
            rule_values = values(groups, spans, base, limit)
            if rule_values is None:  # a group reaches into the added line break
                found.append((index, search, literals, alt_names, None))
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
        return (tuple(found), content_at, pref_values, late), kept


class Holds(dict[bytes, bool]):
    """Whether a line holds one of the prefilter's ``literals``, asked of its bytes with
    every digit read as 0: no literal holds a digit, so a literal is in the line exactly
    when it is there. Kept per shape, as :class:`Shapes` keeps entries."""

    def __init__(self, literals: tuple[bytes, ...]) -> None:
        super().__init__()
        self.literals = literals

    def __missing__(self, zeroed: bytes) -> bool:
        held = any(literal in zeroed for literal in self.literals)
        if len(zeroed) <= MAX_SHAPE:
            if len(self) >= MAX_SHAPES:
                self.clear()
            self[zeroed] = held
        return held


def _any(regexes: Sequence[re.Pattern[str]], text: str) -> bool:
    return any(regex.search(text) is not None for regex in regexes)
