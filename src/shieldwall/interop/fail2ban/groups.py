"""A failregex's groups as kept for every line of one shape (see :mod:`.shapes`).

:data:`Values` hold the group texts that are the same on every line of the shape and,
for each group that holds a digit, where it is in the line: :func:`materialise` makes
a line's groups from them. Only the groups something reads are kept (:data:`READ`):
the connection-id merge (:mod:`.mlfid`) and the host.
"""

from __future__ import annotations

import re
from typing import Any

#: The groups anything reads once a failregex matched: the merge, and the host.
MERGED = ("mlfid", "nofail", "mlfgained", "mlfforget", "mlfpending", "user", "users")
HOSTS = ("ip4", "ip6", "dns", "fid")  # in the order the host is taken
READ = frozenset((*MERGED, *HOSTS))

#: Group texts: those the same on every line of the shape, and (name, start, end) in
#: the line's text of those that hold digits.
Values = tuple[dict[str, Any], tuple[tuple[str, int, int], ...]]
NO_VALUES: Values = ({}, ())

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
