"""Alerts in force on this member: a stricter detection threshold per source, never a ban.

The hub streams an ``alert`` when one member in good standing reports a source
(:mod:`shieldwall.core.alerts`). The agent keeps the alerts in force in an
:class:`AlertTable` and its detectors ask it for a source's threshold only when they
start counting that source (a new bucket, or one that has drained): an alerted source
then overflows on its ``maxretry``-th event instead of the scenario's or jail's own.
Nothing here reaches the firewall.

The member's ``[detect]`` section keeps its sovereignty: ``alerts = false`` ignores
them, ``alert_maxretry_min`` is the strictest threshold it accepts (a floor) and
``alert_maxretry_max`` the loosest (a ceiling). An alert never loosens a detector: a
threshold above the detector's own changes nothing.

Lookups are O(1) for an address (one dict) plus one dict per distinct prefix length
among alerted ranges; the table holds at most ``cap`` alerts (expired ones are swept
first, then those ending soonest), so a hostile hub cannot grow it without bound.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socket import AF_INET, inet_pton
from typing import Any

from shieldwall import wire
from shieldwall.client import HubError
from shieldwall.core.addresses import Target, as_target, parse_network
from shieldwall.core.model import Alert

DEFAULT_CAP = 100_000
#: an alert's threshold for one source, as detectors ask it (None: not alerted)
Lookup = Callable[[bytes], "int | None"]


@dataclass(frozen=True, slots=True)
class Watch:
    """One alert as this member applies it: ``maxretry`` after its own floor/ceiling."""

    alert: int
    target: Target
    maxretry: int
    expires_at: float


class AlertTable:
    """The alerts in force, keyed for a lookup per source a detector starts counting."""

    def __init__(
        self,
        member: str,
        *,
        clock: Callable[[], float],
        floor: int = 1,
        ceiling: int = 0,
        cap: int = DEFAULT_CAP,
    ) -> None:
        self.member = member
        self.floor = floor
        self.ceiling = ceiling  # 0: none
        self.cap = cap
        self._clock = clock
        self._lock = threading.Lock()  # writers; detectors read without it
        self._hosts: dict[str, Watch] = {}
        # (version, prefix length) -> first address of the range -> watch
        self._ranges: dict[tuple[int, int], dict[int, Watch]] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._hosts) + sum(len(r) for r in self._ranges.values())

    def threshold(self, alert: Alert) -> int:
        """The ``maxretry`` this member applies for ``alert``: the alert's (or, when the
        alert names correlated members and not this one, ``others_maxretry``), within
        the member's floor and ceiling."""
        wanted = alert.maxretry
        if alert.correlated and self.member not in alert.correlated and alert.others_maxretry:
            wanted = alert.others_maxretry
        if self.ceiling:
            wanted = min(wanted, self.ceiling)
        return max(wanted, self.floor)

    def apply(self, alert: Alert) -> Watch | None:
        """Hold ``alert`` until it expires; None when it is over, or when this member's
        own report raised it (it caught the source already)."""
        now = self._clock()
        if alert.expires_at <= now or alert.member == self.member:
            return None  # over, or raised by this member's own report
        target = as_target(parse_network(alert.target))
        watch = Watch(alert.id, target, self.threshold(alert), alert.expires_at)
        with self._lock:
            if self._held(target) is None and len(self) >= self.cap:
                self._make_room(now)
            self._put(watch)
        return watch

    def discharge(self, source: str) -> None:
        """This member caught ``source`` and reported it: the alert on that address has
        served here (its own threshold counts again; a range on alert stays)."""
        if source in self._hosts:
            with self._lock:
                self._hosts.pop(source, None)

    def replace(self, alerts: Iterable[Alert]) -> int:
        """Hold exactly ``alerts`` (those still in force): a full resynchronisation."""
        fresh = AlertTable(
            self.member, clock=self._clock, floor=self.floor, ceiling=self.ceiling, cap=self.cap
        )
        for alert in alerts:
            fresh.apply(alert)
        with self._lock:
            self._hosts, self._ranges = fresh._hosts, fresh._ranges
            self.dropped += fresh.dropped
        return len(self)

    def expire(self) -> int:
        """Forget the alerts that have ended; how many."""
        now = self._clock()
        with self._lock:
            return self._sweep(lambda w: w.expires_at <= now)

    def maxretry(self, key: bytes) -> int | None:
        """The alert threshold for the source ``key`` as a log wrote it (or the prefix a
        detector counts it in), or None.

        Called by detectors when they start counting a source (never per line): one
        dict lookup when nothing is on alert or the source is a canonical IPv4 address.
        """
        hosts, ranges = self._hosts, self._ranges
        if not hosts and not ranges:
            return None
        text = key.decode("ascii", "replace").strip("[]")
        watch = hosts.get(text)
        if watch is None:
            value = _ipv4(text)
            if value is not None:  # dotted-quad IPv4, not alerted itself: in a range?
                if not ranges:
                    return None
                watch = _in_range(4, value, 32, ranges)
            else:
                try:
                    target = as_target(parse_network(text))
                except ValueError:
                    return None  # not an address or range: nothing to look up
                # a prefix a detector counts is on alert when a range on alert holds it
                watch = hosts.get(target.text) if target.scope == "ip" else None
                if watch is None:
                    watch = _in_range(target.version, target.first, target.prefixlen, ranges)
            if watch is None:
                return None
        if watch.expires_at <= self._clock():
            return None
        return watch.maxretry

    def active(self) -> list[Watch]:
        """The alerts held (expired ones until the next sweep included)."""
        held = list(self._hosts.values())
        for by_first in list(self._ranges.values()):
            held.extend(by_first.values())
        return held

    # -- internals ---------------------------------------------------------------------

    def _held(self, target: Target) -> Watch | None:
        if target.scope == "ip":
            return self._hosts.get(target.text)
        return self._ranges.get((target.version, target.prefixlen), {}).get(target.first)

    def _put(self, watch: Watch) -> None:
        target = watch.target
        if target.scope == "ip":
            self._hosts[target.text] = watch
        else:
            key = (target.version, target.prefixlen)
            self._ranges.setdefault(key, {})[target.first] = watch

    def _make_room(self, now: float) -> None:
        self._sweep(lambda w: w.expires_at <= now)
        if len(self) < self.cap:
            return
        ends = sorted(w.expires_at for w in self.active())
        drop = max(1, len(ends) - self.cap * 3 // 4)  # keep those ending last
        cut = ends[drop - 1]
        self.dropped += self._sweep(lambda w: w.expires_at <= cut)

    def _sweep(self, gone: Callable[[Watch], bool]) -> int:
        before = len(self)
        self._hosts = {k: w for k, w in self._hosts.items() if not gone(w)}
        ranges = {}
        for key, by_first in self._ranges.items():
            kept = {k: w for k, w in by_first.items() if not gone(w)}
            if kept:
                ranges[key] = kept
        self._ranges = ranges
        return before - len(self)


def _ipv4(text: str) -> int | None:
    """The integer of a dotted-quad IPv4 address (C speed: ``inet_pton`` takes exactly
    four decimal parts without leading zeros), None for anything else."""
    try:
        return int.from_bytes(inet_pton(AF_INET, text), "big")
    except OSError:
        return None


def _in_range(
    version: int, value: int, prefixlen: int, ranges: dict[tuple[int, int], dict[int, Watch]]
) -> Watch | None:
    """The watch of a range on alert holding the address or prefix ``value/prefixlen``."""
    width = 32 if version == 4 else 128
    for (held, length), by_first in list(ranges.items()):
        if held != version or length > prefixlen:
            continue
        host = width - length
        watch = by_first.get(value >> host << host)
        if watch is not None:
            return watch
    return None


def fetch(client: Any) -> tuple[list[Alert], int]:
    """The alerts in force from the hub's ``GET /v1/alerts``, and how many were malformed.

    ValueError when the answer is not an alert list at all (the caller resynchronises
    again later)."""
    result = client.alerts()
    items = result.get("alerts") if isinstance(result, dict) else None
    if not isinstance(items, list):
        raise ValueError("the hub's alert list has no 'alerts' list")
    alerts: list[Alert] = []
    malformed = 0
    for item in items:
        try:
            alerts.append(wire.alert_from(item))
        except ValueError:
            malformed += 1
    return alerts, malformed


def resync(table: AlertTable, client: Any) -> tuple[int, int]:
    """Make ``table`` hold exactly the alerts in force at the hub (a hub without
    ``/v1/alerts``: keep those held); the number held and the number malformed."""
    try:
        found, malformed = fetch(client)
    except HubError as exc:
        if exc.status != 404:
            raise
        return len(table), 0
    return table.replace(found), malformed
