"""Finding the lines of a chunk that hold a prefilter literal, at C speed.

One ``bytes.find`` scan of the chunk per string costs about the same whatever the
string, so the fewer strings the better. Literals that share a piece of
:data:`MIN_SHARED` bytes or more are found with one scan for that piece: each place the
piece is found is then checked for one of its literals around it (``startswith`` at
the piece's offset in the literal), so the lines found are exactly the lines holding a
literal, as with one scan per literal. Debian's ``sshd.conf`` has seven literals
``" not allowed because ..."`` and ``"Change of username or service not allowed:"``:
one scan for ``" not allowed"`` finds them all.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

MIN_SHARED = 9  # a shorter shared piece is found in too many places that are not a literal


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan: where ``piece`` is found, a line holds one of the literals of
    ``checks`` (a literal and the piece's offset in it); no checks: the piece is one
    of the literals itself."""

    piece: bytes
    checks: tuple[tuple[bytes, int], ...] = ()


@lru_cache(maxsize=128)
def scan_plan(literals: tuple[bytes, ...], min_shared: int = MIN_SHARED) -> tuple[Scan, ...]:
    """The scans that find the lines holding one of ``literals`` (none holds another).

    Greedy: the piece of ``min_shared`` bytes held by the most literals, made as long
    as all of them allow, stands for them; again, until no piece is shared."""
    literals = tuple(dict.fromkeys(literals))
    grams = {lit: {lit[i : i + min_shared] for i in range(len(lit) - min_shared + 1)} for lit in literals}  # fmt: skip
    holders = Counter(g for lit in literals for g in grams[lit])
    remaining = list(literals)
    scans: list[Scan] = []
    while True:
        shared = [(n, gram) for gram, n in holders.items() if n > 1]
        if not shared:
            break
        gram = max(shared)[1]
        group = [lit for lit in remaining if gram in grams[lit]]
        piece = _widest(gram, group)
        checks = tuple((lit, off) for lit in group for off in _offsets(lit, piece))
        scans.append(Scan(piece, () if piece in group else checks))
        for lit in group:
            remaining.remove(lit)
            holders.subtract(grams[lit])
    scans.extend(Scan(lit) for lit in remaining)
    return tuple(scans)


def _widest(gram: bytes, group: list[bytes]) -> bytes:
    """``gram`` grown left and right while every literal of ``group`` (each at the
    first place it holds ``gram``) has the same bytes around it."""
    at = [lit.find(gram) for lit in group]
    first, where = group[0], at[0]
    left = 0
    while all(a - left - 1 >= 0 for a in at) and all(
        lit[a - left - 1] == first[where - left - 1] for lit, a in zip(group, at, strict=True)
    ):
        left += 1
    right = 0
    end = [a + len(gram) for a in at]
    while all(e + right < len(lit) for lit, e in zip(group, end, strict=True)) and all(
        lit[e + right] == first[end[0] + right] for lit, e in zip(group, end, strict=True)
    ):
        right += 1
    return first[where - left : end[0] + right]


def _offsets(literal: bytes, piece: bytes) -> list[int]:
    found = []
    i = literal.find(piece)
    while i >= 0:
        found.append(i)
        i = literal.find(piece, i + 1)
    return found


def literal_line_ends(chunk: bytes, scans: tuple[Scan, ...]) -> list[int]:
    """Where every line holding a literal of ``scans`` ends (its line break, or the end
    of the chunk), in order: one ``bytes.find`` scan per piece, each jumping to the next
    line after a hit."""
    ends: set[int] = set()
    find = chunk.find
    startswith = chunk.startswith
    for scan in scans:
        piece, checks = scan.piece, scan.checks
        i = find(piece)
        while i >= 0:
            if checks:
                for literal, offset in checks:
                    if offset <= i and startswith(literal, i - offset):
                        break
                else:  # the piece, but none of its literals: look further on this line
                    i = find(piece, i + 1)
                    continue
            end = find(b"\n", i)
            if end < 0:
                ends.add(len(chunk))
                break
            ends.add(end)
            i = find(piece, end + 1)
    return sorted(ends)


def regex_line_ends(chunk: bytes, prefilter: re.Pattern[bytes]) -> list[int]:
    """Where every line in which a match of ``prefilter`` starts ends, in order (a
    literal may end with the line's own line break)."""
    ends: list[int] = []
    size = len(chunk)
    pos = 0
    search = prefilter.search
    while pos < size:
        m = search(chunk, pos)
        if m is None:
            break
        end = chunk.find(b"\n", m.start())
        if end < 0:
            end = size
        ends.append(end)
        pos = end + 1
    return ends


def numbered_lines(
    chunk: bytes, ends: list[int], base: int
) -> tuple[list[tuple[int, bytes, None]], int]:
    """((line number, bytes, None) of each line ending at one of ``ends``, the number of
    the chunk's last line); the chunk's first line is ``base + 1``. Each byte is counted
    once: from one line found to the next."""
    count = chunk.count
    rfind = chunk.rfind
    lines: list[tuple[int, bytes, None]] = []
    counted = 0  # where the line after the last one found starts
    number = base  # the number of the line before ``counted``
    for end in ends:
        number += count(b"\n", counted, end) + 1
        newline = rfind(b"\n", counted, end)
        start = counted if newline < 0 else newline + 1
        lines.append((number, chunk[start:end], None))
        counted = end + 1
    if counted > len(chunk):  # the last line found had no line break
        return lines, number
    return lines, number + count(b"\n", counted) + (chunk[-1:] not in (b"\n", b""))
