"""Who sees the attacker next: members that see the same attackers, learnt by the hub.

Contract (as for the council): no I/O, no clock reads; time is an argument, and the
same reports in the same order give the same groups.

Two members *co-occur* once for every target both reported within the treaty's
``[correlation] window`` of each other; counts are kept over a sliding window of the
same length (older co-occurrences are forgotten), in the spirit of highly predictive
blacklisting (Zhang, Porras and Ullrich, "Highly Predictive Blacklisting", USENIX
Security 2008: a contributor's most relevant attackers are those seen by the
contributors that share its attackers). A member's *correlated members* are the
``top`` members it co-occurred with most, at least ``min_shared`` times (ties by
name). The council cites them in an alert (clause ``alert.correlated``): they are
its likeliest next victims, reached first by the hub's stream, and they apply the
alert's ``maxretry``; the other members apply ``[correlation] others_maxretry``.

Memory is bounded: at most :data:`MAX_TARGETS` targets' recent reporters and
:data:`MAX_PAIRS` co-occurrences are kept, the oldest dropped first.
"""

from __future__ import annotations

from collections import OrderedDict, deque

MAX_TARGETS = 100_000
MAX_PAIRS = 1_000_000


class Correlation:
    """Sliding-window co-occurrence counts between members."""

    def __init__(self, window: float) -> None:
        if not window > 0:
            raise ValueError(f"correlation window {window!r} must be above 0 seconds")
        self.window = window
        self.seen: OrderedDict[str, dict[str, float]] = OrderedDict()
        self.pairs: deque[tuple[float, str, str]] = deque()
        self.counts: dict[str, dict[str, int]] = {}

    def note(self, member: str, target: str, now: float) -> None:
        """``member`` reported ``target`` at ``now``."""
        self._expire(now)
        cutoff = now - self.window
        reporters = self.seen.pop(target, None) or {}
        for name in [n for n, at in reporters.items() if at < cutoff]:
            del reporters[name]
        if member not in reporters:
            for other in sorted(reporters):
                self._add(now, member, other)
        reporters[member] = now
        self.seen[target] = reporters
        while len(self.seen) > MAX_TARGETS:
            self.seen.popitem(last=False)

    def nearest(self, member: str, top: int, min_shared: int = 1) -> tuple[str, ...]:
        """The ``top`` members ``member`` co-occurred with most (at least ``min_shared``)."""
        counts = self.counts.get(member, {})
        ranked = sorted((-n, name) for name, n in counts.items() if n >= min_shared)
        return tuple(name for _, name in ranked[:top])

    def shared(self, a: str, b: str) -> int:
        """How many times ``a`` and ``b`` co-occurred within the window."""
        return self.counts.get(a, {}).get(b, 0)

    def _add(self, now: float, a: str, b: str) -> None:
        self.pairs.append((now, a, b))
        for x, y in ((a, b), (b, a)):
            row = self.counts.setdefault(x, {})
            row[y] = row.get(y, 0) + 1
        while len(self.pairs) > MAX_PAIRS:
            self._drop()

    def _expire(self, now: float) -> None:
        cutoff = now - self.window
        while self.pairs and self.pairs[0][0] < cutoff:
            self._drop()

    def _drop(self) -> None:
        _, a, b = self.pairs.popleft()
        for x, y in ((a, b), (b, a)):
            row = self.counts[x]
            row[y] -= 1
            if row[y] == 0:
                del row[y]
                if not row:
                    del self.counts[x]
