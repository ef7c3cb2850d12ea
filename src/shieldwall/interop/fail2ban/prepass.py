"""The pass over a chunk's lines before the filter engine takes them in order: what date
each line has and what its shape's entry is (:mod:`.shapes`).

Most of it is C work over the whole chunk (``map`` over its lines' heads and shapes); the
dates searched and the shapes made are the new ones, in the lines' order, so what each
line gets is what the engine would find taking the lines one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress, repeat
from operator import is_, itemgetter
from typing import Any

from shieldwall.interop.fail2ban.dates import DateDetector
from shieldwall.interop.fail2ban.digits import AS_ZERO
from shieldwall.interop.fail2ban.shapes import MAX_SHAPE, MAX_SHAPES, MISSING, Entry, Shapes

DateFound = tuple[int, int, float | None] | None  # what DateDetector.locate finds
_HEAD = itemgetter(slice(None, 17))  # a line's head, as DateDetector.heads keys it


def cut(text: str, found: DateFound) -> str:
    """``text`` without the date ``found`` in it: the date leaves the line, as in fail2ban."""
    if found is None:
        return text
    start, end, _ = found
    if start == 0:
        return text[end:]
    return text if start == end else text[:start] + text[end:]


def _shape_key(text: str, zeroed: bytes | None, found: DateFound) -> bytes | None:
    """A line's shape (see .shapes): its digits read as 0, without its date; None for a
    line that is not ASCII."""
    if zeroed is None:
        line = cut(text, found)
        return line.encode().translate(AS_ZERO) if line.isascii() else None
    if found is None:
        return zeroed
    start, end, _ = found
    return zeroed[end:] if start == 0 else zeroed[:start] + zeroed[end:]


def dates_of(dates: DateDetector, texts: Sequence[str], now: float) -> list[DateFound]:
    """What :meth:`DateDetector.locate` finds in each line, in order, with one search
    per head not seen before (see :meth:`DateDetector.heads`).

    The first line of each new head is located, in order; every line of a head the
    detector keeps then takes what its first found, without a call. From the first
    line whose head is not kept (another template, no date), or at which another
    template takes over, the lines are located one by one, as without this."""
    heads = dates.heads(now)
    keys = list(map(_HEAD, texts))
    founds: list[DateFound] = list(map(heads.get, keys))
    unseen = list(compress(range(len(founds)), map(is_, founds, repeat(None))))
    if not unseen:
        return founds
    locate = dates.locate
    takeovers = dates.takeovers
    # what each head found (heads may be emptied meanwhile)
    table: dict[str, DateFound] = dict(heads)
    stop = len(texts)
    for i in unseen:
        key = keys[i]
        if key in table:
            continue  # a line before it in this chunk had its head
        found = locate(texts[i], now)
        if key not in heads or dates.takeovers != takeovers:
            founds[i], stop = found, i  # one by one from here
            break
        table[key] = found
    founds[:stop] = map(table.get, keys[:stop])
    for j in range(stop + 1, len(texts)):
        found = heads.get(keys[j])
        founds[j] = locate(texts[j], now) if found is None else found
    return founds


def entries_of(
    shapes: Shapes,
    texts: Sequence[str],
    zeroed: Sequence[bytes | None],
    founds: list[DateFound],
) -> list[Entry | None]:
    """What the regexes make of each line: its shape's entry (made for the shapes
    not seen yet, kept when they hold for every line of the shape)."""
    # the shape: the line's digits read as 0 without its date (its bytes' when they
    # are its text: the zeroed bytes of an ASCII line)
    keys = [
        z[f[1] :] if z is not None and f is not None and not f[0] else _shape_key(t, z, f)
        for t, z, f in zip(texts, zeroed, founds, strict=True)
    ]
    kept = shapes.kept
    entries: list[Any] = list(map(kept.get, keys, repeat(MISSING)))  # type: ignore[arg-type]
    make = shapes.entry
    for i in list(compress(range(len(entries)), map(is_, entries, repeat(MISSING)))):
        text, key = texts[i], keys[i]
        if not text:
            entries[i] = None
            continue
        line = cut(text, founds[i])
        if key is None or len(key) > MAX_SHAPE:
            entries[i] = make(line)[0]  # matched alone, never kept
            continue
        entry = kept.get(key, MISSING)  # a line before it in this chunk made it
        if entry is MISSING:
            entry, same = make(line)
            if same:
                if len(kept) >= MAX_SHAPES:
                    kept.clear()
                kept[key] = entry
        entries[i] = entry
    return entries
