"""Members' own detectors and local bans, walked in time order (self-defence mode).

When a member's detector fires, the member bans the source on its own firewall at
once for ``self_defence_ban_s`` (recorded in ``Run.local_bans``, never sent to the
council) and, unless it is a free rider, reports it, at most once per findtime. A
firing that a ban in force at that member would have prevented does not happen: the
events never reached the logs, so the detector needs ``maxretry`` fresh events after
the ban ends. A throttle is not a ban: it lets one event in ``throttle_pass_every``
through to the logs, and the detector fires once ``maxretry`` of the events it saw
fall within findtime.

Alerts (a treaty's ``[alert]`` clause): while an alert on a source is in force at a
member (from when it reaches the member to its end), the member's detector fires on
the first event that completes the alert's ``maxretry`` within findtime, counting the
events already in its logs, unless a ban keeps the events out. Each pair's firings
form one chain; a firing an alert brings forward starts a new chain (a generation
number in the payload drops the old chain's pending firing).
"""

from __future__ import annotations

import math

import numpy as np

from shieldwall.core.model import Alert
from shieldwall.exercise.enforce import arrival, arrival_one, in_force, passes_throttle
from shieldwall.exercise.timeline import ALERT, DET, REPORT, SEEN, T0, Payload, Run
from shieldwall.exercise.world import World


class LocalDefence:
    """Schedules each (attacker, member) pair's possible firings and plays them."""

    def __init__(self, run: Run, world: World) -> None:
        self.run, self.world = run, world
        self.c, self.m = world.campaign, world.members
        self.cand = world.candidates
        params = self.m.params
        self.ban_s = params.self_defence_ban_s
        self.findtime = params.findtime_s
        self.pass_every = params.throttle_pass_every
        self.reports = self.m.reports()
        self.reported: dict[int, float] = {}  # pair -> time of its last report
        self.gen = np.zeros(self.c.pair_source.size, dtype=np.int64)  # chain per pair
        self.banned_until = np.full(self.c.pair_source.size, -math.inf)  # local bans

    def latest(self) -> float:
        """When the last possible report could reach the hub (0 when none)."""
        cand = self.cand
        if cand.time.size == 0:
            return 0.0
        member = self.c.pair_member[self.c.ev_pair[cand.event]]
        return float(arrival(self.m, cand.time, member).max())

    def start(self) -> None:
        cand = self.cand
        for pair in np.flatnonzero(cand.hi > cand.lo).tolist():
            self._next(pair, int(cand.lo[pair]))

    def handle(self, kind: int, payload: Payload, at: float) -> None:
        """A DET (candidate firing), SEEN (firing on throttled traffic) or ALERT (firing
        an alert brought forward) at ``at``."""
        pair, k = payload[0], payload[1]
        if payload[3] != self.gen[pair]:  # a later firing replaced this chain
            return
        c = self.c
        mem, src = int(c.pair_member[pair]), int(c.pair_source[pair])
        _, banned = in_force(self.run, self.world, src, mem, at, "ban")
        if kind == ALERT:
            if banned <= at and at >= self.banned_until[pair]:
                self.run.alert_firings += 1
                self._fire(pair, mem, src, at)
            return
        if banned > at:  # the events never reached the logs
            self._next(pair, self.cand.first(pair, banned))
            return
        if kind == DET:
            start, stop = in_force(self.run, self.world, src, mem, at, "throttle")
            if stop > at:
                self._through_throttle(pair, mem, k, start, stop)
                return
        self._fire(pair, mem, src, at)

    def alert(self, src: int, a: Alert) -> None:
        """Alert ``a`` on ``src``: schedule, at each member where it lowers the threshold,
        the event on which the detector now fires. Members the alert names as the
        reporter's correlated ones apply its ``maxretry``, the others
        ``others_maxretry`` (the same unless the treaty correlates)."""
        c, m, run = self.c, self.m, self.run
        lo = int(np.searchsorted(c.pair_source, src, side="left"))
        hi = int(np.searchsorted(c.pair_source, src, side="right"))
        extra = run.extra[-1]
        issued, ends = a.issued_at - T0, a.expires_at - T0
        named = {run.index[n] for n in a.correlated if n in run.index}
        for pair in range(lo, hi):
            mem = int(c.pair_member[pair])
            maxretry = a.maxretry if mem in named else (a.others_maxretry or a.maxretry)
            if maxretry >= int(m.maxretry[mem]) or not np.isfinite(extra[mem]):
                continue
            need = maxretry - 1
            t = m.after_outage(mem, issued + float(m.downlink_s[mem]) + float(extra[mem]))
            t = max(t, float(self.banned_until[pair]))
            first = int(c.pair_start_idx[pair])
            times = c.ev_time[first : first + int(c.pair_count[pair])]
            j = max(int(np.searchsorted(times, t, side="left")), need)
            while j < times.size and times[j] < ends:
                if times[j] - times[j - need] <= self.findtime:
                    self.run.push(
                        float(times[j]), ALERT, (pair, first + j, "", float(self.gen[pair]))
                    )
                    break
                j += 1

    def _fire(self, pair: int, mem: int, src: int, at: float) -> None:
        self.gen[pair] += 1
        self.banned_until[pair] = at + self.ban_s
        self.run.local_pair.append(pair)
        self.run.local_time.append(at)
        if self.reports[mem] and at >= self.reported.get(pair, -math.inf) + self.findtime:
            self.reported[pair] = at
            self.run.push(arrival_one(self.m, at, mem), REPORT, (mem, src, "", at))
        self._next(pair, self.cand.first(pair, at + self.ban_s))

    def _next(self, pair: int, k: int) -> None:
        if k >= 0:
            self.run.push(float(self.cand.time[k]), DET, (pair, k, "", float(self.gen[pair])))

    def _through_throttle(self, pair: int, mem: int, k: int, start: float, stop: float) -> None:
        """Candidate ``k`` falls under a throttle enforced from ``start`` to ``stop``: find
        where the detector fires on the events that got through, or hand over to the
        first candidate whose window is clear of the throttle."""
        c, cand = self.c, self.cand
        lo = int(c.pair_start_idx[pair])
        times = c.ev_time[lo : lo + int(c.pair_count[pair])]
        first = lo + int(np.searchsorted(times, cand.back[k], side="left"))
        after = cand.first(pair, stop)
        upto = int(cand.event[after]) if after >= 0 else lo + times.size
        idx = np.arange(first, upto, dtype=np.int64)
        t = c.ev_time[first:upto]
        seen = idx[(t < start) | (t >= stop) | passes_throttle(idx - lo, self.pass_every)]
        need = int(self.m.maxretry[mem]) - 1
        if seen.size > need:
            ts = c.ev_time[seen]
            fires = (ts[need:] - ts[: ts.size - need] <= self.findtime) & (
                seen[need:] >= cand.event[k]
            )
            hit = np.flatnonzero(fires)
            if hit.size:
                e = int(seen[need + hit[0]])
                self.run.push(float(c.ev_time[e]), SEEN, (pair, e, "", float(self.gen[pair])))
                return
        self._next(pair, after)
