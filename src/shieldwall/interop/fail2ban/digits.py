"""Regexes that cannot tell one ASCII digit from another.

A regex is *digit-blind* when every character test in it holds for all of ``0``-``9``
or for none of them: no literal digit, no class holding some digits and not others,
no back reference (which compares text). Python's regex engine reads a text only
through such tests, anchors and boundaries (for which every ASCII digit is a word
character, not a space, not a line break), and counts of repetitions. So two texts
that differ only in which ASCII digit stands at some places are matched alike by a
digit-blind regex: the same match or none, every group at the same span. Each group's
text differs at most in those digits; a group's text that holds no digit is the same.

This is what lets the fail2ban engine run a filter's regexes once per *shape* of line
(its text with every digit read as ``0``) rather than once per line: in an attack
storm the lines differ in addresses, ports and process ids, and a few hundred shapes
cover hundreds of thousands of lines.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from shieldwall.interop.fail2ban.prefilter import C, parse

#: bytes.translate table: every ASCII digit read as ``0``.
AS_ZERO = bytes.maketrans(b"123456789", b"000000000")

_DIGITS = range(0x30, 0x3A)
_ALL_DIGITS = frozenset(_DIGITS)
_REPEATS = (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT)
# Categories (``\d``, ``\w``, ``\S`` ...) that hold the ASCII digits; the others hold none.
_HOLD_DIGITS = frozenset(["CATEGORY_DIGIT", "CATEGORY_WORD", "CATEGORY_NOT_SPACE", "CATEGORY_NOT_LINEBREAK"])  # fmt: skip
_NO_DIGITS = frozenset(["CATEGORY_NOT_DIGIT", "CATEGORY_NOT_WORD", "CATEGORY_SPACE", "CATEGORY_LINEBREAK"])  # fmt: skip


@lru_cache(maxsize=512)
def digit_blind(pattern: str, flags: int = 0) -> bool:
    """Whether ``pattern`` (a text pattern) matches any two texts that differ only in
    their ASCII digits alike (see the module text). False when not sure."""
    try:
        parsed = parse(pattern, flags & ~re.UNICODE)
    except re.error:
        return False
    return _blind(parsed.data)


def _blind(items: Any) -> bool:
    for op, av in items:
        if op is C.LITERAL or op is C.NOT_LITERAL:
            if av in _ALL_DIGITS:
                return False
        elif op is C.IN:
            if not _uniform(av):
                return False
        elif op is C.ANY or op is C.AT:
            continue
        elif op is C.SUBPATTERN:
            if not _blind(av[-1]):
                return False
        elif op is C.ATOMIC_GROUP:
            if not _blind(av):
                return False
        elif op is C.BRANCH:
            if not all(_blind(alt) for alt in av[1]):
                return False
        elif op in _REPEATS:
            if not _blind(av[2]):
                return False
        elif op is C.ASSERT or op is C.ASSERT_NOT:
            if not _blind(av[1]):
                return False
        elif op is C.GROUPREF_EXISTS:  # reads whether a group took part, not its text
            _, yes, no = av
            if not _blind(yes) or (no is not None and not _blind(no)):
                return False
        else:  # a back reference compares text; anything unknown: not sure
            return False
    return True


def _uniform(items: Any) -> bool:
    """Whether a character class holds every ASCII digit or none."""
    held: set[int] = set()
    for op, av in items:
        if op is C.NEGATE:
            continue  # the complement of all or none is all or none
        if op is C.LITERAL:
            if av in _ALL_DIGITS:
                held.add(av)
        elif op is C.RANGE:
            held.update(d for d in _DIGITS if av[0] <= d <= av[1])
        elif op is C.CATEGORY:
            name = str(av)
            if name in _HOLD_DIGITS:
                return True  # every digit is in: literals and ranges add nothing
            if name not in _NO_DIGITS:
                return False
        else:
            return False
    return not held or held == _ALL_DIGITS
