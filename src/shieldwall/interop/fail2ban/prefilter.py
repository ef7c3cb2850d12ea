"""Literal text a regex cannot match without: the cheap bytes test run before any regex.

For each regex we find a set of strings one of which every match must contain (a
literal run, or one literal per alternative of a branch). A line containing none of
the strings of any regex cannot match, and is skipped without running a regex.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Collection
from functools import lru_cache
from typing import Any

# The regex parser's own view of a pattern (private modules of ``re`` in 3.11+).
C: Any = importlib.import_module("re._constants")
P: Any = importlib.import_module("re._parser")

MIN_LITERAL = 3

Factor = frozenset[str] | None  # None: no required literal known


def _score(f: Factor) -> int:
    return min((len(s) for s in f), default=0) if f else 0


def _best(options: list[Factor]) -> Factor:
    best: Factor = None
    for f in options:
        if f and _score(f) > _score(best):
            best = f
    return best


def _sequence(items: Any) -> Factor:
    return _best(_candidates(items))


def _candidates(items: Any) -> list[Factor]:
    """Per part of a sequence that every match goes through, the strings one of which
    that part cannot match without (None: not known)."""
    candidates: list[Factor] = []
    run: list[str] = []
    for op, av in items:
        if op is C.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append(frozenset(["".join(run)]))
            run = []
        if op is C.SUBPATTERN:
            candidates.append(_sequence(av[-1]))
        elif op is C.ATOMIC_GROUP:
            candidates.append(_sequence(av))
        elif op is C.BRANCH:
            parts = [_sequence(alt) for alt in av[1]]
            if all(parts):
                candidates.append(frozenset().union(*[p for p in parts if p]))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:
            candidates.append(_sequence(av[2]))
    if run:
        candidates.append(frozenset(["".join(run)]))
    return candidates


def _usable(factor: frozenset[str]) -> bool:
    # A literal that contains "[]" may span a date fail2ban removed: not safe to require.
    return _score(factor) >= MIN_LITERAL and not any("[]" in s for s in factor)


@lru_cache(maxsize=512)
def parse(pattern: str, flags: int = 0) -> Any:
    """The regex parser's tree of ``pattern``, kept: a filter's regexes are read by
    several analyses (literals, first characters, the engine's gates) and parsing is
    most of what loading a filter costs. The tree is only ever read."""
    return P.parse(pattern, flags)


@lru_cache(maxsize=512)
def required_literals(regex: str) -> tuple[frozenset[str] | None, bool]:
    """(strings one of which every match contains, ignore-case) or (None, _)."""
    try:
        parsed = parse(regex)
    except re.error:
        return None, False
    ignore_case = bool(parsed.state.flags & re.IGNORECASE) or "(?i" in regex
    factor = _sequence(parsed.data)
    if not factor or not _usable(factor):
        return None, ignore_case
    return factor, ignore_case


def _other_factors(regex: str) -> list[frozenset[str]]:
    """The other sets of strings (than :func:`required_literals`) the regex cannot match
    without one of, best first."""
    parsed = parse(regex)
    found = [f for f in _candidates(parsed.data) if f and _usable(f)]
    return sorted(found, key=_score, reverse=True)


def _minimal(literals: Collection[str]) -> set[str]:
    """The literals that hold no other one: a line holding a literal holds one of them."""
    return {s for s in literals if not any(o != s and o in s for o in literals)}


@lru_cache(maxsize=64)
def _union(regexes: tuple[str, ...]) -> tuple[frozenset[str], bool] | None:
    """The required literals of all regexes, and whether any is case-insensitive.

    Each regex gives its best literals, unless another set it cannot match without is
    found by the literals the other regexes give anyway: ``disconnect`` rather than
    ``: Auth fail`` when another regex needs ``disconnect`` (one scan fewer, and no
    line more). Kept per list of regexes: a filter's two prefilters ask for the same."""
    chosen: list[frozenset[str]] = []
    ignore_case = False
    for regex in regexes:
        factor, icase = required_literals(regex)
        if factor is None:
            return None
        ignore_case = ignore_case or icase
        chosen.append(factor)
    for i, regex in enumerate(regexes):
        others = _minimal(set().union(*(c for j, c in enumerate(chosen) if j != i)))
        for factor in _other_factors(regex):
            if factor != chosen[i] and all(any(o in s for o in others) for s in factor):
                chosen[i] = factor
                break
    literals = frozenset().union(*chosen)
    if not literals:
        return None
    return literals, ignore_case


def build_prefilter(regexes: list[str]) -> re.Pattern[bytes] | None:
    """One bytes regex finding any required literal of any regex, or None if impossible."""
    union = _union(tuple(regexes))
    if union is None:
        return None
    literals, ignore_case = union
    # Longest first so the alternation prefers informative hits; all are equivalent.
    alternation = b"|".join(
        re.escape(s.encode("utf-8")) for s in sorted(literals, key=lambda s: (-len(s), s))
    )
    return re.compile(alternation, re.IGNORECASE if ignore_case else 0)


def prefilter_literals(regexes: list[str]) -> tuple[bytes, ...] | None:
    """The same test as :func:`build_prefilter` as a few strings for ``bytes.find``.

    A line contains one of them exactly when it contains a literal of the prefilter: a
    literal that contains another one is left out, as the shorter one finds its lines.
    ``bytes.find`` runs at memory speed, while the regex alternation is tried at every
    position whose byte starts some literal, which in a log is nearly every position.
    None when the prefilter is case-insensitive or impossible, or a literal holds a line
    break (the regex then decides, as before).
    """
    union = _union(tuple(regexes))
    if union is None or union[1] or any("\n" in s for s in union[0]):
        return None
    kept = _minimal(union[0])
    return tuple(s.encode("utf-8") for s in sorted(kept, key=lambda s: (-len(s), s)))
