"""Overlapping ranges with different expiries as disjoint segments (for interval sets).

nftables interval sets refuse overlapping elements, but decisions overlap: a /16 banned
for a day may contain a /24 banned for a week. The union is cut into disjoint segments,
each carrying the latest expiry of the ranges covering it; the kernel then expires each
segment on its own and the set always equals the union of the standing decisions.

:class:`Segments` keeps the segments loaded for one address family and, for a batch of
changed ranges, recomputes only the neighbourhood they touch and says which segments to
delete and which to add. Pure; addresses are integers.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence

Segment = tuple[int, int, float]  # first, last, expires_at


def segment(ranges: Iterable[tuple[int, int, float]]) -> list[Segment]:
    """Disjoint, sorted segments covering the union; max expiry wins; neighbours merged."""
    items = sorted(ranges)
    if not items:
        return []
    points = sorted({r[0] for r in items} | {r[1] + 1 for r in items})
    out: list[Segment] = []
    heap: list[tuple[float, int]] = []  # (-expires, last)
    i = 0
    for k, point in enumerate(points[:-1]):
        while i < len(items) and items[i][0] <= point:
            heapq.heappush(heap, (-items[i][2], items[i][1]))
            i += 1
        while heap and heap[0][1] < point:
            heapq.heappop(heap)
        if not heap:
            continue
        expires = -heap[0][0]
        last = points[k + 1] - 1
        if out and out[-1][1] == point - 1 and out[-1][2] == expires:
            out[-1] = (out[-1][0], last, expires)
        else:
            out.append((point, last, expires))
    return out


class Segments:
    """The ranges held for one family and the disjoint segments that enforce them."""

    def __init__(self) -> None:
        self._ranges: dict[tuple[int, int], float] = {}
        self._keys: list[tuple[int, int]] = []
        self._widest = 0
        self._segments: list[Segment] = []
        self._firsts: list[int] = []
        self._dirty: list[tuple[int, int]] = []

    @property
    def segments(self) -> list[Segment]:
        return list(self._segments)

    def load(self, ranges: dict[tuple[int, int], float]) -> list[Segment]:
        """Replace everything (full sync); the new segments."""
        self._ranges = dict(ranges)
        self._keys = sorted(ranges)
        self._widest = max((b - a for a, b in self._keys), default=0)
        self._set_segments(segment((a, b, e) for (a, b), e in ranges.items()))
        self._dirty.clear()
        return self.segments

    def set(self, first: int, last: int, expires_at: float | None) -> None:
        """Hold range [first, last] until ``expires_at`` (None: no longer)."""
        key = (first, last)
        if expires_at is None:
            if self._ranges.pop(key, None) is not None:
                del self._keys[bisect_left(self._keys, key)]
        else:
            if key not in self._ranges:
                insort(self._keys, key)
                self._widest = max(self._widest, last - first)
            self._ranges[key] = expires_at
        self._dirty.append(key)

    def commit(self) -> tuple[list[Segment], list[Segment]]:
        """Segments to delete and to add so the loaded set matches the ranges held."""
        removed: list[Segment] = []
        added: list[Segment] = []
        for first, last in self._spans():
            lo = bisect_left(self._firsts, first)
            if lo and self._segments[lo - 1][1] >= first:
                lo -= 1
            hi = bisect_right(self._firsts, last)
            old = self._segments[lo:hi]
            new = segment(self._clipped(first, last))
            keep = set(old) & set(new)
            removed.extend(s for s in old if s not in keep)
            added.extend(s for s in new if s not in keep)
            self._segments[lo:hi] = new
            self._firsts[lo:hi] = [s[0] for s in new]
        self._dirty.clear()
        return removed, added

    def _spans(self) -> list[tuple[int, int]]:
        """Dirty spans widened to whole loaded segments, merged, sorted."""
        spans = []
        for first, last in self._dirty:
            lo = bisect_right(self._firsts, first) - 1
            if lo >= 0 and self._segments[lo][1] >= first:
                first = self._segments[lo][0]
            hi = bisect_right(self._firsts, last) - 1
            if hi >= 0 and self._segments[hi][1] >= last:
                last = self._segments[hi][1]
            spans.append((first, last))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for first, last in spans:
            if merged and first <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], last))
            else:
                merged.append((first, last))
        return merged

    def _clipped(self, first: int, last: int) -> list[tuple[int, int, float]]:
        lo = bisect_left(self._keys, (first - self._widest, -1))
        hi = bisect_right(self._keys, (last, 1 << 129))
        out = []
        for a, b in self._keys[lo:hi]:
            if b >= first and a <= last:
                out.append((max(a, first), min(b, last), self._ranges[(a, b)]))
        return out

    def _set_segments(self, segments: Sequence[Segment]) -> None:
        self._segments = list(segments)
        self._firsts = [s[0] for s in segments]
