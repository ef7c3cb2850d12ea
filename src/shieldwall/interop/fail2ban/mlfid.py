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

from typing import Any

MLFID_CACHE_SIZE = 100
MLFID_CACHE_TTL = 300.0

_NOFAIL, _FORGET, _HAD_NOFAIL, _GAINED = 1, 2, 4, 8


class ConnectionIds:
    def __init__(self) -> None:
        # id -> (first seen, its groups); a dict keeps the order ids came in
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def merge(self, mlfid: str, fail: dict[str, Any], number: int, when: float) -> dict[str, Any]:
        """The groups of line ``number`` merged with what its id gathered (fail2ban's
        ``Filter._mergeFailure``); ``nofail`` in the result: not a failure."""
        cache = self._cache
        entry = cache.get(mlfid)
        if entry is not None and entry[0] + MLFID_CACHE_TTL < when:
            del cache[mlfid]
            entry = None
        get = fail.get
        if entry is None and not (get("mlfgained") or get("nofail") or get("mlfforget")):
            # a plain failure of a new id (most lines of a storm): the general path below
            # with its flags known, none of them set
            fail.pop("mlfforget", None)
            known = _update_users(fail, get("user"))
            if len(cache) >= MLFID_CACHE_SIZE:
                del cache[next(iter(cache))]
            cache[mlfid] = (when, fail)
            if fail.pop("mlfpending", 0) or (known and len(known) > 1):
                fail.pop("nofail", None)
                fail.pop("mlfgained", None)
            fail["matches"] = [*fail.pop("nofail-matches", ()), *get("matches", ()), number]
            return fail
        gained = get("mlfgained")
        if gained:
            flags = _GAINED | _NOFAIL
            if not get("nofail"):
                fail["nofail"] = gained
        elif get("nofail"):
            flags = _NOFAIL
        else:
            flags = 0
        if fail.pop("mlfforget", None):
            flags |= _FORGET
        users: set[str] | None = None
        if entry is not None:
            groups = entry[1]
            users = _update_users(groups, get("user"))
            if groups.pop("nofail", None):
                flags |= _HAD_NOFAIL
            if groups.pop("mlfgained", None):
                flags |= _HAD_NOFAIL
            if flags & _GAINED:
                groups.pop("mlfpending", None)
            if not flags & _HAD_NOFAIL and not groups.get("mlfpending", 0):
                groups.pop("matches", None)
            groups.update((k, v) for k, v in fail.items() if v is not None)
            fail = groups
            if flags & _FORGET:
                cache.pop(mlfid, None)
        elif not flags & _FORGET:  # a new id
            users = _update_users(fail, get("user"))
            if len(cache) >= MLFID_CACHE_SIZE:
                del cache[next(iter(cache))]
            cache[mlfid] = (when, fail)
        if fail.pop("mlfpending", 0) or (users and len(users) > 1):
            fail.pop("nofail", None)
            fail.pop("mlfgained", None)
            flags &= ~(_GAINED | _NOFAIL)
        if not flags & _NOFAIL:
            matches = [*fail.pop("nofail-matches", ()), *fail.get("matches", ())]
            if not flags & _GAINED:
                matches.append(number)
            fail["matches"] = matches
        elif flags & (_NOFAIL | _FORGET) == _NOFAIL:
            fail["nofail-matches"] = [*fail.get("nofail-matches", ()), number]
        return fail


def _update_users(fail: dict[str, Any], user: str | None) -> set[str] | None:
    users: set[str] | None = fail.get("users")
    if user:
        if not users:
            users = set()
            fail["users"] = users
        users.add(user)
    return users
