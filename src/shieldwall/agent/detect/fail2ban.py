"""A fail2ban filter as a detector: matched lines counted per host, as a jail counts them.

:class:`FilterDetector` has the same ``feed(chunk, now) -> offences`` shape as the
built-in :class:`~shieldwall.agent.detect.engine.DetectionEngine`, so the agent runs a
jail's filter on a log like any other detector. Sans-I/O: the filter is loaded
elsewhere (``shieldwall.agent.jails``), time is an argument.

Like a jail, it counts ``maxretry`` failures within ``findtime`` (a leaky bucket of
``maxretry - 1`` draining ``maxretry / findtime`` per second), and never counts a host
of ``ignoreip``. A host the filter matched that is a name, not an address, is never
reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from shieldwall.agent.detect.buckets import BucketTable, Offence
from shieldwall.agent.detect.config import DEFAULT_MAX_BUCKETS
from shieldwall.agent.detect.prefixes import count_prefixes
from shieldwall.agent.detect.scenarios import Threshold
from shieldwall.core.addresses import AddressSet
from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import FilterDefinition


@dataclass(frozen=True, slots=True)
class Match:
    """One line the filter matched (what ``agent replay --json`` prints)."""

    line: int
    host: str
    time: float


@dataclass(frozen=True)
class FilterRule:
    """What a jail asks of its filter: the scenario its offences carry and its limits."""

    scenario: str
    definition: FilterDefinition
    maxretry: int = 5
    findtime: float = 600.0
    bantime: float = 600.0  # fail2ban's: negative means for ever
    ignoreip: tuple[str, ...] = ()
    where: str = ""  # file:line of the jail, for messages
    prefix_v6: int = 64  # IPv6 hosts also counted per /64 (128: per address only)
    prefix_v4: int = 32  # IPv4 hosts per address only (24: per /24 as well)
    threshold: Threshold = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", Threshold.window(self.maxretry, self.findtime))

    @property
    def ban_seconds(self) -> float:
        return float("inf") if self.bantime < 0 else self.bantime


class FilterDetector:
    def __init__(self, rule: FilterRule, *, max_buckets: int = DEFAULT_MAX_BUCKETS) -> None:
        self.rule = rule
        self.engine = FilterEngine(rule.definition)
        threshold = rule.threshold
        self.table = BucketTable(
            rule.scenario, threshold.capacity, threshold.leak_rate, max_buckets
        )
        count_prefixes(self.table, rule.prefix_v6, rule.prefix_v4)
        self._ignore = AddressSet((net, "ignoreip") for net in rule.ignoreip)
        self.ignored = 0

    def watch_alerts(self, lookup: Callable[[bytes], int | None] | None) -> None:
        """A host on alert meets its alert threshold instead of ``maxretry`` (see
        :mod:`shieldwall.agent.alerts`); asked when a bucket starts, never per line."""
        self.table.watch_alerts(lookup)

    def feed(self, chunk: bytes, now: float, matches: list[Match] | None = None) -> list[Offence]:
        """Offences from a chunk of complete lines; matched lines go to ``matches``."""
        counted = self.engine.count(chunk, now)
        if len(self._ignore):
            ignore = self._ignore
            kept = [c for c in counted if not _ignored(ignore, c[0])]
            self.ignored += len(counted) - len(kept)
            counted = kept
        if matches is not None:
            matches += [Match(number, host, when) for host, when, number in counted]
        events = [(host.encode("ascii", "replace"), when, number) for host, when, number in counted]
        return [offence for _, offence in self.table.add_all(events)]


def _ignored(ignore: AddressSet, host: str) -> bool:
    try:
        return ignore.overlapping(host) is not None
    except ValueError:  # a host name: it is not an address of ignoreip
        return False
