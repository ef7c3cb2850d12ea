"""The detection engine: bytes in, offences out, no I/O and no clock.

``feed(chunk, now)`` takes a chunk of complete log lines (any mix of sshd, nginx,
postfix, dovecot, ...). Each enabled scenario scans the whole chunk with its literal-led
finder regex, so lines that concern no scenario cost nothing in Python; a hit line is
checked and its source address counted in the scenario's leaky bucket.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from shieldwall.agent.detect.buckets import BucketTable, Offence, by_line
from shieldwall.agent.detect.config import DetectConfig
from shieldwall.agent.detect.finders import MAX_SCENARIOS, SHIFT, hit_lines
from shieldwall.agent.detect.prefixes import count_prefixes
from shieldwall.agent.detect.scan import MAPPED, has_long_line, scan_chunk
from shieldwall.agent.detect.scenarios import ACCESS, SCENARIOS, AccessExtract, SyslogExtract
from shieldwall.agent.detect.timestamps import StampReader

_Plan = tuple[
    str, "re.Pattern[bytes] | None", "Callable[[re.Match[bytes]], bool] | None", BucketTable
]


@dataclass(frozen=True, slots=True)
class Event:
    """One log line a scenario matched (kept only when ``record_events`` is set)."""

    line: int
    scenario: str
    source: str  # as written in the log; normalised in the Offence
    time: float


class DetectionEngine:
    def __init__(
        self, config: DetectConfig | None = None, *, record_events: bool = False, scan: bool = True
    ) -> None:
        """``scan=False`` reads every scenario line by line, never with one scan of its
        pattern (see :mod:`.scan`): the same results, slower in a storm."""
        self.config = config or DetectConfig()
        enabled = self.config.enabled
        per_table = max(16, self.config.max_buckets // max(1, len(enabled)))
        self._scenarios = [SCENARIOS[name] for name in enabled]
        self._tables = {
            name: BucketTable(
                name,
                self.config.thresholds[name].capacity,
                self.config.thresholds[name].leak_rate,
                per_table,
            )
            for name in enabled
        }
        for name, table in self._tables.items():
            threshold = self.config.thresholds[name]
            count_prefixes(table, threshold.prefix_v6, threshold.prefix_v4)
        self._finders = [s.finder for s in self._scenarios]
        # scenarios found with one scan of their pattern (see .scan): index, pattern
        self._scans = [
            (index, s.extract.pattern)
            for index, s in enumerate(self._scenarios)
            if scan and isinstance(s.extract, SyslogExtract) and s.extract.scan
        ]
        # per scenario: name, syslog regex or None, access check or None, bucket table
        self._plans: list[_Plan] = [
            (
                s.name,
                s.extract.pattern if isinstance(s.extract, SyslogExtract) else None,
                s.extract.check if isinstance(s.extract, AccessExtract) else None,
                self._tables[s.name],
            )
            for s in self._scenarios
        ]
        if len(self._plans) > MAX_SCENARIOS:
            raise ValueError(
                f"{len(self._plans)} scenarios enabled: the engine handles {MAX_SCENARIOS}"
            )
        self._stamps = StampReader()
        self.record_events = record_events
        self.events: list[Event] = []
        self.lines = 0
        self.hits = 0

    def watch_alerts(self, lookup: Callable[[bytes], int | None] | None) -> None:
        """Every scenario meets a source on alert with its alert threshold (see
        :mod:`shieldwall.agent.alerts`); asked when a bucket starts, never per line."""
        for table in self._tables.values():
            table.watch_alerts(lookup)

    @property
    def buckets(self) -> int:
        return sum(len(t) for t in self._tables.values())

    def feed(self, chunk: bytes, now: float, first_line: int | None = None) -> list[Offence]:
        """Process complete lines; line numbers continue from the previous chunk."""
        base = self.lines if first_line is None else first_line - 1
        scans = self._scans
        if scans and has_long_line(chunk, SYSLOG_SCAN):
            scans = []  # each line searched in its window instead (see .scan)
        scanned = {index for index, _ in scans}
        # Every scenario finds its hit lines with C-speed scans. A hit is one int,
        # ``start << SHIFT | scenario``, so one integer sort puts them in line order (and a
        # line several scenarios hit in scenario order); then one pass counts line
        # numbers, and reads each hit line's stamp and access-log fields once.
        ends: dict[int, int] = {}
        keys: list[int] = []
        for index, finder in enumerate(self._finders):
            if index not in scanned:
                hit_lines(finder, chunk, index, keys, ends)
        keys.sort()
        first_event = len(self.events)
        offences = self._lines(chunk, keys, ends, base, now)
        if scans:
            offences = self._scan(chunk, scans, base, now, offences, first_event)
        newlines = chunk.count(b"\n")
        self.lines = base + newlines + (1 if chunk and chunk[-1:] != b"\n" else 0)
        return [offence for _, offence in offences]

    def _scan(
        self,
        chunk: bytes,
        scans: list[tuple[int, re.Pattern[bytes]]],
        base: int,
        now: float,
        offences: list[tuple[int, Offence]],
        first_event: int,
    ) -> list[tuple[int, Offence]]:
        """The scanned scenarios' hits, their offences merged with ``offences`` in line
        order (a line several scenarios hit: in scenario order), as one pass gives; so
        are the events of this chunk (from ``first_event`` on)."""
        events = self.events
        for index, pattern in scans:
            name, _, _, table = self._plans[index]
            found: Callable[[int, bytes, float], None] | None = None
            if self.record_events:
                found = partial(_record, events, name)
            more, hits = scan_chunk(pattern, chunk, base, now, self._stamps, table, found)
            self.hits += hits
            if more:
                offences = [*offences, *((n << SHIFT | index, o) for n, o in more)]
        if len(scans) > 1 or len(scans) < len(self._plans):
            offences.sort(key=by_line)
            if self.record_events and len(events) > first_event:
                order = {name: index for index, (name, *_) in enumerate(self._plans)}
                events[first_event:] = sorted(
                    events[first_event:], key=lambda e: (e.line, order[e.scenario])
                )
        return offences

    def _lines(
        self, chunk: bytes, keys: list[int], ends: dict[int, int], base: int, now: float
    ) -> list[tuple[int, Offence]]:
        """The hits ``keys`` of the scenarios read line by line, in line order: the
        offences, each with its ``line << SHIFT | scenario`` key."""
        plans = self._plans
        # each table's events, counted with one call after the loop
        pending: list[list[tuple[bytes, float, int]]] = [[] for _ in plans]
        record = self.record_events
        events = self.events
        stamps = self._stamps
        access_match = ACCESS.match
        count = chunk.count
        counted = 0
        number = base + 1  # line number of the line starting at ``counted``
        line = b""
        am: re.Match[bytes] | None = None
        parsed = False  # ``am`` is the ACCESS match of ``line``
        when_line: float | None = None
        stamped = False  # ``when_line`` is the syslog stamp of ``line``
        hits = 0
        for key in keys:
            start = key >> SHIFT
            if start != counted or not line:
                if start != counted:
                    number += count(b"\n", counted, start)
                    counted = start
                line = chunk[start : ends[start]]
                parsed = stamped = False
            name, pattern, check, _ = plans[key & MASK]
            if pattern is not None:  # a syslog line
                if len(line) <= SYSLOG_SCAN:
                    m = pattern.search(line)
                else:  # see SYSLOG_SCAN: a match must end well inside the window
                    m = pattern.search(line, 0, SYSLOG_SCAN)
                    if m is not None and m.end() > SYSLOG_SCAN - 64:
                        m = None
                if m is None:
                    continue
                source = m.group(1)
                if not source:
                    source = next((g for g in m.groups() if g), None)
                    if source is None:
                        continue
                if not stamped:
                    when_line = stamps.syslog(line, now)
                    stamped = True
                when = now if when_line is None else when_line
            else:
                if not parsed:
                    am = access_match(line)
                    parsed = True
                if am is None or check is None or not check(am):
                    continue
                source = am.group("ip")
                stamp = stamps.access(am.group("ts"))
                when = now if stamp is None else stamp
            if source[:7] in MAPPED and b"." in source:
                source = source[7:]  # IPv4-mapped IPv6: the IPv4 attacker
            hits += 1
            if record:
                events.append(Event(number, name, source.decode("ascii", "replace"), when))
            pending[key & MASK].append((source, when, number))
        self.hits += hits
        offences: list[tuple[int, Offence]] = []
        for index, (plan, batch) in enumerate(zip(plans, pending, strict=True)):
            if batch:
                raised = plan[3].add_all(batch)
                offences += [(number << SHIFT | index, o) for number, o in raised]
        if len(plans) > 1:
            offences.sort(key=by_line)  # in line order, as one pass over the lines gives
        return offences


def _record(events: list[Event], name: str, number: int, source: bytes, when: float) -> None:
    events.append(Event(number, name, source.decode("ascii", "replace"), when))


#: Syslog scenarios look for their match in the first bytes of a line only. The daemons
#: they read cut what they log (sshd writes ``%.100s`` user and host fields), and a
#: search over a hostile line of megabytes that repeats the daemon's tag costs time
#: quadratic in its length. A match ending in the last 64 bytes of the window is not
#: trusted: the address it read may be cut.
SYSLOG_SCAN = 2048
MASK = MAX_SCENARIOS - 1
