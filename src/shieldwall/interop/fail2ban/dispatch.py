"""Which failregexes a line can match, found without running them.

Two tests, both read from the regex's own parse, both only ever skip a regex that
cannot match:

* a regex bound to the start of the text (``^`` without multi-line mode, as nearly
  every fail2ban failregex is) can only match a text whose first character is one its
  match can begin with: ``^Failed `` needs an ``F``, ``^[iI]nvalid`` an ``i`` or ``I``.
  :func:`rule_table` gives, per first character, the failregexes (in order) that can
  match there, so a line is tried against the two or three regexes of its first
  word, not against all of them;
* a regex with a required literal (:func:`.prefilter.required_literals`) is not run
  on a text that holds none of its strings (the engine's gate).

A regex that is not bound to the text start, or is case-insensitive or multi-line
there, or can begin its match with ``.``, a character category (``\\w``...), a negated
class or a back reference, "can start with anything": it is tried on every line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from shieldwall.interop.fail2ban.prefilter import C, parse, required_literals

MAX_RANGE = 256  # a character range wider than this counts as "any character"

_CASE_OR_LINES = re.IGNORECASE | re.MULTILINE
_ZERO_WIDTH = (C.AT, C.ASSERT, C.ASSERT_NOT)
_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)

# The first characters of a match and whether the part can match the empty text;
# None: any character (or not known).
First = tuple[frozenset[str], bool] | None
T = TypeVar("T")


def first_chars(regex: re.Pattern[str]) -> frozenset[str] | None:
    """The characters a match of ``regex`` found by ``search`` can begin with, when it
    can only match at the start of the text and never matches the empty text; else
    None (the regex can match anywhere, or with any first character)."""
    if regex.flags & _CASE_OR_LINES:
        return None
    try:
        # the tree the other analyses read (a text pattern is Unicode with or without
        # the flag: the parser adds it)
        parsed = parse(regex.pattern, regex.flags & ~re.UNICODE)
    except re.error:
        return None
    if parsed.state.flags & _CASE_OR_LINES or not _anchored(parsed.data):
        return None
    first = _sequence(parsed.data)
    if first is None or first[1]:
        return None
    return first[0]


def _anchored(items: Any) -> bool:
    """Whether every match of ``items`` starts at the start of the text."""
    if not items:
        return False
    op, av = items[0]
    if op is C.AT:
        return av is C.AT_BEGINNING or av is C.AT_BEGINNING_STRING
    if op is C.SUBPATTERN:
        return not av[1] & _CASE_OR_LINES and _anchored(av[-1])
    if op is C.ATOMIC_GROUP:
        return _anchored(av)
    if op is C.BRANCH:
        return all(_anchored(alt) for alt in av[1])
    return False


def _sequence(items: Any) -> First:
    chars: set[str] = set()
    for op, av in items:
        part = _item(op, av)
        if part is None:
            return None
        chars.update(part[0])
        if not part[1]:
            return frozenset(chars), False
    return frozenset(chars), True


def _union(parts: list[First]) -> First:
    chars: set[str] = set()
    empty = False
    for part in parts:
        if part is None:
            return None
        chars.update(part[0])
        empty = empty or part[1]
    return frozenset(chars), empty


def _item(op: Any, av: Any) -> First:
    if op is C.LITERAL:
        return frozenset([chr(av)]), False
    if op is C.IN:
        return _char_class(av)
    if op in _ZERO_WIDTH:
        return frozenset(), True
    if op is C.SUBPATTERN:
        if av[1] & _CASE_OR_LINES:
            return None
        return _sequence(av[-1])
    if op is C.ATOMIC_GROUP:
        return _sequence(av)
    if op is C.BRANCH:
        return _union([_sequence(alt) for alt in av[1]])
    if op is C.GROUPREF_EXISTS:
        _, yes, no = av
        return _union([_sequence(yes), _sequence(no) if no is not None else (frozenset(), True)])
    if op in _REPEATS:
        low, _, body = av
        part = _sequence(body)
        if part is None:
            return None
        return part[0], part[1] or low == 0
    return None  # ANY, NOT_LITERAL, GROUPREF, CATEGORY...: any character


def _char_class(items: Any) -> First:
    chars: set[str] = set()
    for op, av in items:
        if op is C.LITERAL:
            chars.add(chr(av))
        elif op is C.RANGE and av[1] - av[0] < MAX_RANGE:
            chars.update(chr(c) for c in range(av[0], av[1] + 1))
        else:  # NEGATE, CATEGORY, a wide range
            return None
    return frozenset(chars), False


def gate(regex: re.Pattern[str]) -> tuple[str, ...] | None:
    """Strings one of which a text must hold for ``regex`` to match it (longest first),
    or None: no such strings known, run the regex on every text."""
    literals, ignore_case = required_literals(regex.pattern)
    if literals is None or ignore_case or regex.flags & re.IGNORECASE:
        return None
    return tuple(sorted(literals, key=len, reverse=True))


def rule_table(
    rules: Sequence[T], starts: Sequence[frozenset[str] | None]
) -> tuple[dict[str, tuple[T, ...]], tuple[T, ...]]:
    """(first character -> the rules that can match a text starting with it, the rules
    for any other first character), each in the order of ``rules``.

    ``starts[i]`` is :func:`first_chars` of ``rules[i]``; a rule with None is in every
    entry."""
    table: dict[str, tuple[T, ...]] = {}
    for char in sorted(set().union(*(s for s in starts if s is not None))):
        table[char] = tuple(r for r, s in zip(rules, starts, strict=True) if s is None or char in s)
    other = tuple(r for r, s in zip(rules, starts, strict=True) if s is None)
    return table, other
