"""Finding the lines of a chunk a scenario may concern, with scans at C speed.

A finder returns every line that can match its scenario, and maybe a few more: the
scenario's own check runs on each line found and rejects the others. A hit is
recorded as one int, ``start << SHIFT | scenario index``, so a plain integer sort puts
the hits of all scenarios in line order.

The regex engine is fast when a pattern starts with literal text (it looks for the
first byte with a tight loop) and slow when it must test a set of first bytes at every
position. Finders are therefore literals found with ``bytes.find``, regexes that start
with literal text, or a :class:`TailFinder` for text that has no such literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SHIFT = 5  # up to 32 scenarios
MAX_SCENARIOS = 1 << SHIFT


@dataclass(frozen=True)
class TailFinder:
    """Lines whose text after their first ``marker`` contains a match of ``regex``.

    Busy access logs repeat a handful of user agents thousands of times. So the text
    after the first ``marker`` of every line (the "tail") is collected at C speed,
    each distinct tail is checked once, and the lines with a matching tail are found
    again with ``bytes.find``. When more than ``max_tails`` distinct tails match (an
    attacker varying his user agent), ``regex`` scans the chunk instead: the cost stays
    bounded by the plain scan.
    """

    marker: bytes
    regex: re.Pattern[bytes]
    max_tails: int = 8
    _tails: re.Pattern[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tails", re.compile(re.escape(self.marker) + rb"(.*)"))


Finder = tuple[bytes, ...] | re.Pattern[bytes] | TailFinder


def hit_lines(
    finder: Finder, chunk: bytes, index: int, keys: list[int], ends: dict[int, int]
) -> None:
    """Append ``start << SHIFT | index`` for every line of ``chunk`` the finder hits, each
    line once, and record in ``ends`` where each such line ends."""
    if isinstance(finder, tuple):
        _literals(finder, chunk, index, keys, ends)
    elif isinstance(finder, TailFinder):
        _tails(finder, chunk, index, keys, ends)
    else:
        _regex(finder, chunk, index, keys, ends)


def _literals(
    literals: tuple[bytes, ...], chunk: bytes, index: int, keys: list[int], ends: dict[int, int]
) -> None:
    size = len(chunk)
    rfind, find = chunk.rfind, chunk.find
    append = keys.append
    seen: set[int] | None = set() if len(literals) > 1 else None
    for literal in literals:
        pos = find(literal)
        while pos >= 0:
            start = rfind(b"\n", 0, pos) + 1
            end = find(b"\n", pos + len(literal))
            if end < 0:
                end = size
            if seen is None:
                append(start << SHIFT | index)
            elif start not in seen:
                seen.add(start)
                append(start << SHIFT | index)
            ends[start] = end
            pos = find(literal, end + 1)


def _regex(
    regex: re.Pattern[bytes], chunk: bytes, index: int, keys: list[int], ends: dict[int, int]
) -> None:
    size = len(chunk)
    rfind, find = chunk.rfind, chunk.find
    append = keys.append
    search = regex.search
    pos = 0
    while pos < size:
        m = search(chunk, pos)
        if m is None:
            break
        start = rfind(b"\n", 0, m.start()) + 1
        end = find(b"\n", m.end())
        if end < 0:
            end = size
        append(start << SHIFT | index)
        ends[start] = end
        pos = end + 1


def _tails(
    finder: TailFinder, chunk: bytes, index: int, keys: list[int], ends: dict[int, int]
) -> None:
    search = finder.regex.search
    matching = [tail for tail in set(finder._tails.findall(chunk)) if search(tail) is not None]
    if not matching:
        return
    if len(matching) > finder.max_tails:
        _regex(finder.regex, chunk, index, keys, ends)
        return
    # Every line whose first marker is followed by ``tail`` contains marker + tail, and
    # then its newline or the end of the chunk.
    size = len(chunk)
    rfind, find = chunk.rfind, chunk.find
    starts: set[int] = set()
    for tail in matching:
        needle = finder.marker + tail + b"\n"
        pos = find(needle)
        while pos >= 0:
            end = pos + len(needle) - 1
            start = rfind(b"\n", 0, pos) + 1
            starts.add(start)
            ends[start] = end
            pos = find(needle, end + 1)
        if chunk.endswith(needle[:-1]):
            start = rfind(b"\n", 0, size - len(needle) + 1) + 1
            starts.add(start)
            ends[start] = size
    keys.extend(start << SHIFT | index for start in starts)
