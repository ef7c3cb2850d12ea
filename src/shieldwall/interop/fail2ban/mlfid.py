"""fail2ban's connection ids: what ``<F-MLFID>`` lines of one connection share.

A failregex with ``<F-MLFID>`` names the connection a line belongs to (sshd's process
id, for instance). fail2ban's ``Filter._mergeFailure`` keeps, per id, the groups of its
lines seen so far, so a failure on one line can take the host another line gave; a
``<F-NOFAIL>`` line is a helper, not a failure; ``<F-MLFFORGET>`` drops the id;
``<F-MLFGAINED>`` (the login succeeded) clears the failures the id had pending. The
ids live in a bounded cache: at most :data:`MLFID_CACHE_SIZE`, the oldest leaves first,
and one first seen more than :data:`MLFID_CACHE_TTL` seconds before a line of it is
forgotten.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from shieldwall.interop.fail2ban.groups import Values, materialise

MLFID_CACHE_SIZE = 100
MLFID_CACHE_TTL = 300.0

#: An id's groups: a dict, or (values, text) when they are not made yet. Most ids of a
#: storm are never seen again: their groups are made only if they are.
Groups = dict[str, Any] | tuple[Values, str]


def first_line(fixed: dict[str, Any], varying: Collection[str]) -> tuple[bool, bool] | None:
    """What :meth:`ConnectionIds.merge` makes of a line whose id is new, from its groups'
    texts that are the same on every line of its shape (``fixed``) and the names of
    those that hold the line's digits (``varying``, never empty): (whether the id is
    kept with the line's groups as they are, whether the line is no failure). None when
    that hangs on more (a set of users made, a pending mark read)."""
    if "users" in fixed or "users" in varying or "mlfpending" in fixed or "mlfpending" in varying:
        return None
    forget = "mlfforget" in varying or bool(fixed.get("mlfforget"))
    gained = "mlfgained" in varying or bool(fixed.get("mlfgained"))
    nofail = "nofail" in varying or bool(fixed.get("nofail"))
    if not forget and not gained:
        return True, nofail  # kept as it is (mlfforget, if there, is empty)
    if forget:
        return False, nofail or gained  # forgotten at once
    return None  # a login that succeeded starts the id's set of users


class ConnectionIds:
    def __init__(self) -> None:
        # id -> (first seen, its groups); a dict keeps the order ids came in. A caller
        # that knows a line's id is new and that merge would keep its groups as they are
        # (first_line) may store them here as (values, text) without a merge, after
        # dropping the oldest id when MLFID_CACHE_SIZE are known (the engine does).
        self.known: dict[str, tuple[float, Groups]] = {}

    def __len__(self) -> int:
        return len(self.known)

    def merge(self, mlfid: str, fail: dict[str, Any], number: int, when: float) -> dict[str, Any]:
        """The groups of line ``number`` merged with what its id gathered (fail2ban's
        ``Filter._mergeFailure``); ``nofail`` in the result: not a failure.

        fail2ban also gathers each id's matched lines, for the message of a ban; nothing
        here reads them, so they are not kept: what a line is (a failure or not, its
        host, a host still pending) depends only on the groups and users merged here."""
        cache = self.known
        entry = cache.get(mlfid)
        if entry is None:
            get = fail.get
            if not get("mlfforget") and not get("mlfgained") and "users" not in fail:
                # a new id, the common case: its users are made a set when a second
                # line of it comes (they are this line's user until then)
                if len(cache) >= MLFID_CACHE_SIZE:
                    del cache[next(iter(cache))]
                cache[mlfid] = (when, fail)
                fail.pop("mlfforget", None)
                if fail.pop("mlfpending", 0):
                    fail.pop("nofail", None)
                return fail
        elif entry[0] + MLFID_CACHE_TTL < when:
            del cache[mlfid]
            entry = None
        get = fail.get
        gained = get("mlfgained")
        if gained and not get("nofail"):
            fail["nofail"] = gained  # a login that succeeded is no failure
        forget = fail.pop("mlfforget", None)
        user = get("user")
        users: set[str] | None
        if entry is not None:
            groups = entry[1]
            if isinstance(groups, tuple):  # kept without a merge: made now, as merge would have
                groups = materialise(*groups)
                groups.pop("mlfforget", None)
                cache[mlfid] = (entry[0], groups)
            users = groups.get("users")
            if users is None:  # the id's first line: its user, if any, starts the set
                first = groups.get("user")
                users = groups["users"] = {first} if first else set()
            if user:
                if not users:
                    users = groups["users"] = set()
                users.add(user)
            groups.pop("nofail", None)
            groups.pop("mlfgained", None)
            if gained:
                groups.pop("mlfpending", None)
            groups.update({k: v for k, v in fail.items() if v is not None})
            fail = groups
            if forget:
                cache.pop(mlfid, None)
        else:
            users = None
            if not forget:  # a new id
                users = get("users")
                if user:
                    if not users:
                        users = fail["users"] = set()
                    users.add(user)
                if len(cache) >= MLFID_CACHE_SIZE:
                    del cache[next(iter(cache))]
                cache[mlfid] = (when, fail)
        if fail.pop("mlfpending", 0) or (users and len(users) > 1):
            fail.pop("nofail", None)
            fail.pop("mlfgained", None)
        return fail
