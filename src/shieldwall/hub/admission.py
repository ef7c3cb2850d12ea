"""Admission at the hub's edge: who may open what, and how often.

Three small ledgers that keep hostile clients from exhausting the hub, each with
bounded memory and the time passed in (no clock reads here):

- :class:`JoinLimiter`: a token bucket per source address for join requests, so one
  source cannot fill the applicant queue.
- :class:`StampBook`: stream stamps (the signed ``METHOD PATH TIMESTAMP`` of a GET)
  already used; a stamp opens one connection, and is remembered until it would be
  refused as stale anyway.
- :class:`StreamSlots`: concurrent decision streams per member.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class JoinLimiter:
    """``burst`` join requests per source at once, one more every ``refill`` seconds.

    The table holds at most ``max_sources`` sources; when full, the source seen
    least recently is forgotten (it starts again with a full bucket, which costs an
    attacker ``max_sources`` other addresses to arrange).
    """

    def __init__(self, max_sources: int = 10_000) -> None:
        if max_sources <= 0:
            raise ValueError(f"max_sources {max_sources!r} must be above zero")
        self.max_sources = max_sources
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, source: str, now: float, burst: int, refill: float) -> float:
        """Spend one token of ``source``: 0.0 if allowed, else seconds until the next."""
        bucket = self._buckets.pop(source, None)
        if bucket is None:
            bucket = _Bucket(float(burst), now)
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(burst), bucket.tokens + elapsed / refill)
        bucket.at = now
        self._buckets[source] = bucket
        while len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) * refill


class StampBook:
    """Stream stamps already used, per member, each until it goes stale.

    A stamp is refused by the hub once it is more than ``skew`` seconds from the
    hub's clock, so remembering it until ``stamp + skew`` is enough. A member may use
    at most ``per_member`` stamps within that window; memory is bounded by that
    figure times the number of members (only verified signatures are recorded).
    """

    def __init__(self, per_member: int = 4096) -> None:
        if per_member <= 0:
            raise ValueError(f"per_member {per_member!r} must be above zero")
        self.per_member = per_member
        self._used: dict[str, set[str]] = {}
        self._expiry: list[tuple[float, str, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def use(self, member: str, stamp: str, when: float, now: float, skew: float) -> str:
        """Record a stamp; '' if it was fresh, else why it is refused."""
        self._forget(now)
        used = self._used.setdefault(member, set())
        if stamp in used:
            return "used"
        if len(used) >= self.per_member:
            return "full"
        used.add(stamp)
        heapq.heappush(self._expiry, (when + skew, member, stamp))
        return ""

    def _forget(self, now: float) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] < now:
            _, member, stamp = heapq.heappop(expiry)
            used = self._used.get(member)
            if used is not None:
                used.discard(stamp)
                if not used:
                    del self._used[member]


class StreamSlots:
    """How many decision streams each member holds open."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    def held(self, member: str) -> int:
        return self._open.get(member, 0)

    def acquire(self, member: str, cap: int) -> bool:
        held = self._open.get(member, 0)
        if held >= cap:
            return False
        self._open[member] = held + 1
        return True

    def release(self, member: str) -> None:
        held = self._open.get(member, 0) - 1
        if held > 0:
            self._open[member] = held
        else:
            self._open.pop(member, None)


class Admission:
    """The three ledgers of one hub (kept on the app, shared by its routes)."""

    def __init__(self) -> None:
        self.joins = JoinLimiter()
        self.stamps = StampBook()
        self.streams = StreamSlots()
