"""Benign evidence: how many harmless events each source caused, and the attacks caught.

Fed the same log lines the detectors see, it counts per source address the events
that show a real user behind it: successful sshd logins (``Accepted password|publickey
for USER from ADDR``) and 2xx answers in nginx/Apache access logs. Counts only: no user
name, path or line is kept. It also tallies the offences this member caught (its
exposure). The hub's ``[shared]`` clause reads the counts to tell a shared address
(NAT, CGNAT) with many users behind it from an attacker's own.

The table is bounded (:data:`MAX_SOURCES`): once full, events from new sources are
counted as ``dropped`` until the next report empties it.
"""

from __future__ import annotations

import ipaddress
import re

MAX_SOURCES = 10_000
MAX_COUNT = 1_000_000_000  # the most the hub takes for one source in one report

SSHD_ACCEPTED = re.compile(
    rb"sshd(?:-session)?\[\d+\]: Accepted [\w/-]+ for \S+ from ([0-9A-Fa-f:.]+) port \d+"
)
# Common/combined log format: ADDR IDENT USER [TIME] "REQUEST" STATUS ...
ACCESS_2XX = re.compile(rb'^([0-9A-Fa-f:.]+) \S+ \S+ \[[^\]]*\] "[^"]*" 2\d\d ')


class BenignCounter:
    """Benign events per source, and offences caught, since the last report."""

    def __init__(self, max_sources: int = MAX_SOURCES) -> None:
        self.max_sources = max_sources
        self.counts: dict[str, int] = {}
        self.attacks = 0
        self.dropped = 0

    def feed(self, chunk: bytes, caught: int = 0) -> None:
        """Count the benign events in ``chunk`` (whole log lines), and the ``caught``
        offences the detectors found in it (reported as exposure)."""
        self.attacks += caught
        if b"Accepted " not in chunk and b'" 2' not in chunk:
            return  # the common case: nothing here to count, and cheap to tell
        for line in chunk.splitlines():
            m = SSHD_ACCEPTED.search(line) or ACCESS_2XX.match(line)
            if m is not None:
                self._note(m.group(1).decode("ascii"))

    def _note(self, raw: str) -> None:
        try:
            source = str(ipaddress.ip_address(raw))
        except ValueError:
            return
        counts = self.counts
        if source in counts:
            counts[source] = min(counts[source] + 1, MAX_COUNT)
        elif len(counts) < self.max_sources:
            counts[source] = 1
        else:
            self.dropped += 1

    def take(self) -> tuple[int, dict[str, int]]:
        """What to report now (attacks, counts); the counter starts again from nothing."""
        taken = (self.attacks, self.counts)
        self.attacks, self.counts = 0, {}
        return taken

    def give_back(self, attacks: int, counts: dict[str, int]) -> None:
        """A report that did not reach the hub: its counts go into the next one."""
        self.attacks += attacks
        for source, n in counts.items():
            if source in self.counts:
                self.counts[source] = min(self.counts[source] + n, MAX_COUNT)
            elif len(self.counts) < self.max_sources:
                self.counts[source] = n
            else:
                self.dropped += n
