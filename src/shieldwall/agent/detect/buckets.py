"""Leaky buckets per (scenario, address), bounded so an attack storm cannot exhaust memory."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shieldwall.core.addresses import parse_target
from shieldwall.core.model import Signal

MAX_SAMPLES = 5


@dataclass(frozen=True, slots=True)
class Offence:
    """A source that overflowed a scenario's bucket: what the agent reports as a Signal."""

    scenario: str
    source: str  # normalised by parse_target
    events: int
    first_seen: float
    last_seen: float
    sample_lines: tuple[int, ...]

    def to_signal(self, member: str) -> Signal:
        return Signal(
            member=member,
            target=self.source,
            scenario=self.scenario,
            at=self.last_seen,
            events=self.events,
        )


class BucketTable:
    """Buckets of one scenario: ``level`` leaks at ``leak`` per second; an event that lifts
    it above ``capacity`` overflows it into an :class:`Offence` and starts again empty.

    At most ``max_buckets`` are kept: empty buckets are swept first, then the least
    recently created half is dropped (an attacker rotating addresses cannot grow it).
    """

    __slots__ = ("_buckets", "capacity", "dropped", "leak", "max_buckets", "scenario")

    def __init__(self, scenario: str, capacity: float, leak: float, max_buckets: int) -> None:
        self.scenario = scenario
        self.capacity = capacity
        self.leak = leak
        self.max_buckets = max_buckets
        self.dropped = 0
        # key -> [level, last, first, count, samples]
        self._buckets: dict[bytes, list[Any]] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def add(self, key: bytes, when: float, line: int) -> Offence | None:
        buckets = self._buckets
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= self.max_buckets:
                self._evict(when)
            # an empty bucket, then this event: level 1
            bucket = [1.0, when, when, 1, [line]]
            if self.capacity >= 1.0:
                buckets[key] = bucket
                return None
            return self._overflow(bucket, key, False)
        elapsed = when - bucket[1]
        level = bucket[0] - elapsed * self.leak if elapsed > 0 else bucket[0]
        if level <= 0.0:
            level = 0.0
            bucket[2] = when
            bucket[3] = 0
            bucket[4] = []
        level += 1.0
        bucket[0] = level
        if when > bucket[1]:
            bucket[1] = when
        bucket[3] += 1
        samples = bucket[4]
        if len(samples) < MAX_SAMPLES:
            samples.append(line)
        if level <= self.capacity:
            return None
        return self._overflow(bucket, key, True)

    def _overflow(self, bucket: list[Any], key: bytes, stored: bool) -> Offence | None:
        if stored:
            del self._buckets[key]
        source = _normalise(key)
        if source is None:
            return None  # not an address (hostile or garbled input): never reported
        return Offence(self.scenario, source, bucket[3], bucket[2], bucket[1], tuple(bucket[4]))

    def _evict(self, now: float) -> None:
        leak = self.leak
        buckets = self._buckets
        stale = [k for k, b in buckets.items() if b[0] - (now - b[1]) * leak <= 0.0]
        for k in stale:
            del buckets[k]
        if len(buckets) >= self.max_buckets:
            drop = len(buckets) - self.max_buckets // 2
            for k in list(buckets)[:drop]:
                del buckets[k]
            self.dropped += drop


@lru_cache(maxsize=4096)
def _normalise(key: bytes) -> str | None:
    """The address ``key`` names, normalised; None when it is not one (cached: offenders
    repeat, and an attacker rotating addresses only cycles a bounded cache)."""
    try:
        source, _scope = parse_target(key.decode("ascii", "replace").strip("[]"))
    except ValueError:
        return None
    return source
