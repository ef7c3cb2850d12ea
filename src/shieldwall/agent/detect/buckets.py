"""Leaky buckets per (scenario, address), bounded so an attack storm cannot exhaust memory."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from shieldwall.core.addresses import parse_target

if TYPE_CHECKING:
    from shieldwall.agent.detect.prefixes import PrefixTable
    from shieldwall.core.model import Signal

MAX_SAMPLES = 5
_FULL = 4 + MAX_SAMPLES  # the length of a bucket holding all its sample lines


class Offence(NamedTuple):
    """A source that overflowed a scenario's bucket: what the agent reports as a Signal.
    (A record made at C speed: a storm makes thousands.)"""

    scenario: str
    source: str  # normalised by parse_target
    events: int
    first_seen: float
    last_seen: float
    sample_lines: tuple[int, ...]

    def to_signal(self, member: str) -> Signal:
        from shieldwall.core.model import Signal  # on use: a replay starts without the model

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

    Sources holding ``prefix_mark`` go to ``prefixed``, which counts them per prefix as
    well: see :func:`shieldwall.agent.detect.prefixes.count_prefixes`.
    """

    __slots__ = (
        "_buckets",
        "capacity",
        "dropped",
        "leak",
        "max_buckets",
        "prefix_mark",
        "prefixed",
        "scenario",
        "watch",
    )

    def __init__(self, scenario: str, capacity: float, leak: float, max_buckets: int) -> None:
        self.scenario = scenario
        self.capacity = capacity
        self.leak = leak
        self.max_buckets = max_buckets
        self.dropped = 0
        # key -> [level, last, first, count, sample line, ...]: the lines of the first
        # MAX_SAMPLES events in the list itself (one list a bucket, not two)
        self._buckets: dict[bytes, list[Any]] = {}
        self.prefixed: PrefixTable | None = None
        self.prefix_mark = b"\n"  # in no source: prefix counting off
        self.watch: Callable[[bytes], int | None] | None = None  # alert thresholds

    def __len__(self) -> int:
        prefixed = self.prefixed
        return len(self._buckets) + (0 if prefixed is None else len(prefixed))

    def add(self, key: bytes, when: float, line: int) -> Offence | None:
        """Count one event of ``key`` at ``when`` (log line ``line``): its offence, if it
        overflowed the bucket."""
        found = self.add_all(((key, when, line),))
        return found[0][1] if found else None

    def add_all(self, events: Iterable[tuple[bytes, float, int]]) -> list[tuple[int, Offence]]:
        """Count each ``(key, when, line)`` in turn, one line an event: the offences, each
        with its line, in line order.

        One call for a chunk's events: the table's fields are read once, not per event."""
        offences: list[tuple[int, Offence]] = []
        buckets = self._buckets
        get = buckets.get
        capacity = self.capacity
        leak = self.leak
        mark = self.prefix_mark
        prefixed = self.prefixed
        watch = self.watch
        most = self.max_buckets
        routed: list[tuple[bytes, float, int]] = []  # for ``prefixed``: counted after
        for key, when, line in events:
            bucket = get(key)
            if bucket is None:
                # (a source routed to ``prefixed`` never has a bucket here)
                if prefixed is not None and mark in key:
                    routed.append((key, when, line))
                    continue
                if len(buckets) >= most:
                    self._evict(when)
                # an empty bucket, then this event: level 1 (more for a source on alert)
                bucket = [1.0 if watch is None else 1.0 + self._head(key), when, when, 1, line]
                if bucket[0] <= capacity:
                    buckets[key] = bucket
                    continue
                offence = self._overflow(bucket, key, False)
                if offence is not None:
                    offences.append((line, offence))
                continue
            level = bucket[0]  # at least 1: only leaking takes it to 0
            last = bucket[1]
            if when > last:
                level -= (when - last) * leak
                bucket[1] = when
                if level <= 0.0:  # drained: counted afresh, as a new bucket
                    level = 0.0 if watch is None else self._head(key)
                    bucket[2] = when
                    bucket[3] = 0
                    del bucket[4:]
            level += 1.0
            bucket[0] = level
            bucket[3] += 1
            if len(bucket) < _FULL:
                bucket.append(line)
            if level > capacity:
                offence = self._overflow(bucket, key, True)
                if offence is not None:
                    offences.append((line, offence))
        if routed and prefixed is not None:  # apart from these buckets: merged by line
            offences = sorted([*offences, *prefixed.add_all(routed)], key=by_line)
        return offences

    def _head(self, key: bytes) -> float:
        """The head start of a source on alert: its bucket starts so full that its
        ``maxretry``-th quick event overflows it (0.0: not on alert, or an alert no
        stricter than this table)."""
        watch = self.watch
        maxretry = None if watch is None else watch(key)
        if maxretry is None:
            return 0.0
        return max(0.0, self.capacity - (maxretry - 1))

    def watch_alerts(self, lookup: Callable[[bytes], int | None] | None) -> None:
        """Ask ``lookup`` for a source's alert threshold (see :mod:`shieldwall.agent.alerts`)
        whenever a bucket starts counting it: never per line."""
        self.watch = lookup
        if self.prefixed is not None:
            self.prefixed.addresses.watch_alerts(lookup)
            self.prefixed.prefixes.watch_alerts(lookup)

    def _overflow(self, bucket: list[Any], key: bytes, stored: bool) -> Offence | None:
        if stored:
            del self._buckets[key]
        source = _normalise(key)
        if source is None:
            return None  # not an address (hostile or garbled input): never reported
        return _new(Offence, (self.scenario, source, bucket[3], bucket[2], bucket[1], tuple(bucket[4:])))  # fmt: skip

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


_new = tuple.__new__


def by_line(item: tuple[int, Offence]) -> int:
    """The line of an ``(line, offence)`` pair (or of a ``(line << SHIFT | scenario,
    offence)`` one): the key that puts offences in line order."""
    return item[0]


@lru_cache(maxsize=4096)
def _normalise(key: bytes) -> str | None:
    """The address ``key`` names, normalised; None when it is not one (cached: offenders
    repeat, and an attacker rotating addresses only cycles a bounded cache)."""
    try:
        return parse_target(key.decode("ascii", "replace").strip("[]")).text
    except ValueError:
        return None
