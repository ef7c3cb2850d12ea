"""The response ladder: which action, for how long, for the n-th offence.

Offence n uses rung n; beyond the last rung the last action is kept and its duration
multiplied by the recidivism factor per extra offence, capped at the treaty's maximum.
Offences are remembered for ``recidivism.memory`` seconds; a revoked decision's
offence is withdrawn so that a false alarm never escalates a later response.
"""

from __future__ import annotations

from collections import deque

from shieldwall.core.model import Action
from shieldwall.core.treaty import Treaty


def rung_for(treaty: Treaty, offence: int) -> tuple[Action, float]:
    """(action, duration) for the ``offence``-th offence (1 = first)."""
    rungs = treaty.ladder.rungs
    rung = rungs[min(offence, len(rungs)) - 1]
    extra = max(0, offence - len(rungs))
    duration = rung.duration * treaty.recidivism.factor**extra if extra else rung.duration
    return rung.action, min(duration, treaty.ladder.max_duration)


class Ladder:
    """Offence memory per key (a target, or target and member for self-defence)."""

    def __init__(self, treaty: Treaty) -> None:
        self.treaty = treaty
        self._offences: dict[str, list[float]] = {}
        self._order: deque[tuple[float, str]] = deque()

    def _forget(self, now: float) -> None:
        cutoff = now - self.treaty.recidivism.memory
        order = self._offences
        while self._order and self._order[0][0] <= cutoff:
            _, key = self._order.popleft()
            times = order.get(key)
            if times is None:
                continue
            while times and times[0] <= cutoff:
                times.pop(0)
            if not times:
                del order[key]

    def count(self, key: str, now: float) -> int:
        """Offences remembered for ``key`` at ``now``."""
        self._forget(now)
        return len(self._offences.get(key, ()))

    def record(self, key: str, now: float) -> tuple[int, Action, float]:
        """Record an offence; (offence number, action, duration)."""
        self._forget(now)
        times = self._offences.setdefault(key, [])
        times.append(now)
        self._order.append((now, key))
        action, duration = rung_for(self.treaty, len(times))
        return len(times), action, duration

    def withdraw(self, key: str, at: float) -> None:
        times = self._offences.get(key)
        if times and at in times:
            times.remove(at)
            if not times:
                del self._offences[key]
