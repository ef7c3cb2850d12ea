"""Whole-chunk scans: a syslog scenario whose pattern finds its own lines.

In an attack storm most lines are hits. Finding each hit line with the scenario's
finder, then searching that line again with its pattern, costs Python work twice per
hit. A scenario whose :class:`~shieldwall.agent.detect.scenarios.SyslogExtract` sets
``scan`` is found instead with one ``finditer`` of its pattern over the whole chunk:
such a pattern never matches a line break nor looks past its line, so the first match
in each line is the match a search of that line gives, and every match holds the
finder's text, so the lines found are the finder's hit lines that the pattern matches.

A search over a hostile line of megabytes that repeats a pattern's first words costs
time quadratic in its length, so a chunk holding a line longer than
:data:`~shieldwall.agent.detect.engine.SYSLOG_SCAN` is never scanned whole: the engine
reads it line by line, each search held to a window (see :func:`has_long_line`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shieldwall.agent.detect.buckets import BucketTable, Offence
    from shieldwall.agent.detect.timestamps import StampReader

MAPPED = (b"::ffff:", b"::FFFF:")  # IPv4-mapped IPv6, as logs write it


def has_long_line(chunk: bytes, limit: int) -> bool:
    """Whether a line of ``chunk`` is longer than ``limit`` bytes (its break not counted).

    A line of more than ``limit`` bytes holds a multiple of ``limit``: so the lines
    holding the positions ``limit``, ``2 * limit``, ... are measured, each with two
    ``bytes.find`` calls, and the rest of the chunk is never read."""
    if limit < 1:
        raise ValueError(f"line length limit {limit!r} is below 1: give e.g. 2048")
    size = len(chunk)
    find, rfind = chunk.find, chunk.rfind
    for probe in range(limit, size, limit):
        end = find(b"\n", probe)
        if (size if end < 0 else end) - rfind(b"\n", 0, probe) - 1 > limit:
            return True
    return False


def scan_chunk(
    pattern: re.Pattern[bytes],
    chunk: bytes,
    base: int,
    now: float,
    stamps: StampReader,
    table: BucketTable,
    found: Callable[[int, bytes, float], None] | None,
) -> tuple[list[tuple[int, Offence]], int]:
    """Count in ``table`` the source of the first match of ``pattern`` in each line of
    ``chunk`` (lines numbered from ``base + 1``, none longer than the syslog window).

    Returns the offences with the number of the line that raised each, and the number
    of hits; ``found(line, source, time)`` is told of every hit when given."""
    count, rfind, find = chunk.count, chunk.rfind, chunk.find
    syslog = stamps.syslog
    events: list[tuple[bytes, float, int]] = []
    event = events.append
    counted = 0
    number = base + 1  # number of the line starting at ``counted``
    last_start = -1
    last_key = b"\n"  # no stamp key holds a line break
    when = now
    for m in pattern.finditer(chunk):
        pos = m.start()
        start = rfind(b"\n", 0, pos) + 1
        if start == last_start:
            continue  # a second match in a line already counted
        last_start = start
        number += count(b"\n", counted, start)
        counted = start
        source = m.group(1)
        if not source:
            source = next((g for g in m.groups() if g), None)
            if source is None:
                continue
        # The line's stamp key, as StampReader.syslog reads it from the whole line: its
        # first 15 bytes (32 when it starts with a digit, an RFC 3339 stamp). Lines of
        # one second share it: when the next 15 bytes are the last key, so is the key.
        key = chunk[start : start + 15]
        if key != last_key:
            if 48 <= key[0] <= 57:
                stop = find(b"\n", start)
                key = chunk[start : start + 32 if stop < 0 else min(start + 32, stop)]
            elif b"\n" in key:  # a line shorter than 15 bytes
                key = key[: key.find(b"\n")]
            if key != last_key:
                last_key = key
                stamp = syslog(key, now)
                when = now if stamp is None else stamp
        if source[0] == 58 and source.startswith(MAPPED) and b"." in source:  # 58: ":"
            source = source[7:]  # IPv4-mapped IPv6: the IPv4 attacker
        if found is not None:
            found(number, source, when)
        event((source, when, number))
    return table.add_all(events), len(events)
