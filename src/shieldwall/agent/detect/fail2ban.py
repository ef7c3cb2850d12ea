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

from dataclasses import dataclass, field

from shieldwall.agent.detect.buckets import BucketTable, Offence
from shieldwall.agent.detect.config import DEFAULT_MAX_BUCKETS
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
        self._ignore = AddressSet((net, "ignoreip") for net in rule.ignoreip)
        self.ignored = 0

    def feed(self, chunk: bytes, now: float, matches: list[Match] | None = None) -> list[Offence]:
        """Offences from a chunk of complete lines; matched lines go to ``matches``."""
        offences: list[Offence] = []
        ignore = self._ignore
        for result in self.engine.feed(chunk, now):
            host = result.host
            if not result.matched or host is None:
                continue
            if ignore and _ignored(ignore, host):
                self.ignored += 1
                continue
            when = result.time if result.time is not None else now
            if matches is not None:
                matches.append(Match(result.line, host, when))
            offence = self.table.add(host.encode("ascii", "replace"), when, result.line)
            if offence is not None:
                offences.append(offence)
        return offences


def _ignored(ignore: AddressSet, host: str) -> bool:
    try:
        return ignore.overlapping(host) is not None
    except ValueError:  # a host name: it is not an address of ignoreip
        return False
